"""The paper's tables, each built from the declared result files and the settings that name the systems.

A row appears only when at least one of its cells has a result, so the same definitions render
the smoke, demo and paper tiers, each showing what it ran. Every EM/F1/Acc cell is an estimate with
its bootstrap interval (`Statistics`); which methods a table shows is the config's `tables` list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steper import layout
from steper.evaluate.abilities import appears
from steper.evaluate.aggregate import read_traces
from steper.io import InputError
from steper.names import VARIANTS
from steper.paper.definitions import (
    ABILITIES,
    ABILITY_LABELS,
    FRAMEWORK_LABELS,
    METRIC_LABELS,
    METRICS,
    Method,
    PaperSettings,
)
from steper.paper.published import PUBLISHED_TABLE1, PUBLISHED_TABLE2, Published
from steper.paper.results import Artifact, EvalResult, Results
from steper.paper.stats import Statistics, estimate, seed_values, spread
from steper.paper.training import NON_UNIFORM_RATIO, budget, learned_weights
from steper.paper.typeset import Cell, Table
from steper.stepwise.kinds import KINDS

CI_NOTE = "Cells: mean over questions [95% percentile-bootstrap interval over questions]."


@dataclass(frozen=True)
class RowSpec:
    labels: tuple[str, ...]
    framework: str
    system: str


def _keep(rows: list[list[Cell]], n_labels: int) -> list[list[Cell]]:
    return [row for row in rows if any(cell is not None for cell in row[n_labels:])]


def ci_note(stats: Statistics) -> str:
    return f"{CI_NOTE[:-1]}, {stats.settings.resamples} resamples, seed {stats.settings.seed}; level {stats.settings.level:g}."


def _metric_table(name: str, caption: str, results: Results, stats: Statistics, specs: list[RowSpec], datasets: list[str], label_columns: list[str]) -> Table:
    rows: list[list[Cell]] = []
    for spec in specs:
        row: list[Cell] = list(spec.labels)
        for dataset in datasets:
            result = results.get(spec.framework, dataset, spec.system)
            row.extend(stats.cell(result, metric) for metric in METRICS)
        rows.append(row)
    return Table(
        name=name,
        caption=caption,
        label_columns=label_columns,
        columns=[METRIC_LABELS[metric] for metric in METRICS] * len(datasets),
        groups=[(dataset, len(METRICS)) for dataset in datasets],
        rows=_keep(rows, len(label_columns)),
        note=ci_note(stats),
        digits=1,
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


def _not_rerun_rows(published: Published, datasets: list[str]) -> tuple[list[list[Cell]], str]:
    """Table 1's cited KD baselines: their published numbers where known, marked as not re-run."""
    source, entries = published.not_rerun()
    rows: list[list[Cell]] = []
    for entry in entries:
        numbers = entry.get("numbers") or {}
        row: list[Cell] = ["(published)", f"{entry['label']} ({entry['group']}; not re-run)"]
        row += [(numbers.get(dataset) or {}).get(metric) for dataset in datasets for metric in METRICS]
        rows.append(row)
    cited = "; ".join(f"{entry['label']}: {entry['cites']}" for entry in entries)
    return rows, f"Rows marked 'not re-run' are cited from {source} ({cited}); – = a number our notes do not hold."


def table1_main(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    specs = [
        RowSpec((f"{model} ({role})", f"{FRAMEWORK_LABELS[framework]}, few-shot"), framework, layout.fewshot_system(model))
        for model, role in _fewshot_models(settings)
        for framework in settings.baselines
    ]
    specs += [
        RowSpec((settings.main_student, f"{method.label} (IRCoT, zero-shot)"), "ircot", layout.student_system(settings.main_student, method.name))
        for method in settings.in_table("main")
    ]
    table = _metric_table(
        "table1_main", "Table 1: in-context baselines and distilled students (IRCoT); EM / F1 / Acc in %",
        results, stats, specs, settings.datasets, ["Model", "Method"],
    )
    cited, note = _not_rerun_rows(published, settings.datasets)
    table.rows += cited
    table.note = f"{table.note} {note}"
    return table


def table3_selfask(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    specs = [
        RowSpec((f"{model} ({role})", "Self-Ask, few-shot"), "selfask", layout.fewshot_system(model))
        for model, role in reversed(_fewshot_models(settings))
    ]
    specs += [
        RowSpec((settings.main_student, f"{method.label} (Self-Ask, zero-shot)"), "selfask", layout.student_system(settings.main_student, method.name))
        for method in settings.in_table("main")
    ]
    return _metric_table(
        "table3_selfask", "Table 3: the Self-Ask framework; EM / F1 / Acc in %", results, stats, specs, settings.datasets, ["Model", "Method"]
    )


def _acc_with_average(results: Results, settings: PaperSettings, stats: Statistics, system: str) -> list[Cell]:
    found = [results.get("ircot", dataset, system) for dataset in settings.datasets]
    return [*(stats.cell(result, "acc") for result in found), estimate(stats.average(found, "acc"))]


def table2_loss_weighting(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    rows = [
        [method.label, *_acc_with_average(results, settings, stats, layout.student_system(settings.main_student, method.name))]
        for method in settings.in_table("weighting")
    ]
    return Table(
        name="table2_loss_weighting",
        caption=f"Table 2: loss weighting of the step kinds (first : mid : final), {settings.main_student}, IRCoT; Acc in %",
        label_columns=["Weighting"],
        columns=[*settings.datasets, "Avg."],
        rows=_keep(rows, 1),
        note=ci_note(stats) + " Avg.: mean over datasets (stratified bootstrap), only when every dataset has a result.",
        digits=1,
    )


def ablation_methods(settings: PaperSettings) -> list[Method]:
    """The step-data ablation in the order it adds step kinds; at equal data, fixed weights before learned ones."""
    methods = [method for method in settings.in_table("ablation") if method.data in VARIANTS]
    return sorted(methods, key=lambda method: (VARIANTS.index(method.data), method.loss == "difficulty_aware"))


def table_ablation_steps(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """An ability column averages, for every row, the same datasets (those where every row that ran
    has the score): rows averaged over different datasets would compare different questions."""
    found = {
        method.name: [results.get("ircot", dataset, layout.student_system(settings.main_student, method.name)) for dataset in settings.datasets]
        for method in ablation_methods(settings)
    }
    ran = [row for row in found.values() if any(result is not None for result in row)]
    names = (*ABILITIES, "supporting_recall")
    shared = {
        name: [i for i in range(len(settings.datasets)) if all(stats.interval(row[i], name) is not None for row in ran)] for name in names
    }
    rows: list[list[Cell]] = [
        [method.label, *(stats.cell(result, "acc") for result in found[method.name]),
         *(estimate(stats.average([found[method.name][i] for i in shared[name]], name)) for name in names)]
        for method in ablation_methods(settings)
    ]
    averaged = "; ".join(f"{ABILITY_LABELS[name]} {', '.join(settings.datasets[i] for i in shared[name]) or '–'}" for name in names)
    return Table(
        name="table_ablation_steps",
        caption=f"Step-data ablation, {settings.main_student}, IRCoT: Acc per dataset and ability scores (mean over datasets), in %",
        label_columns=["Training data"],
        columns=[*(f"{dataset} Acc" for dataset in settings.datasets), *(ABILITY_LABELS[name] for name in names)],
        rows=_keep(rows, 1),
        note=ci_note(stats) + " Ability scores are the automatic proxy defined in the report (not GPT-4 judgements), each averaged "
        f"over the datasets where every row has it, so a column compares the rows on the same questions ({averaged}).",
        digits=1,
    )


ERROR_KINDS = (
    "first hop missed", "middle hop missed", "final hop wrong, evidence missing", "final hop wrong, evidence retrieved", "unclassified",
)


def error_kind(row: Mapping[str, float]) -> str:
    """Where one wrong answer went wrong: the first gold hop its chain did not reach, from the question's
    ability proxies (initialization: the first step reached hop 1; aggregation is defined only when
    every intermediate hop was reached), and at the final hop whether a supporting passage was never
    retrieved (a retrieval miss) or all were and the answer is still wrong (a reading miss)."""
    if row.get("initialization") is None:
        return ERROR_KINDS[4]
    if row["initialization"] == 0:
        return ERROR_KINDS[0]
    if row.get("aggregation") is None:
        return ERROR_KINDS[1]
    recall = row.get("supporting_recall")
    if recall is None:
        return ERROR_KINDS[4]
    return ERROR_KINDS[3] if recall == 1 else ERROR_KINDS[2]


@dataclass(frozen=True)
class ErrorCounts:
    """A system's test questions, its wrong answers, and how many of those are of each of ERROR_KINDS."""

    questions: int
    wrong: int
    kinds: tuple[int, ...]


def error_counts(result: EvalResult) -> ErrorCounts:
    acc = result.scores("acc")
    rows = {str(row["id"]): row for row in result.data["per_question"]}
    kinds = [error_kind(rows[qid]) for qid, right in acc.items() if right == 0]
    return ErrorCounts(len(acc), len(kinds), tuple(kinds.count(kind) for kind in ERROR_KINDS))


def table_errors(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Every distilled student's wrong answers by error kind: what the traces show where a claim does not hold."""
    table = Table(
        "table_errors",
        f"Where wrong answers go wrong: each wrong answer (Acc 0) of a distilled {settings.main_student} student, by the first "
        "gold hop its chain did not reach",
        ["Framework", "Dataset", "Method"],
        ["Questions", "Wrong", *(kind.capitalize() for kind in ERROR_KINDS)],
        note="From each question's ability proxies (definitions above): first hop missed = the first step's output lacks the "
             "first hop's answer; middle hop missed = it has it, but a later intermediate answer appears in no step (3+ hops); "
             "final hop wrong = every intermediate answer appears and the answer is wrong, with some gold supporting passage "
             "never retrieved (evidence missing) or all of them retrieved (evidence retrieved: a reading error); unclassified = "
             "no gold hops or no gold supporting passages. Counts of test questions, the run's seed.",
    )
    for framework in settings.frameworks:
        for dataset in settings.datasets:
            for method in settings.method_list():
                result = results.get(framework, dataset, layout.student_system(settings.main_student, method.name))
                if result is None:
                    continue
                errors = error_counts(result)
                table.rows.append([FRAMEWORK_LABELS[framework], dataset, method.label, errors.questions, errors.wrong, *errors.kinds])
    return table


def _parameters(results: Results, system: str, datasets: list[str]) -> int | None:
    for dataset in datasets:
        result = results.get("ircot", dataset, system)
        if result is not None and result.n_parameters is not None:
            return result.n_parameters
    return None


def size_systems(settings: PaperSettings) -> list[tuple[str, Method | None]]:
    """(model, method or None for few-shot) of the size and cost comparison."""
    systems: list[tuple[str, Method | None]] = [
        (model, None) for model in dict.fromkeys(m for m in (settings.teacher, settings.size_teacher, settings.main_student) if m)
    ]
    students = dict.fromkeys([*(settings.scaling_students or settings.students), settings.main_student])
    systems += [(student, method) for student in students if student for method in settings.in_table("scaling")]
    return systems


def _system(model: str, method: Method | None) -> str:
    return layout.fewshot_system(model) if method is None else layout.student_system(model, method.name)


def table_scaling(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Figure 4 as numbers: Acc by model size, with the few-shot teachers for reference."""
    rows: list[list[Cell]] = []
    for model, method in size_systems(settings):
        system = _system(model, method)
        accs = [stats.cell(results.get("ircot", dataset, system), "acc") for dataset in settings.datasets]
        params = _parameters(results, system, settings.datasets)
        rows.append([model, "few-shot" if method is None else method.label, None if params is None else params / 1e6, *accs])
    return Table(
        name="table_scaling",
        caption="Accuracy (%) by model size, IRCoT (Figure 4)",
        label_columns=["Model", "Method"],
        columns=["Params (M)", *settings.datasets],
        rows=_keep(rows, 3),
        note=ci_note(stats),
        digits=1,
    )


def table_latency(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """The latency figure as numbers: seconds and completion tokens per question next to Acc."""
    rows: list[list[Cell]] = []
    for model, method in size_systems(settings):
        system = _system(model, method)
        row: list[Cell] = [model, "few-shot" if method is None else method.label]
        for dataset in settings.datasets:
            result = results.get("ircot", dataset, system)
            row += [stats.cell(result, "acc"), *(None if result is None else result.metric(m) for m in ("seconds_per_question", "completion_tokens"))]
        rows.append(row)
    return Table(
        name="table_latency",
        caption="Inference cost vs accuracy, IRCoT: Acc (%), seconds and generated tokens per question",
        label_columns=["Model", "Method"],
        columns=["Acc", "s/q", "tok./q"] * len(settings.datasets),
        groups=[(dataset, 3) for dataset in settings.datasets],
        rows=_keep(rows, 2),
        note=ci_note(stats),
        digits=1,
    )


def table_transfer(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Cross-domain transfer: students trained on one dataset, evaluated on each (in-domain from the main evaluation)."""
    rows: list[list[Cell]] = []
    for framework in settings.frameworks:
        for trained_on in settings.datasets:
            for method in settings.in_table("transfer"):
                system = layout.student_system(settings.main_student, method.name)
                row: list[Cell] = [FRAMEWORK_LABELS[framework], trained_on, method.label]
                for dataset in settings.datasets:
                    if dataset == trained_on:
                        result = results.get(framework, dataset, system)
                    else:
                        result = results.transfer.get((framework, trained_on, dataset, system))
                    row.append(stats.cell(result, "acc"))
                rows.append(row)
    kept = _keep(rows, 3)
    # a row of in-domain cells only is not a transfer result
    kept = [row for row in kept if any(cell is not None for dataset, cell in zip(settings.datasets, row[3:]) if dataset != row[1])]
    return Table(
        name="table_transfer",
        caption=f"Cross-domain transfer, {settings.main_student}: Acc (%) on each test set of students trained on one dataset",
        label_columns=["Framework", "Trained on", "Method"],
        columns=[f"{dataset} Acc" for dataset in settings.datasets],
        rows=kept,
        note=ci_note(stats) + " The cell of the training dataset is the in-domain result.",
        digits=1,
    )


SUBQUESTION_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("both", "Question and all sub-questions right"),
    ("question_only", "Question right, a sub-question wrong"),
    ("subquestions_only", "Sub-questions right, question wrong"),
    ("neither", "Question and a sub-question wrong"),
)


def subquestion_outcomes(question: Mapping[str, float], subquestions: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per multi-hop question with every sub-question answered: 0/1 indicator of each outcome (Acc).

    Sub-question ids are '{question id}#{hop}' (steper.data.subqa); a question whose sub-questions
    were not all evaluated is left out.
    """
    grouped: dict[str, list[float]] = {}
    for sub_id, value in subquestions.items():
        parent, _, _ = sub_id.rpartition("#")
        grouped.setdefault(parent, []).append(value)
    outcomes: dict[str, dict[str, float]] = {}
    for parent, values in sorted(grouped.items()):
        if parent not in question:
            continue
        right, subs = question[parent] == 1.0, all(value == 1.0 for value in values)
        kind = "both" if right and subs else "question_only" if right else "subquestions_only" if subs else "neither"
        outcomes[parent] = {name: float(name == kind) for name, _ in SUBQUESTION_OUTCOMES}
    return outcomes


@dataclass(frozen=True)
class PassedOver:
    """A system's wrong answers, and how many of them a step before the chain's last had already found."""

    wrong: int
    passed_over: int


def passed_over(result: EvalResult) -> PassedOver | None:
    """Wrong answers whose gold answer (or an alias) appears in a step output before the last one: the
    chain reached the answer and went on a hop too far. This is how a student taught the dataset's
    hop count fails a one-hop sub-question. None when the manifest gives no predictions file."""
    if result.predictions is None:
        return None
    wrong = [qid for qid, right in result.scores("acc").items() if right == 0]
    traces = {trace["id"]: trace for trace in read_traces(result.predictions)}
    missing = [qid for qid in wrong if qid not in traces]
    if missing:
        raise InputError(result.predictions, f"has no prediction for question '{missing[0]}'", field="id")

    def found_early(trace: Mapping[str, Any]) -> bool:
        steps = sorted(trace["steps"], key=lambda step: step.get("step", 0))[:-1]
        return any(appears(str(answer), str(step.get("output") or "")) for answer in trace["answers"] for step in steps)

    return PassedOver(len(wrong), sum(found_early(traces[qid]) for qid in wrong))


def table4_subquestions(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Table 4: is a right answer backed by right answers to the question's sub-questions?"""
    rows: list[list[Cell]] = []
    for framework, dataset, system in sorted(results.subquestions):
        model, method = layout.split_system(system)
        main = results.get(framework, dataset, system)
        if main is None:
            raise InputError(results.subquestions[(framework, dataset, system)].path, f"has no main evaluation of {system} on {dataset} to pair with")
        sub = results.subquestions[(framework, dataset, system)]
        outcomes = subquestion_outcomes(main.scores("acc"), sub.scores("acc"))
        row: list[Cell] = [FRAMEWORK_LABELS[framework], dataset, settings.label(method), len(outcomes)]
        row += [estimate(stats.proportion([o[name] for o in outcomes.values()])) for name, _ in SUBQUESTION_OUTCOMES]
        row.append(stats.cell(sub, "acc"))
        over = passed_over(sub)
        row += [None, None] if over is None else [over.wrong, over.passed_over]
        rows.append(row)
    return Table(
        name="table4_subquestions",
        caption=f"Table 4: rationale validity on sub-questions, {settings.main_student}: share (%) of multi-hop questions by outcome (Acc)",
        label_columns=["Framework", "Dataset", "Method"],
        columns=["Questions", *(label for _, label in SUBQUESTION_OUTCOMES), "Sub-question Acc", "Sub-questions wrong", "Passed over"],
        rows=rows,
        note=ci_note(stats) + " Each sub-question is asked alone, zero-shot, with the same framework and retriever. "
        "Sub-questions: the gold decompositions' hop questions (toy world) or SubQA (Tang et al., EACL 2021) for HotpotQA. "
        "Passed over: wrong sub-answers whose gold answer a step before the chain's last already wrote (whole-token match "
        "after normalisation), so the chain found it and went on; – without the predictions file.",
        digits=1,
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


def table_retrieval(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
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


def table_stepwise_stats(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Kept teacher traces and step-wise examples per variant and kind (`steper stepwise build`)."""
    rows: list[list[Cell]] = []
    for artifact in results.stepwise:
        pass_rate = _field(artifact, "pass_rate")
        for variant, data in _field(artifact, "variants").items():
            kinds = data.get("kinds", {})
            rows.append([
                *artifact.labels,
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


def _count_cell(stats: Statistics, percent: Any, n: int) -> Cell:
    """EM or Acc of n questions from its percentage: 0/1 scores, so the bootstrap needs only the count right."""
    if not isinstance(percent, (int, float)) or not n:
        return None
    right = round(percent * n / 100.0)
    return estimate(stats.proportion([1.0] * right + [0.0] * (n - right)))


def _per_question(total: float | None, n: int | None) -> float | None:
    return None if total is None or not n else total / n


def table_teacher(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """The teacher's few-shot traces on the training questions (the trace summaries)."""
    rows: list[list[Cell]] = []
    for artifact in results.summaries:
        n = _field(artifact, "n")
        accuracy = _field(artifact, "accuracy")
        rows.append([
            *artifact.labels,
            n,
            _count_cell(stats, accuracy.get("em"), n),
            accuracy.get("f1"),
            _count_cell(stats, accuracy.get("acc"), n),
            artifact.data.get("mean_steps"),
            _per_question(artifact.data.get("prompt_tokens"), n),
            _per_question(artifact.data.get("completion_tokens"), n),
            artifact.data.get("seconds_per_question"),
        ])
    return Table(
        name="table_teacher",
        caption="Teacher traces: accuracy (%) of the teacher (with its configured shots) on the questions it was run on, chain length and cost",
        label_columns=["Framework", "Dataset", "Model", "Split"],
        columns=["n", "EM", "F1", "Acc", "Steps", "Prompt tok./q", "Completion tok./q", "s/q"],
        rows=rows,
        note=ci_note(stats) + " EM and Acc are 0/1 per question, so their intervals follow from the summary's counts; "
        "the summary keeps no per-question F1, so F1 has none.",
        digits=1,
    )


def table_published(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
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
                    ours = stats.interval(results.get("ircot", dataset, layout.student_system(settings.main_student, method)), metric)
                    delta = None if ours is None else ours.estimate - expected
                    rows.append([table_key.split("_")[0], settings.label(method), dataset, METRIC_LABELS.get(metric, metric), expected, estimate(ours), delta])
    return Table(
        name="table_published",
        caption=f"Published numbers (Llama-3.1-8B student, IRCoT) vs ours ({settings.main_student})",
        label_columns=["Table", "Method", "Dataset", "Metric"],
        columns=["Published", "Ours", "Δ"],
        rows=rows,
        note=f"Published numbers: reliability {published.reliability} ({published.provenance}). "
        "They are comparable to ours only in the paper tier (same models, data and protocol). " + ci_note(stats),
        digits=1,
    )


def _stage(path: str) -> str:
    """The stage of a benchmark path: its first component ('train/ircot/...' -> 'train')."""
    return path.split("/", 1)[0]


def table_cost(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Where the time goes: Snakemake's benchmark files summed per stage."""
    stages: dict[str, list[Any]] = {}
    for bench in results.benchmarks:
        stages.setdefault(_stage(bench.stage), []).append(bench)
    total = sum(bench.seconds for bench in results.benchmarks)
    rows: list[list[Cell]] = []
    for stage, benches in sorted(stages.items(), key=lambda item: -sum(b.seconds for b in item[1])):
        wall = sum(b.seconds for b in benches)
        cpu = [b.cpu_seconds for b in benches if b.cpu_seconds is not None]
        rss = [b.max_rss_mb for b in benches if b.max_rss_mb is not None]
        rows.append([stage, len(benches), wall / 60.0, sum(cpu) / 60.0 if cpu else None, max(rss) if rss else None, 100.0 * wall / total if total else None])
    if rows:
        rows.append(["total", len(results.benchmarks), total / 60.0, None, None, 100.0])
    return Table(
        name="table_cost",
        caption="Cost per stage (Snakemake benchmark files): jobs, wall and CPU minutes, peak memory",
        label_columns=["Stage"],
        columns=["Jobs", "Wall (min)", "CPU (min)", "Max RSS (MB)", "Wall (%)"],
        rows=rows,
        note="Wall minutes are summed over jobs (jobs that ran in parallel overlap); CPU minutes as Snakemake measured them.",
    )


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, Mapping):
        return [pair for key, value in data.items() for pair in _flatten(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(data, list):
        return [(prefix, f"{len(data)} entries")]
    return [(prefix, data)]


def table_benchmarks(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """The measurements of benchmarks/ (benchmarks/results/*.json), one row per measured value."""
    rows: list[list[Cell]] = []
    for artifact in results.benchmark_results:
        if not isinstance(artifact.data, Mapping) or not artifact.data:
            raise InputError(artifact.path, "a benchmark result must be a non-empty JSON object")
        for key, value in _flatten(artifact.data):
            cell: Cell = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
            rows.append([artifact.path.name, key, cell])
    return Table(
        name="table_benchmarks",
        caption="Benchmarks (benchmarks/results/*.json): every measured value as its script wrote it",
        label_columns=["File", "Key"],
        columns=["Value"],
        rows=rows,
        note="See benchmarks/README.md for what each script measures and how.",
        digits=3,
    )


def table_seeds(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Every system trained with several seeds: the spread of its metrics over training seeds."""
    rows: list[list[Cell]] = []
    for (framework, dataset, system), by_seed in results.seeds.items():
        if len(by_seed) < 2:
            continue
        model, method = layout.split_system(system)
        row: list[Cell] = [FRAMEWORK_LABELS.get(framework, framework), dataset, model, settings.label(method)]
        row += [", ".join(str(seed) for seed in sorted(by_seed)), len(by_seed)]
        for metric in METRICS:
            values = seed_values(by_seed, metric)
            row.append(None if values is None else spread(values))
        rows.append(row)
    return Table(
        name="table_seeds",
        caption="Training seeds: EM / F1 / Acc in %, mean ± sd over the seeds each system was trained with",
        label_columns=["Framework", "Dataset", "Model", "Method"],
        columns=["Seeds", "n", *(METRIC_LABELS[metric] for metric in METRICS)],
        rows=rows,
        note="Each seed is one student (its own data order and random state), evaluated on the same test questions; "
        "mean ± sample sd (n − 1) of the seeds' metrics. The other tables show the run's seed with intervals over questions.",
        digits=1,
    )


KIND_COLUMNS = (("first", "init"), ("mid", "exp"), ("final", "agg"))


def table_training(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> Table:
    """Each trained student's budget and, for StepER, its learned σ and each kind's share of the weight."""
    table = Table(
        "table_training",
        "Training budget (optimizer steps, supervised completion tokens) and learned weighting at the last logged step",
        ["Framework", "Dataset", "Student", "Method"],
        ["Steps", "Supervised tokens", *(f"σ {label}" for _, label in KIND_COLUMNS), *(f"Weight share {label}" for _, label in KIND_COLUMNS)],
        note=f"A kind's weight share is its 1/(2σ²) over the sum of all kinds': uniform weighting gives every trained kind the "
             f"same share, and the weights are said to differ from uniform when one kind's share is at least {NON_UNIFORM_RATIO:g}× another's.",
        digits=3,
    )
    for log_ in results.train_logs:
        spent, weights = budget(log_), learned_weights(log_)
        row = [log_.framework, log_.dataset, log_.student, settings.label(log_.method)]
        row += [spent.steps if spent else None, spent.supervised_tokens if spent else None]
        row += [weights.sigma.get(kind) if weights else None for kind, _ in KIND_COLUMNS]
        row += [weights.share.get(kind) if weights else None for kind, _ in KIND_COLUMNS]
        table.rows.append(row)
    return table


# table -> how it is made; which tables a run renders is steper.paper.contents.run_contents.
MAKERS = {
    "table1_main": table1_main,
    "table2_loss_weighting": table2_loss_weighting,
    "table3_selfask": table3_selfask,
    "table4_subquestions": table4_subquestions,
    "table_ablation_steps": table_ablation_steps,
    "table_errors": table_errors,
    "table_transfer": table_transfer,
    "table_scaling": table_scaling,
    "table_latency": table_latency,
    "table_retrieval": table_retrieval,
    "table_stepwise_stats": table_stepwise_stats,
    "table_teacher": table_teacher,
    "table_published": table_published,
    "table_cost": table_cost,
    "table_benchmarks": table_benchmarks,
    "table_seeds": table_seeds,
    "table_training": table_training,
}


def make_tables(results: Results, settings: PaperSettings, stats: Statistics, published: Published, names: list[str]) -> list[Table]:
    """The tables `names`, those the paper rule declares (`steper.paper.contents.run_contents`)."""
    return [MAKERS[name](results, settings, stats, published) for name in names]
