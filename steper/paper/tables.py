"""The paper's tables, each built from result files and the settings that name the systems.

A row appears only when at least one of its cells has a result, so the same definitions render
the smoke, demo and paper tiers, each showing what it ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steper.distill.kinds import KINDS
from steper.io import InputError
from steper.paper.definitions import (
    ABILITIES,
    ABILITY_LABELS,
    ABLATION_METHODS,
    FEWSHOT,
    FRAMEWORK_LABELS,
    KD_METHODS,
    METHOD_LABELS,
    METRIC_LABELS,
    METRICS,
    PUBLISHED_TABLE1,
    PUBLISHED_TABLE2,
    WEIGHTING_LABELS,
    WEIGHTING_METHODS,
    PaperSettings,
    extra_methods,
    method_label,
    system_name,
)
from steper.paper.published import Published
from steper.paper.results import Artifact, Results
from steper.paper.table import Cell, Table


@dataclass(frozen=True)
class RowSpec:
    labels: tuple[str, ...]
    framework: str
    system: str


def _mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _complete_mean(values: Sequence[float | None]) -> float | None:
    """Average only when every dataset has a value: a partial average would not be comparable."""
    return None if not values or any(value is None for value in values) else sum(values) / len(values)  # type: ignore[arg-type]


def _keep(rows: list[list[Cell]], n_labels: int) -> list[list[Cell]]:
    return [row for row in rows if any(cell is not None for cell in row[n_labels:])]


def _metric_table(name: str, caption: str, results: Results, specs: list[RowSpec], datasets: list[str], label_columns: list[str], note: str = "") -> Table:
    rows: list[list[Cell]] = []
    for spec in specs:
        row: list[Cell] = list(spec.labels)
        for dataset in datasets:
            row.extend(results.value(spec.framework, dataset, spec.system, metric) for metric in METRICS)
        rows.append(row)
    return Table(
        name=name,
        caption=caption,
        label_columns=label_columns,
        columns=[METRIC_LABELS[metric] for metric in METRICS] * len(datasets),
        groups=[(dataset, len(METRICS)) for dataset in datasets],
        rows=_keep(rows, len(label_columns)),
        note=note,
    )


def _fewshot_models(settings: PaperSettings) -> list[tuple[str, str]]:
    """(model, role) of the in-context baselines; one entry when the teacher is the student's base."""
    models: list[tuple[str, str]] = []
    if settings.main_student:
        role = "teacher, student base" if settings.teacher == settings.main_student else "student base"
        models.append((settings.main_student, role))
    if settings.teacher and settings.teacher != settings.main_student:
        models.append((settings.teacher, "teacher"))
    return models


def table1_main(results: Results, settings: PaperSettings) -> Table:
    specs = [
        RowSpec((f"{model} ({role})", f"{FRAMEWORK_LABELS[framework]}, few-shot"), framework, system_name(model, FEWSHOT))
        for model, role in _fewshot_models(settings)
        for framework in settings.baselines
    ]
    specs += [
        RowSpec((settings.main_student, f"{method_label(method)} (IRCoT, zero-shot)"), "ircot", system_name(settings.main_student, method))
        for method in [*(m for m in KD_METHODS if m in settings.methods), *extra_methods(settings.methods)]
    ]
    return _metric_table(
        "table1_main",
        "Table 1: in-context baselines and distilled students (IRCoT); EM / F1 / Acc in %",
        results,
        specs,
        settings.datasets,
        ["Model", "Method"],
    )


def table3_selfask(results: Results, settings: PaperSettings) -> Table:
    specs = [
        RowSpec((f"{model} ({role})", "Self-Ask, few-shot"), "selfask", system_name(model, FEWSHOT))
        for model, role in reversed(_fewshot_models(settings))
    ]
    specs += [
        RowSpec((settings.main_student, f"{METHOD_LABELS[method]} (Self-Ask, zero-shot)"), "selfask", system_name(settings.main_student, method))
        for method in KD_METHODS
        if method in settings.methods
    ]
    return _metric_table(
        "table3_selfask", "Table 3: the Self-Ask framework; EM / F1 / Acc in %", results, specs, settings.datasets, ["Model", "Method"]
    )


def table2_loss_weighting(results: Results, settings: PaperSettings) -> Table:
    rows: list[list[Cell]] = []
    for method in WEIGHTING_METHODS:
        if method not in settings.methods:
            continue
        values = [results.value("ircot", dataset, system_name(settings.main_student, method), "acc") for dataset in settings.datasets]
        rows.append([WEIGHTING_LABELS[method], *values, _complete_mean(values)])
    return Table(
        name="table2_loss_weighting",
        caption=f"Table 2: loss weighting of the step kinds (first : mid : final), {settings.main_student}, IRCoT; Acc in %",
        label_columns=["Weighting"],
        columns=[*settings.datasets, "Avg."],
        rows=_keep(rows, 1),
    )


def table_ablation_steps(results: Results, settings: PaperSettings) -> Table:
    rows: list[list[Cell]] = []
    for method in ABLATION_METHODS:
        if method not in settings.methods:
            continue
        system = system_name(settings.main_student, method)
        accs = [results.value("ircot", dataset, system, "acc") for dataset in settings.datasets]
        abilities = [
            _mean([results.value("ircot", dataset, system, f"abilities.{name}") for dataset in settings.datasets])
            for name in (*ABILITIES, "supporting_recall")
        ]
        rows.append([METHOD_LABELS[method], *accs, *abilities])
    return Table(
        name="table_ablation_steps",
        caption=f"Step-data ablation, {settings.main_student}, IRCoT: Acc per dataset and ability scores (mean over datasets), in %",
        label_columns=["Training data"],
        columns=[*(f"{dataset} Acc" for dataset in settings.datasets), *(ABILITY_LABELS[name] for name in (*ABILITIES, "supporting_recall"))],
        rows=_keep(rows, 1),
        note="Ability scores are the automatic proxy defined in the report (not GPT-4 judgements).",
    )


def _parameters(results: Results, system: str, datasets: list[str]) -> int | None:
    for dataset in datasets:
        result = results.get("ircot", dataset, system)
        if result is not None and result.n_parameters is not None:
            return result.n_parameters
    return None


def _size_systems(settings: PaperSettings) -> list[tuple[str, str]]:
    """(model, method) of the size and cost comparison: few-shot teachers, then each student's KD runs."""
    systems = [(model, FEWSHOT) for model in dict.fromkeys(m for m in (settings.teacher, settings.size_teacher, settings.main_student) if m)]
    students = dict.fromkeys([*(settings.scaling_students or settings.students), settings.main_student])
    systems += [(student, method) for student in students if student for method in KD_METHODS if method in settings.methods]
    return systems


def table_scaling(results: Results, settings: PaperSettings) -> Table:
    """Figure 4 as numbers: Acc by model size, with the few-shot teachers for reference."""
    rows: list[list[Cell]] = []
    for model, method in _size_systems(settings):
        system = system_name(model, method)
        accs = [results.value("ircot", dataset, system, "acc") for dataset in settings.datasets]
        params = _parameters(results, system, settings.datasets)
        rows.append([model, method_label(method) if method != FEWSHOT else "few-shot", None if params is None else params / 1e6, *accs])
    return Table(
        name="table_scaling",
        caption="Accuracy (%) by model size, IRCoT (Figure 4)",
        label_columns=["Model", "Method"],
        columns=["Params (M)", *settings.datasets],
        rows=_keep(rows, 3),
        digits=1,
    )


def table_latency(results: Results, settings: PaperSettings) -> Table:
    """The latency figure as numbers: seconds and completion tokens per question next to Acc."""
    rows: list[list[Cell]] = []
    for model, method in _size_systems(settings):
        system = system_name(model, method)
        row: list[Cell] = [model, method_label(method) if method != FEWSHOT else "few-shot"]
        for dataset in settings.datasets:
            row += [results.value("ircot", dataset, system, metric) for metric in ("acc", "seconds_per_question", "completion_tokens")]
        rows.append(row)
    return Table(
        name="table_latency",
        caption="Inference cost vs accuracy, IRCoT: Acc (%), seconds and generated tokens per question",
        label_columns=["Model", "Method"],
        columns=["Acc", "s/q", "tok./q"] * len(settings.datasets),
        groups=[(dataset, 3) for dataset in settings.datasets],
        rows=_keep(rows, 2),
    )


def _field(artifact: Artifact, *path: str) -> Any:
    """A nested field of another stage's JSON; a missing one names the file and the field."""
    value: Any = artifact.data
    for depth, key in enumerate(path):
        if not isinstance(value, Mapping) or key not in value:
            raise InputError(artifact.path, "is missing", field=".".join(path[: depth + 1]))
        value = value[key]
    return value


def _mean_of(summary: Mapping[str, Any] | None) -> float | None:
    return None if not summary else summary.get("mean")


def table_retrieval(results: Results, settings: PaperSettings) -> Table:
    """Recall@k and all-found@k per dataset and backend (`steper retrieval evaluate`), with agreement."""
    datasets = [d for d in settings.datasets if d in results.retrieval] + sorted(set(results.retrieval) - set(settings.datasets))
    ks: list[str] = []
    for dataset in datasets:
        for scores in _field(results.retrieval[dataset], "backends").values():
            ks.extend(k for k in scores.get("recall", {}) if k not in ks)
    ks.sort(key=int)
    rows: list[list[Cell]] = []
    agreement_k: set[int] = set()
    for dataset in datasets:
        artifact = results.retrieval[dataset]
        agreement = artifact.data.get("agreement")
        overlap = None
        if agreement:
            overlap = 100.0 * float(_field(artifact, "agreement", "overlap"))
            agreement_k.add(int(_field(artifact, "agreement", "k")))
        for backend, scores in _field(artifact, "backends").items():
            recall, found = scores.get("recall", {}), scores.get("all_found", {})
            rows.append([dataset, backend, _field(artifact, "n_questions"), *(recall.get(k) for k in ks), *(found.get(k) for k in ks), overlap])
    agreement_label = f"Agreement@{agreement_k.pop()}" if len(agreement_k) == 1 else "Agreement"
    return Table(
        name="table_retrieval",
        caption="BM25 retrieval with the question as query: recall of the supporting passages (%) per backend",
        label_columns=["Dataset", "Backend"],
        columns=["Questions", *(f"R@{k}" for k in ks), *(f"All@{k}" for k in ks), agreement_label],
        rows=rows,
        note="R@k: mean fraction of a question's supporting passages in the top k; All@k: questions with all of them in the top k; "
        "Agreement: mean top-k overlap of the two backends' rankings (%).",
    )


def table_stepwise_stats(results: Results, settings: PaperSettings) -> Table:
    """Kept teacher traces and step-wise examples per variant and kind (`steper stepwise build`)."""
    rows: list[list[Cell]] = []
    for artifact in results.stepwise:
        pass_rate = _field(artifact, "pass_rate")
        for variant, data in _field(artifact, "variants").items():
            kinds = data.get("kinds", {})
            rows.append([
                *artifact.labels[:3],
                variant,
                _field(artifact, "traces"),
                _field(artifact, "kept"),
                None if pass_rate is None else 100.0 * pass_rate,
                *((kinds[kind]["examples"] if kind in kinds else None) for kind in KINDS),
                data.get("examples"),
                _mean_of(data.get("prompt_tokens")),
                _mean_of(data.get("completion_tokens")),
            ])
    return Table(
        name="table_stepwise_stats",
        caption="Step-wise distillation data: teacher traces kept by the filter and examples per kind",
        label_columns=["Framework", "Dataset", "Teacher", "Variant"],
        columns=["Traces", "Kept", "Kept (%)", *(f"{kind}" for kind in KINDS), "Examples", "Prompt tok.", "Completion tok."],
        rows=rows,
        note="Token columns are means over the variant's examples.",
    )


def table_teacher(results: Results, settings: PaperSettings) -> Table:
    """The teacher's few-shot traces on the training questions (the trace summaries)."""
    rows: list[list[Cell]] = []
    for artifact in results.summaries:
        n = _field(artifact, "n")
        accuracy = _field(artifact, "accuracy")
        per_question = (lambda total: None if total is None or not n else total / n)
        rows.append([
            *artifact.labels[:4],
            n,
            *(accuracy.get(metric) for metric in METRICS),
            artifact.data.get("mean_steps"),
            per_question(artifact.data.get("prompt_tokens")),
            per_question(artifact.data.get("completion_tokens")),
            artifact.data.get("seconds_per_question"),
        ])
    return Table(
        name="table_teacher",
        caption="Teacher traces: few-shot accuracy (%) of the teacher on the questions it was run on, chain length and cost",
        label_columns=["Framework", "Dataset", "Model", "Split"],
        columns=["n", "EM", "F1", "Acc", "Steps", "Prompt tok./q", "Completion tok./q", "s/q"],
        rows=rows,
    )


def table_published(results: Results, settings: PaperSettings, published: Published) -> Table:
    """Our numbers next to the published ones; comparable only when the setup is the paper's."""
    rows: list[list[Cell]] = []
    for table_key, mapping, metric_of in (
        ("table1_main_ircot_llama8b", PUBLISHED_TABLE1, None),
        ("table2_loss_weighting", PUBLISHED_TABLE2, "acc"),
    ):
        for row_key, method in mapping.items():
            for dataset, cells in published.rows(table_key, row_key).items():
                metric_cells = cells if metric_of is None else {metric_of: cells}
                for metric, expected in metric_cells.items():
                    ours = results.value("ircot", dataset, system_name(settings.main_student, method), metric)
                    delta = None if ours is None else ours - expected
                    rows.append([table_key.split("_")[0], METHOD_LABELS[method], dataset, METRIC_LABELS.get(metric, metric), expected, ours, delta])
    return Table(
        name="table_published",
        caption=f"Published numbers (Llama-3.1-8B student, IRCoT) vs ours ({settings.main_student})",
        label_columns=["Table", "Method", "Dataset", "Metric"],
        columns=["Published", "Ours", "Δ"],
        rows=rows,
        note=f"Published numbers: reliability {published.reliability} ({published.provenance}). "
        "They are comparable to ours only in the paper tier (same models, data and protocol).",
    )


RESULT_TABLES = {
    "table1_main": table1_main,
    "table2_loss_weighting": table2_loss_weighting,
    "table3_selfask": table3_selfask,
    "table_ablation_steps": table_ablation_steps,
    "table_retrieval": table_retrieval,
    "table_stepwise_stats": table_stepwise_stats,
    "table_teacher": table_teacher,
    "table_scaling": table_scaling,
    "table_latency": table_latency,
}
