"""Result files -> every table and figure and REPORT.md (code: steper/paper/). Nothing here runs a model.

The paper rule renders exactly the files it declares: `paper_manifest` writes them, with what each
one is, to a JSON manifest that `steper paper render` reads instead of globbing results/{run}, so a
stale student or evaluation from older settings never enters a table or figure.
"""

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
] + (["table_seeds"] if MULTI_SEED else [])
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
    "table_seeds": "Mean ± sd over training seeds of every system trained with several seeds.",
}
REPORT_CATEGORY = "StepER reproduction"

TRACED = sorted({(f, d, STUDENTS[s]["teacher"]) for f, d, s, _ in CELLS})
FEWSHOT_EVALS = [(b, d, model) for b in BASELINES for d in DATASETS for model in BASELINE_MODELS]


BENCH_ROOT, BENCH_SUFFIX = P("benchmark").split("{stage}")


MANIFEST = paper_manifest()
# A train log lives inside its student directory, the directory is the declared output of `train`.
RESULT_FILES = sorted(
    {entry["path"] for section, entries in MANIFEST.items() if section not in ("train_logs",) for entry in entries}
    | {entry["predictions"] for section in ("evals", "transfer", "subquestions", "seeds") for entry in MANIFEST.get(section, [])}
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

PAPER_OUTPUTS = expand(P("table"), table=TABLES, ext=["md", "tex"]) + expand(P("figure"), figure=FIGURES, ext=["pdf", "png"]) + [P("case_study"), P("report")]


rule paper_manifest:
    """The declared inputs of `paper`, with what each is; rewritten when the config changes what they are."""
    output:
        MANIFEST_FILE,
    log:
        LOG("paper/manifest"),
    localrule: True
    params:
        manifest=as_json(MANIFEST),
    run:
        write_manifest(output[0], params.manifest, log[0])


rule paper:
    input:
        RESULT_FILES,
        manifest=MANIFEST_FILE,
    output:
        [_report(P("table", table=t, ext="md"), TABLE_CAPTIONS[t]) for t in TABLES]
        + [P("table", table=t, ext="tex") for t in TABLES]
        + [_report(P("figure", figure=name, ext="png"), caption) for name, caption in FIGURES.items()]
        + [P("figure", figure=name, ext="pdf") for name in FIGURES]
        + [_report(P("case_study"), "Figure 1(b): case study, StepER vs Vanilla-KD chains step by step.")],
        report=_report(P("report"), "The reproduction report: claims with their intervals, every table and figure."),
    log:
        LOG("paper/render"),
    benchmark:
        BENCH("paper/render")
    conda:
        ENV_CPU
    params:
        output_dir=lambda w, output: os.path.dirname(output.report),
        settings=paper_settings(),
    shell:
        "steper paper render --manifest {input.manifest:q} --output-dir {params.output_dir:q} --settings {params.settings:q} 2> {log:q}"


rule check:
    """`snakemake check`: compare this run's results with the numbers committed in config/expected/{run}.yaml."""
    input:
        EVAL_FILES,
        expected=P("expected"),
    output:
        P("check"),
    log:
        LOG("paper/check"),
    conda:
        ENV_CPU
    params:
        results_dir=results_dir,
    shell:
        "steper paper check --results-dir {params.results_dir:q} --expected {input.expected:q} > {output:q}.tmp 2> {log:q};"
        " status=$?; cat {output:q}.tmp; mv {output:q}.tmp {output:q}; exit $status"
