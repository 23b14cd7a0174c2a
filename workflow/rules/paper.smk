"""Result files -> every table and figure and REPORT.md (code: steper/paper/). Nothing here runs a model."""

TABLES = [
    "table1_main",
    "table2_loss_weighting",
    "table3_selfask",
    "table_ablation_steps",
    "table_scaling",
    "table_latency",
    "table_retrieval",
    "table_stepwise_stats",
    "table_teacher",
    "table_published",
]
FIGURES = ["fig3_abilities", "fig4_scaling", "fig_sigma", "fig_latency"]

TRACED = sorted({(f, d, STUDENTS[s]["teacher"]) for f, d, s, _ in CELLS})

RESULT_FILES = (
    expand(R("retrieval/{dataset}.json"), dataset=DATASETS)
    + [R(f"traces/{f}/{d}/{t}/train.jsonl.summary.json") for f, d, t in TRACED]
    + [R(f"stepwise/{f}/{d}/{t}/stats.json") for f, d, t in TRACED]
    + [R(f"students/{f}/{d}/{s}/{m}/{HPARAMS}") for f, d, s, m in CELLS]
    + [R(f"eval/{f}/{d}/{s}--{m}.json") for f, d, s, m in CELLS]
    + expand(R("eval/{baseline}/{dataset}/{model}--fewshot.json"), baseline=BASELINES, dataset=DATASETS, model=BASELINE_MODELS)
)

# Every intermediate artifact is a target of `all` too, so deleting one (a trace file, say) makes
# Snakemake rebuild it and then, by modification time, exactly what depends on it.
ARTIFACTS = (
    expand(R("data/{dataset}/{split}.jsonl"), dataset=DATASETS, split=["train", "dev", "test"])
    + expand(R("corpus/{dataset}.jsonl"), dataset=DATASETS)
    + expand(R("index/{dataset}/{backend}"), dataset=DATASETS, backend=BACKENDS)
    + [R(f"traces/{f}/{d}/{t}/train.jsonl") for f, d, t in TRACED]
    + [R(f"stepwise/{f}/{d}/{t}/{v}.jsonl") for f, d, t in TRACED for v in VARIANTS]
    + [R(f"eval/{f}/{d}/{s}--{m}.predictions.jsonl") for f, d, s, m in CELLS]
)

PAPER_OUTPUTS = (
    expand(f"paper/{RUN}/tables/{{table}}.{{ext}}", table=TABLES, ext=["md", "tex"])
    + expand(f"paper/{RUN}/figures/{{figure}}.{{ext}}", figure=FIGURES, ext=["pdf", "png"])
    + [f"paper/{RUN}/REPORT.md"]
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
            "methods": list(METHODS),
            "baselines": BASELINES,
            "scaling_students": config["paper"]["scaling_students"],
            "scaling_teacher": STUDENTS[(config["paper"]["scaling_students"] or [MAIN_STUDENT])[0]]["teacher"],
        }
    )


rule paper:
    input:
        RESULT_FILES,
    output:
        PAPER_OUTPUTS,
    params:
        settings=paper_settings(),
    conda:
        ENV_CPU
    log:
        LOG("paper/render"),
    benchmark:
        BENCH("paper/render")
    shell:
        "steper paper render --results-dir results/{RUN} --output-dir paper/{RUN} --settings {params.settings:q} 2> {log}"


rule check:
    """`snakemake check`: compare this run's results with the numbers committed in config/expected/{run}.yaml."""
    input:
        RESULT_FILES,
        expected=f"config/expected/{RUN}.yaml",
    output:
        f"paper/{RUN}/CHECK.txt",
    conda:
        ENV_CPU
    log:
        LOG("paper/check"),
    shell:
        "steper paper check --results-dir results/{RUN} --expected {input.expected} > {output}.tmp 2> {log};"
        " status=$?; cat {output}.tmp; mv {output}.tmp {output}; exit $status"
