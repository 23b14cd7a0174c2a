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
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from steper import layout  # noqa: E402
from steper.io import atomic_path  # noqa: E402
from steper.paper.definitions import ABILITIES, ABILITY_LABELS, PaperSettings  # noqa: E402
from steper.paper.results import Results, TrainLog  # noqa: E402
from steper.paper.stats import Statistics  # noqa: E402
from steper.paper.tables import ablation_methods  # noqa: E402
from steper.stepwise.kinds import KINDS  # noqa: E402

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


def fig1a_data_composition(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
    """Figure 1(a) from the real step-wise data: Vanilla-KD's final-step examples vs StepER's three kinds."""
    records = []
    for artifact in results.stepwise:
        variants = artifact.data.get("variants") if isinstance(artifact.data, Mapping) else None
        if not isinstance(variants, Mapping):
            continue
        for variant, name in (("final", "Vanilla-KD data"), ("first-mid-final", "StepER data")):
            kinds = (variants.get(variant) or {}).get("kinds") or {}
            for kind in KINDS:
                if kind in kinds:
                    data = f"{artifact.labels[0]}/{artifact.labels[1]}"
                    records.append({"data": data, "variant": name, "kind": KIND_LABELS[kind], "examples": kinds[kind]["examples"]})
    frame = pd.DataFrame(records, columns=["data", "variant", "kind", "examples"])
    groups = list(dict.fromkeys(frame["data"]))
    fig, axes = _grid(len(groups), ncols=3, size=(3.0, 2.6))
    if not groups:
        _empty(axes[0], "no step-wise statistics")
    colours = dict(zip(KIND_LABELS.values(), sns.color_palette("deep", len(KIND_LABELS))))
    for ax, group in zip(axes, groups):
        part = frame[frame["data"] == group]
        for position, variant in enumerate(("Vanilla-KD data", "StepER data")):
            bottom = 0.0
            for kind in KIND_LABELS.values():
                value = float(part[(part["variant"] == variant) & (part["kind"] == kind)]["examples"].sum())
                if value:
                    ax.bar(position, value, bottom=bottom, color=colours[kind], label=kind, width=0.6)
                    bottom += value
        ax.set_xticks([0, 1], ["Vanilla-KD", "StepER"])
        ax.set_title(group)
        ax.set_ylabel("training examples")
    _figure_legend(fig, axes, ncol=3)
    fig.suptitle("Figure 1(a): step-wise training data per kind, from the teacher's kept traces")
    return fig


def fig3_abilities(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
    methods = ablation_methods(settings)
    records = [
        {"dataset": dataset, "method": method.label, "ability": ABILITY_LABELS[ability], "score": value}
        for dataset in settings.datasets
        for method in methods
        for ability in ABILITIES
        if (value := results.value("ircot", dataset, layout.student_system(settings.main_student, method.name), f"abilities.{ability}")) is not None
    ]
    frame = pd.DataFrame(records, columns=["dataset", "method", "ability", "score"])
    datasets = [dataset for dataset in settings.datasets if dataset in set(frame["dataset"])]
    fig, axes = _grid(len(datasets))
    if not datasets:
        _empty(axes[0])
    hue_order = [method.label for method in methods]
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


def fig4_scaling(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
    students = settings.scaling_students or settings.students
    methods = settings.in_table("scaling")
    records = []
    for dataset in settings.datasets:
        for student in students:
            for method in methods:
                result = results.get("ircot", dataset, layout.student_system(student, method.name))
                interval = stats.interval(result, "acc")
                if result is None or interval is None or result.n_parameters is None:
                    continue
                records.append({"dataset": dataset, "method": method.label, "params": result.n_parameters, "acc": interval.estimate,
                                "low": interval.low, "high": interval.high})
    frame = pd.DataFrame(records, columns=["dataset", "method", "params", "acc", "low", "high"])
    datasets = [dataset for dataset in settings.datasets if dataset in set(frame["dataset"])]
    fig, axes = _grid(len(datasets))
    if not datasets:
        _empty(axes[0])
    for ax, dataset in zip(axes, datasets):
        part = frame[frame["dataset"] == dataset].sort_values("params")
        for colour, method in zip(sns.color_palette("deep", len(methods)), methods):
            line = part[part["method"] == method.label]
            ax.errorbar(line["params"], line["acc"], yerr=[line["acc"] - line["low"], line["high"] - line["acc"]],
                        marker="o", capsize=3, color=colour, label=method.label)
        teacher = results.value("ircot", dataset, layout.fewshot_system(settings.size_teacher), "acc")
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


def fig_sigma(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
    learned = {method.name for method in settings.method_list() if method.loss == "difficulty_aware"}
    logs = [(log_, _sigma_frame(log_)) for log_ in results.train_logs if log_.method in learned]
    logs = [(log_, frame) for log_, frame in logs if not frame.empty]
    fig, axes = _grid(len(logs), ncols=4, size=(3.2, 2.6))
    if not logs:
        _empty(axes[0], "no σ in any StepER train log")
    for ax, (log_, frame) in zip(axes, logs):
        kinds = [label for label in KIND_LABELS.values() if label in set(frame["kind"])]
        kinds += sorted(set(frame["kind"]) - set(kinds))
        sns.lineplot(data=frame, x="step", y="sigma", hue="kind", hue_order=kinds, ax=ax, errorbar=None)
        ax.set_title(f"{log_.framework}/{log_.dataset}/{log_.student}")
        # log scale: a kind's weight is 1/(2σ²), so equal gaps between lines are equal weight ratios
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("σ (log scale)")
    _figure_legend(fig, axes, ncol=3)
    fig.suptitle("Learned σ per step kind (StepER)")
    return fig


def fig_transfer(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
    """Cross-domain transfer: Acc with 95% intervals of each transfer-table method, per (trained on -> tested on)."""
    methods = settings.in_table("transfer")
    pairs = sorted({(framework, trained_on, dataset) for framework, trained_on, dataset, _ in results.transfer})
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(pairs) + 1.5), 3.4), layout="constrained")
    if not pairs or not methods:
        _empty(ax, "no transfer results")
    width = 0.8 / max(len(methods), 1)
    for offset, (colour, method) in enumerate(zip(sns.color_palette("deep", len(methods)), methods)):
        xs, ys, low, high = [], [], [], []
        for position, (framework, trained_on, dataset) in enumerate(pairs):
            interval = stats.interval(results.transfer.get((framework, trained_on, dataset, layout.student_system(settings.main_student, method.name))), "acc")
            if interval is not None:
                xs.append(position + (offset - (len(methods) - 1) / 2) * width)
                ys.append(interval.estimate)
                low.append(interval.estimate - interval.low)
                high.append(interval.high - interval.estimate)
        ax.bar(xs, ys, width=width, yerr=[low, high], capsize=3, color=colour, label=method.label)
    if pairs:
        ax.set_xticks(range(len(pairs)), [f"{t}\n→ {d}" + ("" if f == "ircot" else f" ({f})") for f, t, d in pairs], fontsize=7)
        ax.set_ylabel("Acc (%)")
        ax.legend(fontsize=7)
    ax.set_title(f"Cross-domain transfer ({settings.main_student}; 95% bootstrap intervals)")
    return fig


def fig_latency(results: Results, settings: PaperSettings, stats: Statistics) -> plt.Figure:
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


FIGURES: dict[str, Callable[[Results, PaperSettings, Statistics], plt.Figure]] = {
    "fig1a_data_composition": fig1a_data_composition,
    "fig3_abilities": fig3_abilities,
    "fig4_scaling": fig4_scaling,
    "fig_sigma": fig_sigma,
    "fig_latency": fig_latency,
    "fig_transfer": fig_transfer,
}


def render_figures(results: Results, settings: PaperSettings, stats: Statistics, directory: str | os.PathLike, names: list[str]) -> list[Path]:
    """The figures `names`, those the paper rule declares (`steper.paper.contents.run_contents`)."""
    written: list[Path] = []
    with plt.rc_context(RC):
        sns.set_theme(context="paper", style="whitegrid", rc=RC)
        for name in names:
            written += save_figure(FIGURES[name](results, settings, stats), Path(directory) / name)
            log.info("figure %s", name)
    return written
