"""Result files -> every table and figure and REPORT.md (code: steper/paper/). Nothing here runs a model.

The paper rule renders exactly the files it declares: `paper_manifest` writes them, with what each
one is, to a JSON manifest that `steper paper render` reads instead of globbing results/{run}, so a
stale student or evaluation from older settings never enters a table or figure.
"""

from pathlib import Path

TABLES = [
    "table1_main",
    "table2_loss_weighting",
    "table3_selfask",
    "table4_subquestions",
    "table_ablation_steps",
    "table_transfer",
    "table_scaling",
    "table_latency",
    "table_retrieval",
    "table_stepwise_stats",
    "table_teacher",
    "table_published",
    "table_cost",
    "table_benchmarks",
]
# figure -> caption in Snakemake's HTML report (the same captions as REPORT.md: steper/paper/report.py)
FIGURES = {
    "fig1a_data_composition": "Figure 1(a): training examples per step kind, Vanilla-KD (final step only) vs StepER (first, mid, final), from the teacher's kept traces.",
    "fig3_abilities": "Figure 3: ability scores of the step-data ablation (automatic proxy of the paper's GPT-4 judgement).",
    "fig4_scaling": "Figure 4: accuracy vs student size with 95% bootstrap intervals; dashed: the few-shot teacher.",
    "fig_sigma": "Learned difficulty sigma per step kind during StepER training.",
    "fig_latency": "Latency vs accuracy of every IRCoT system.",
    "fig_transfer": "Cross-domain transfer: accuracy (95% bootstrap intervals) on datasets the students were not trained on.",
}
TABLE_CAPTIONS = {
    "table1_main": "Table 1: in-context baselines (incl. ITER-RETGEN, ReAct when configured), distilled students, and cited KD rows (not re-run).",
    "table2_loss_weighting": "Table 2: fixed loss weightings vs learned difficulty-aware weights.",
    "table3_selfask": "Table 3: the Self-Ask framework.",
    "table4_subquestions": "Table 4: rationale validity on sub-questions.",
    "table_ablation_steps": "Step-data ablation with ability scores (Figure 3 as numbers).",
    "table_transfer": "Cross-domain transfer (StepER vs Vanilla-KD).",
    "table_scaling": "Accuracy by model size (Figure 4 as numbers).",
    "table_latency": "Inference cost vs accuracy.",
    "table_retrieval": "BM25 retrieval recall per backend.",
    "table_stepwise_stats": "Step-wise distillation data: kept traces and examples per kind.",
    "table_teacher": "The teacher's accuracy on its training questions.",
    "table_published": "Published numbers vs ours.",
    "table_cost": "Cost per stage from Snakemake's benchmark files.",
    "table_benchmarks": "Benchmarks of benchmarks/results/*.json.",
}
REPORT_CATEGORY = "StepER reproduction"

TRACED = sorted({(f, d, STUDENTS[s]["teacher"]) for f, d, s, _ in CELLS})
FEWSHOT_EVALS = [(b, d, model) for b in BASELINES for d in DATASETS for model in BASELINE_MODELS]


def _eval(kind, f, d, system, **labels):
    """An evaluation's metrics and predictions (`kind`: eval, transfer or subq) with what it is."""
    predictions = "predictions" if kind == "eval" else f"{kind}_predictions"
    return {
        "path": P(kind, framework=f, dataset=d, system=system, **labels),
        "predictions": P(predictions, framework=f, dataset=d, system=system, **labels),
        "framework": f,
        "dataset": d,
        "system": system,
        **labels,
    }


BENCH_ROOT, BENCH_SUFFIX = P("benchmark").split("{stage}")


def _bench(rule, **wildcards):
    """The benchmark file of one job of `rule` (its template from the rule itself) and its stage path."""
    path = str(getattr(rules, rule).benchmark).format(**wildcards)
    return {"path": path, "stage": path[len(BENCH_ROOT) : -len(BENCH_SUFFIX)]}


def _benchmarks():
    """Benchmark files of the jobs whose outputs the paper declares: the cost table's rows."""
    entries = [_bench("corpus", dataset=d) for d in DATASETS] + [_bench("split", dataset=d) for d in DATASETS]
    entries += [_bench("index", dataset=d, backend=b) for d in DATASETS for b in BACKENDS]
    entries += [_bench("retrieval_eval", dataset=d) for d in DATASETS]
    for source, rule in (("hub", "model_download"), ("gguf", "model_gguf"), ("prune", "model_prune"), ("random", "model_random")):
        entries += [_bench(rule, model=model) for model in models_from(source)]
    entries += [
        _bench("teacher_shard", framework=f, dataset=d, model=t, split="train", shard=i, n=config["teacher"]["shards"])
        for f, d, t in TRACED
        for i in range(config["teacher"]["shards"])
    ]
    entries += [_bench("stepwise", framework=f, dataset=d, teacher=t) for f, d, t in TRACED]
    trained = sorted({(f, d, s, trained_method(m)) for f, d, s, m in CELLS})
    entries += [_bench("train", framework=f, dataset=d, student=s, method=m) for f, d, s, m in trained]
    entries += [_bench("evaluate_student", framework=f, dataset=d, student=s, method=m) for f, d, s, m in CELLS]
    entries += [_bench("evaluate_baseline", baseline=b, dataset=d, model=model) for b, d, model in FEWSHOT_EVALS]
    entries += [_bench("evaluate_transfer", framework=f, trained_on=t, dataset=d, student=s, method=m) for f, t, d, s, m in TRANSFER]
    entries += [_bench("subquestions", dataset=d) for d in sorted({d for _, d, _, _ in SUBQUESTIONS})]
    entries += [_bench("evaluate_subquestions", framework=f, dataset=d, student=s, method=m) for f, d, s, m in SUBQUESTIONS]
    return entries


def paper_manifest():
    """Every file the paper is rendered from, with what it is (steper.paper.results.SECTIONS)."""
    return {
        "evals": [_eval("eval", f, d, layout.student_system(s, m)) for f, d, s, m in CELLS]
        + [_eval("eval", b, d, layout.fewshot_system(model)) for b, d, model in FEWSHOT_EVALS],
        "transfer": [_eval("transfer", f, d, layout.student_system(s, m), trained_on=t) for f, t, d, s, m in TRANSFER],
        "subquestions": [_eval("subq", f, d, layout.student_system(s, m)) for f, d, s, m in SUBQUESTIONS],
        "retrieval": [{"path": P("retrieval", dataset=d), "dataset": d} for d in DATASETS],
        "stepwise": [
            {"path": P("stepwise_stats", framework=f, dataset=d, teacher=t, stepwise_tag=STEPWISE_TAG), "framework": f, "dataset": d, "teacher": t}
            for f, d, t in TRACED
        ],
        "summaries": [
            {"path": P("traces_summary", framework=f, dataset=d, model=t, split="train"), "framework": f, "dataset": d, "model": t, "split": "train"}
            for f, d, t in TRACED
        ],
        "train_logs": [
            {"path": train_log(f, d, s, m), "framework": f, "dataset": d, "student": s, "method": m}
            for f, d, s, m in CELLS
        ],
        "corpora": [{"path": P("corpus", dataset=d), "dataset": d} for d in DATASETS],
        "benchmarks": _benchmarks(),
        "benchmark_results": [{"path": str(path)} for path in sorted(Path("benchmarks/results").glob("*.json"))],
    }


MANIFEST = paper_manifest()
# A train log lives inside its student directory, the directory is the declared output of `train`.
RESULT_FILES = sorted(
    {entry["path"] for section, entries in MANIFEST.items() if section not in ("train_logs",) for entry in entries}
    | {entry["predictions"] for section in ("evals", "transfer", "subquestions") for entry in MANIFEST[section]}
    | {student_dir(f, d, s, m) for f, d, s, m in CELLS}
)
EVAL_FILES = [entry["path"] for entry in MANIFEST["evals"]]
MANIFEST_FILE = P("manifest")

# Every intermediate artifact is a target of `all` too, so deleting one (a trace file, say) makes
# Snakemake rebuild it and then, by modification time, exactly what depends on it.
ARTIFACTS = (
    expand(P("records"), dataset=DATASETS, split=["train", "dev", "test"])
    + expand(P("corpus"), dataset=DATASETS)
    + expand(P("index"), dataset=DATASETS, backend=BACKENDS)
    + [P("traces", framework=f, dataset=d, model=t, split="train") for f, d, t in TRACED]
    + [P("stepwise", framework=f, dataset=d, teacher=t, stepwise_tag=STEPWISE_TAG, variant=v) for f, d, t in TRACED for v in VARIANTS]
)

PAPER_DIR = P("paper")
PAPER_OUTPUTS = (
    expand(P("table"), table=TABLES, ext=["md", "tex"])
    + expand(P("figure"), figure=FIGURES, ext=["pdf", "png"])
    + [P("case_study"), P("report")]
)


def paper_settings():
    return as_json(
        {
            "run": RUN,
            "datasets": DATASETS,
            "frameworks": FRAMEWORKS,
            "main_student": MAIN_STUDENT,
            "teacher": STUDENTS[MAIN_STUDENT]["teacher"],
            "students": list(STUDENTS),
            "methods": {
                name: {"data": spec["data"], "loss": spec["loss"], "label": spec.get("label") or name, "tables": spec["tables"]}
                for name, spec in METHODS.items()
            },
            "baselines": BASELINES,
            "scaling_students": config["paper"]["scaling_students"],
            "scaling_teacher": STUDENTS[(config["paper"]["scaling_students"] or [MAIN_STUDENT])[0]]["teacher"],
            "bootstrap": config["paper"]["bootstrap"],
            "case_study": config["paper"]["case_study"],
        }
    )


rule paper_manifest:
    """The declared inputs of `paper`, with what each is; rewritten when the config changes what they are."""
    output:
        MANIFEST_FILE,
    params:
        manifest=as_json(MANIFEST),
    localrule: True
    run:
        Path(output[0]).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{output[0]}.tmp")
        tmp.write_text(params.manifest + "\n", encoding="utf-8")
        tmp.replace(output[0])


def _report(path, caption):
    return report(path, caption=caption, category=REPORT_CATEGORY)


rule paper:
    input:
        RESULT_FILES,
        manifest=MANIFEST_FILE,
    output:
        [_report(P("table", table=t, ext="md"), TABLE_CAPTIONS[t]) for t in TABLES]
        + [P("table", table=t, ext="tex") for t in TABLES]
        + [_report(P("figure", figure=name, ext="png"), caption) for name, caption in FIGURES.items()]
        + [P("figure", figure=name, ext="pdf") for name in FIGURES]
        + [_report(P("case_study"), "Figure 1(b): case study, StepER vs Vanilla-KD chains step by step."),
           _report(P("report"), "The reproduction report: claims with their intervals, every table and figure.")],
    params:
        output_dir=PAPER_DIR,
        settings=paper_settings(),
    conda:
        ENV_CPU
    log:
        LOG("paper/render"),
    benchmark:
        BENCH("paper/render")
    shell:
        "steper paper render --manifest {input.manifest:q} --output-dir {params.output_dir:q} --settings {params.settings:q} 2> {log:q}"


rule check:
    """`snakemake check`: compare this run's results with the numbers committed in config/expected/{run}.yaml."""
    input:
        EVAL_FILES,
        expected=P("expected"),
    output:
        P("check"),
    params:
        results_dir=P("results"),
    conda:
        ENV_CPU
    log:
        LOG("paper/check"),
    shell:
        "steper paper check --results-dir {params.results_dir:q} --expected {input.expected:q} > {output:q}.tmp 2> {log:q};"
        " status=$?; cat {output:q}.tmp; mv {output:q}.tmp {output:q}; exit $status"
