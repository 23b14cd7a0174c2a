"""The paper stage's plan: the manifest of the files it renders, its settings and its outputs.

The paper rule renders exactly the files it declares: the manifest lists them, with what each one
is (`steper.paper.results.SECTIONS`), and `steper paper render` reads it instead of globbing
results/{run}, so a stale student or evaluation from older settings never enters a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from steper import layout
from steper.frameworks.trace_import import traced_key
from steper.model_sources import MODEL_SOURCES
from steper.paper import contents
from steper.plan.plan import Plan

# Manifest sections of evaluations, whose entries carry their predictions file too.
EVAL_SECTIONS = ("evals", "transfer", "subquestions", "seeds")
# The fine-tuned teacher's gold traces: its cost row beside its training's.
FINETUNE_DATA_RULE = "gold_traces"
# Measurements of benchmarks/ (not a stage's): the last table of the report.
BENCHMARK_RESULTS = "benchmarks/results"
PREDICTIONS = {"eval": "predictions", "transfer": "transfer_predictions", "subq": "subq_predictions"}


def _eval(plan: Plan, kind: str, framework: str, dataset: str, system: str, **labels: str) -> dict[str, Any]:
    """An evaluation's metrics and predictions (`kind`: eval, transfer or subq) with what it is."""
    where = dict(framework=framework, dataset=dataset, system=system, **labels)
    return {"path": plan.path(kind, **where), "predictions": plan.path(PREDICTIONS[kind], **where), **where}


def _bench(plan: Plan, rule: str, **wildcards: Any) -> dict[str, str]:
    """The benchmark file of one job of `rule` and its stage."""
    stage = plan.stage(rule, **wildcards)
    return {"path": plan.path("benchmark", stage=stage), "stage": stage}


def benchmarks(plan: Plan) -> list[dict[str, str]]:
    """Benchmark files of the jobs whose outputs the paper declares: the cost table's rows."""
    datasets = plan.datasets
    entries = [_bench(plan, "toy_world", dataset=d) for d in datasets] if plan.toy else []
    entries += [_bench(plan, "prepare", dataset=d, part=part) for d in datasets for part in ("train", "dev")]
    entries += [_bench(plan, "corpus", dataset=d) for d in datasets] + [_bench(plan, "split", dataset=d) for d in datasets]
    entries += [_bench(plan, "index", dataset=d, backend=b) for d in datasets for b in plan.backends]
    entries += [_bench(plan, "retrieval_eval", dataset=d) for d in datasets]
    used = plan.models_in_use()
    for source, built in MODEL_SOURCES.items():
        rules = (FINETUNE_DATA_RULE, built.rule) if source == "finetune" else (built.rule,) if built.rule else ()
        entries += [_bench(plan, rule, model=model) for model in plan.models_from(source) if model in used for rule in rules]
    shards = plan.config["teacher"]["shards"]
    entries += [
        _bench(plan, "teacher_shard", framework=f, dataset=d, model=t, split="train", shard=i, n=shards)
        for f, d, t in plan.traced
        if traced_key(f, d, t) not in plan.imported
        for i in range(shards)
    ]
    entries += [_bench(plan, "teacher_import", traced=key) for key in plan.imported]
    entries += [_bench(plan, "stepwise", framework=f, dataset=d, teacher=t) for f, d, t in plan.traced]
    trained = sorted({(f, d, s, plan.trained_method(m)) for f, d, s, m in plan.cells})
    entries += [_bench(plan, "train", framework=f, dataset=d, student=s, method=m, hparams=plan.hparams(plan.seed)) for f, d, s, m in trained]
    trained_extra = sorted({(f, d, s, plan.trained_method(m), seed) for f, d, s, m, seed in plan.extra_seeds})
    entries += [_bench(plan, "train", framework=f, dataset=d, student=s, method=m, hparams=plan.hparams(seed)) for f, d, s, m, seed in trained_extra]
    entries += [_bench(plan, "evaluate_student", framework=f, dataset=d, student=s, method=m) for f, d, s, m in plan.cells]
    entries += [_bench(plan, "evaluate_student_seed", framework=f, dataset=d, student=s, method=m, seed=seed) for f, d, s, m, seed in plan.extra_seeds]
    entries += [_bench(plan, "evaluate_baseline", baseline=b, dataset=d, model=model) for b, d, model in plan.fewshot_evals]
    entries += [_bench(plan, "evaluate_transfer", framework=f, trained_on=t, dataset=d, student=s, method=m) for f, t, d, s, m in plan.transfer]
    entries += [_bench(plan, "subquestions", dataset=d) for d in sorted({c.dataset for c in plan.subquestions})]
    entries += [_bench(plan, "evaluate_subquestions", framework=f, dataset=d, student=s, method=m) for f, d, s, m in plan.subquestions]
    return entries


def benchmark_results(basedir: str | Path = ".") -> list[str]:
    """The JSON files of benchmarks/results, relative to the workflow's directory `basedir`."""
    return sorted(str(path.relative_to(basedir)) for path in Path(basedir).glob(f"{BENCHMARK_RESULTS}/*.json"))


def manifest(plan: Plan, benchmark_results: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every file the paper is rendered from, with what it is; `benchmark_results`: the JSON files
    of benchmarks/results. `seeds` is there only when some cell has several seeds."""
    student = layout.student_system
    result: dict[str, list[dict[str, Any]]] = {
        "evals": [_eval(plan, "eval", f, d, student(s, m)) for f, d, s, m in plan.cells]
        + [_eval(plan, "eval", b, d, layout.fewshot_system(model)) for b, d, model in plan.fewshot_evals],
        "transfer": [_eval(plan, "transfer", f, d, student(s, m), trained_on=t) for f, t, d, s, m in plan.transfer],
        "subquestions": [_eval(plan, "subq", f, d, student(s, m)) for f, d, s, m in plan.subquestions],
        "retrieval": [{"path": plan.path("retrieval", dataset=d), "dataset": d} for d in plan.datasets],
        "stepwise": [
            {"path": plan.path("stepwise_stats", framework=f, dataset=d, teacher=t, stepwise_tag=plan.stepwise_tag), "framework": f, "dataset": d, "teacher": t}
            for f, d, t in plan.traced
        ],
        "summaries": [
            {"path": plan.path("traces_summary", framework=f, dataset=d, model=t, split="train"), "framework": f, "dataset": d, "model": t, "split": "train"}
            for f, d, t in plan.traced
        ],
        "train_logs": [{"path": plan.train_log(f, d, s, m), "framework": f, "dataset": d, "student": s, "method": m} for f, d, s, m in plan.cells],
        "corpora": [{"path": plan.path("corpus", dataset=d), "dataset": d} for d in plan.datasets],
        "benchmarks": benchmarks(plan),
        "benchmark_results": [{"path": str(path)} for path in benchmark_results],
    }
    if plan.multi_seed:
        result["seeds"] = [
            dict(_eval(plan, "eval", f, d, plan.eval_system(s, m, seed)), system=student(s, m), seed=str(seed))
            for f, d, s, m in plan.multi_seed
            for seed in plan.cell_seeds[(f, d, s, m)]
        ]
    return result


def result_files(plan: Plan, listed: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The paper rule's inputs: every file of the manifest `listed` and the students' directories
    (a train log lives inside its student directory, the declared output of `train`)."""
    files = {entry["path"] for section, entries in listed.items() if section != "train_logs" for entry in entries}
    files |= {entry["predictions"] for section in EVAL_SECTIONS for entry in listed.get(section, [])}
    files |= {plan.student_dir(f, d, s, m) for f, d, s, m in plan.cells}
    return sorted(files)


def settings(plan: Plan) -> dict[str, Any]:
    """`steper paper render --settings`: which systems exist and how to render them."""
    paper = plan.config["paper"]
    return {
        "run": plan.run,
        "datasets": plan.datasets,
        "frameworks": plan.frameworks,
        "main_student": plan.main_student,
        "teacher": plan.students[plan.main_student]["teacher"],
        "students": list(plan.students),
        "methods": {
            name: {"data": spec["data"], "loss": spec["loss"], "label": spec.get("label") or name, "tables": spec["tables"]}
            | ({"match_steps_of": spec["match_steps_of"]} if spec.get("match_steps_of") else {})
            for name, spec in plan.methods.items()
        },
        "baselines": plan.baselines,
        "scaling_students": paper["scaling_students"],
        "scaling_teacher": plan.students[(paper["scaling_students"] or [plan.main_student])[0]]["teacher"],
        "bootstrap": paper["bootstrap"],
        "case_study": paper["case_study"],
    }


def run_contents(plan: Plan) -> contents.Contents:
    """The tables and figures of this run: those of the parts its config asks for, decided from the
    same facts the manifest's sections are built from (`steper paper render` reads them there)."""
    size_students = plan.config["paper"]["scaling_students"] or list(plan.students)
    size_study = {c.student for c in plan.cells if c.framework == "ircot" and "scaling" in plan.methods[c.method]["tables"]}
    return contents.run_contents(
        frameworks=plan.frameworks, baselines=plan.baselines, size_study=[s for s in size_students if s in size_study],
        transfer=bool(plan.transfer), subquestions=bool(plan.subquestions), several_seeds=bool(plan.multi_seed),
    )


def tables(plan: Plan) -> list[str]:
    return run_contents(plan).tables


def figures(plan: Plan) -> list[str]:
    return run_contents(plan).figures


def outputs(plan: Plan) -> list[str]:
    """Every file the paper rule writes (target of `all`)."""
    return (
        [plan.path("table", table=t, ext=ext) for t in tables(plan) for ext in ("md", "tex")]
        + [plan.path("figure", figure=f, ext=ext) for f in figures(plan) for ext in ("pdf", "png")]
        + [plan.path("case_study"), plan.path("report")]
    )


def artifacts(plan: Plan) -> list[str]:
    """Every intermediate artifact, a target of `all` too: deleting one (a trace file, say) makes
    Snakemake rebuild it and then, by modification time, exactly what depends on it."""
    return (
        [plan.path("records", dataset=d, split=split) for d in plan.datasets for split in ("train", "dev", "test")]
        + [plan.path("corpus", dataset=d) for d in plan.datasets]
        + [plan.path("index", dataset=d, backend=b) for d in plan.datasets for b in plan.backends]
        + [plan.path("traces", framework=f, dataset=d, model=t, split="train") for f, d, t in plan.traced]
        + [
            plan.path("stepwise", framework=f, dataset=d, teacher=t, stepwise_tag=plan.stepwise_tag, variant=v)
            for f, d, t in plan.traced
            for v in plan.variants
        ]
    )


def write_manifest(path: str, manifest: str, log: str) -> None:
    """Written to a temporary name and renamed, so a killed job leaves no half manifest."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    tmp.write_text(f"{manifest}\n", encoding="utf-8")
    tmp.replace(path)
    Path(log).write_text(f"wrote {path}\n", encoding="utf-8")
