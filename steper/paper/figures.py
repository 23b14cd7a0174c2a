"""The paper's figures (seaborn on matplotlib's Agg backend), each saved as PDF and PNG.

Determinism: fixed rcParams and explicit hue orders, no dates in the PDF metadata, so the same
results give the same files. A figure without data still gets written (with a "no results"
note) because the workflow expects every target to exist.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from steper.io import atomic_path  # noqa: E402
from steper.paper.definitions import (  # noqa: E402
    ABILITIES,
    ABILITY_LABELS,
    ABLATION_METHODS,
    FEWSHOT,
    KD_METHODS,
    METHOD_LABELS,
    PaperSettings,
    system_name,
)
from steper.paper.results import Results, TrainLog  # noqa: E402

log = logging.getLogger(__name__)
# PDF font subsetting logs every glyph at INFO; it says nothing about our results.
logging.getLogger("fontTools").setLevel(logging.WARNING)

RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "svg.hashsalt": "steper",
    "path.simplify": False,
}
KIND_LABELS = {"first": "init (first)", "mid": "exp (mid)", "final": "agg (final)"}


def save_figure(fig: plt.Figure, stem: Path) -> list[Path]:
    """Write stem.pdf and stem.png atomically, with no creation date in the metadata."""
    paths = []
    for fmt, metadata in (("pdf", {"CreationDate": None, "ModDate": None}), ("png", {"Software": None})):
        path = stem.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def _empty(ax: plt.Axes, message: str = "no results") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _grid(n: int, ncols: int = 3, size: tuple[float, float] = (3.4, 2.8)) -> tuple[plt.Figure, list[plt.Axes]]:
    n = max(n, 1)
    cols = min(n, ncols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _log_axis(ax: plt.Axes, unit: Callable[[float], str]) -> None:
    """Log x axis with readable major labels and no overlapping minor ones."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: unit(value)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _count(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _figure_legend(fig: plt.Figure, axes: list[plt.Axes], ncol: int = 2) -> None:
    """One legend under the whole figure (the panels share their hues), placed by constrained layout."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
        if ax.get_legend():
            ax.get_legend().remove()
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=ncol, frameon=False)


def fig3_abilities(results: Results, settings: PaperSettings) -> plt.Figure:
    methods = [method for method in ABLATION_METHODS if method in settings.methods]
    records = [
        {"dataset": dataset, "method": METHOD_LABELS[method], "ability": ABILITY_LABELS[ability], "score": value}
        for dataset in settings.datasets
        for method in methods
        for ability in ABILITIES
        if (value := results.value("ircot", dataset, system_name(settings.main_student, method), f"abilities.{ability}")) is not None
    ]
    frame = pd.DataFrame(records, columns=["dataset", "method", "ability", "score"])
    datasets = [dataset for dataset in settings.datasets if dataset in set(frame["dataset"])]
    fig, axes = _grid(len(datasets))
    if not datasets:
        _empty(axes[0])
    hue_order = [METHOD_LABELS[method] for method in methods]
    for ax, dataset in zip(axes, datasets):
        sns.barplot(
            data=frame[frame["dataset"] == dataset], x="ability", y="score", hue="method",
            order=[ABILITY_LABELS[a] for a in ABILITIES], hue_order=hue_order, ax=ax, errorbar=None,
        )
        ax.set_title(dataset)
        ax.set_ylim(0, 100)
        ax.set_xlabel("")
        ax.set_ylabel("ability score (%)")
    _figure_legend(fig, axes)
    fig.suptitle(f"Ability scores by training data ({settings.main_student}, IRCoT; automatic proxy)")
    return fig


def fig4_scaling(results: Results, settings: PaperSettings) -> plt.Figure:
    students = settings.scaling_students or settings.students
    methods = [method for method in KD_METHODS if method in settings.methods]
    records = []
    for dataset in settings.datasets:
        for student in students:
            for method in methods:
                result = results.get("ircot", dataset, system_name(student, method))
                if result is None or result.metric("acc") is None or result.n_parameters is None:
                    continue
                records.append({"dataset": dataset, "method": METHOD_LABELS[method], "params": result.n_parameters, "acc": result.metric("acc")})
    frame = pd.DataFrame(records, columns=["dataset", "method", "params", "acc"])
    datasets = [dataset for dataset in settings.datasets if dataset in set(frame["dataset"])]
    fig, axes = _grid(len(datasets))
    if not datasets:
        _empty(axes[0])
    for ax, dataset in zip(axes, datasets):
        sns.lineplot(
            data=frame[frame["dataset"] == dataset].sort_values("params"), x="params", y="acc", hue="method",
            hue_order=[METHOD_LABELS[m] for m in methods], marker="o", ax=ax, errorbar=None,
        )
        teacher = results.value("ircot", dataset, system_name(settings.size_teacher, FEWSHOT), "acc")
        if teacher is not None:
            ax.axhline(teacher, color="black", linestyle="--", linewidth=1, label=f"teacher {settings.size_teacher}")
        _log_axis(ax, _count)
        ax.set_title(dataset)
        ax.set_xlabel("student parameters")
        ax.set_ylabel("Acc (%)")
    _figure_legend(fig, axes, ncol=3)
    fig.suptitle("Accuracy vs student size (IRCoT)")
    return fig


def sigma_points(row: Mapping[str, Any]) -> dict[str, float]:
    """σ per kind from one train-log line.

    Accepted: {"sigma": {kind: σ}} (or "sigmas"), or {"log_var": {kind: log σ²}} (σ = e^(s/2)).
    """
    for key in ("sigma", "sigmas"):
        if isinstance(row.get(key), Mapping):
            return {kind: float(value) for kind, value in row[key].items() if isinstance(value, (int, float))}
    if isinstance(row.get("log_var"), Mapping):
        return {kind: math.exp(0.5 * float(value)) for kind, value in row["log_var"].items() if isinstance(value, (int, float))}
    return {}


def _sigma_frame(log_: TrainLog) -> pd.DataFrame:
    records = []
    for index, row in enumerate(log_.rows):
        step = row.get("step", row.get("global_step", index))
        for kind, sigma in sigma_points(row).items():
            records.append({"step": step, "kind": KIND_LABELS.get(kind, kind), "sigma": sigma})
    return pd.DataFrame(records, columns=["step", "kind", "sigma"])


def fig_sigma(results: Results, settings: PaperSettings) -> plt.Figure:
    logs = [(log_, _sigma_frame(log_)) for log_ in results.train_logs if log_.method == "steper"]
    logs = [(log_, frame) for log_, frame in logs if not frame.empty]
    fig, axes = _grid(len(logs), ncols=4, size=(3.2, 2.6))
    if not logs:
        _empty(axes[0], "no σ in any StepER train log")
    for ax, (log_, frame) in zip(axes, logs):
        kinds = [label for label in KIND_LABELS.values() if label in set(frame["kind"])]
        kinds += sorted(set(frame["kind"]) - set(kinds))
        sns.lineplot(data=frame, x="step", y="sigma", hue="kind", hue_order=kinds, ax=ax, errorbar=None)
        ax.set_title(f"{log_.framework}/{log_.dataset}/{log_.student}")
        ax.set_ylabel("σ")
    _figure_legend(fig, axes, ncol=3)
    fig.suptitle("Learned difficulty σ per step kind during StepER training")
    return fig


def fig_latency(results: Results, settings: PaperSettings) -> plt.Figure:
    records = [
        {"system": result.system, "dataset": result.dataset, "seconds": result.metric("seconds_per_question"), "acc": result.metric("acc")}
        for (framework, _, _), result in sorted(results.evals.items())
        if framework == "ircot" and result.dataset in settings.datasets
        and result.metric("seconds_per_question") is not None and result.metric("acc") is not None
    ]
    frame = pd.DataFrame(records, columns=["system", "dataset", "seconds", "acc"])
    fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    if frame.empty:
        _empty(ax)
    else:
        sns.scatterplot(
            data=frame, x="seconds", y="acc", hue="system", style="dataset",
            hue_order=sorted(set(frame["system"])), style_order=[d for d in settings.datasets if d in set(frame["dataset"])], ax=ax, s=50,
        )
        _log_axis(ax, lambda value: f"{value:g}")
        ax.set_xlabel("seconds per question")
        ax.set_ylabel("Acc (%)")
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title("Latency vs accuracy (IRCoT)")
    return fig


FIGURES: dict[str, Callable[[Results, PaperSettings], plt.Figure]] = {
    "fig3_abilities": fig3_abilities,
    "fig4_scaling": fig4_scaling,
    "fig_sigma": fig_sigma,
    "fig_latency": fig_latency,
}


def render_figures(results: Results, settings: PaperSettings, directory: str | os.PathLike) -> list[Path]:
    written: list[Path] = []
    with plt.rc_context(RC):
        sns.set_theme(context="paper", style="whitegrid", rc=RC)
        for name, make in FIGURES.items():
            written += save_figure(make(results, settings), Path(directory) / name)
            log.info("figure %s", name)
    return written
