"""Students (zero-shot) and in-context baselines (few-shot) on the test questions (code: steper/evaluate/).

Systems are named `{student}--{method}` for trained students and `{model}--fewshot` for in-context
baselines of every teacher and every student's base model. Every evaluation runs the framework
with `evaluation.framework` (students with 0 shots); the teacher's settings are for its traces only.
Cross-domain transfer evaluates the main student's methods of the `transfer` table on the other
datasets; Table 4 asks the sub-questions of `paper.subquestions.datasets` alone. Students of an
extra seed (`experiments[].seeds`) are evaluated into `{student}--{method}--seed{seed}` files
(`layout.seed_system`); transfer and sub-questions use the run's seed only.
"""

INDEX = P("index", backend=config["retrieval"]["backend"])
TEST_RECORDS = P("records", split="test")
STUDENT_SYSTEM = layout.student_system("{student}", "{method}")
SEED_SYSTEM = layout.seed_system(STUDENT_SYSTEM, "{seed}")
FEWSHOT_SYSTEM = layout.fewshot_system("{model}")


rule evaluate_student:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: student_dir(w.framework, w.dataset, w.student, w.method),
    output:
        metrics=P("eval", system=STUDENT_SYSTEM),
        predictions=P("predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate/{framework}/{dataset}/{student}--{method}"),
    benchmark:
        BENCH("evaluate/{framework}/{dataset}/{student}--{method}")
    conda:
        ENV_GPU
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        **resources("evaluation"),
    params:
        index_dir=index_dir,
        settings=lambda w: evaluate_settings("evaluation", w.student, shots=0),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.framework:q} --dataset {wildcards.dataset:q}"
        " --system {wildcards.student:q}--{wildcards.method:q} --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --predictions {output.predictions:q} --output {output.metrics:q}"
        " --settings {params.settings:q} 2> {log:q}"


# The same job for a student of an extra seed: only its model and its files differ. The command is
# evaluate_student's, so the file still names the system `{student}--{method}` (the seed is a
# replicate of it, told apart by the file name and the manifest's `seeds` section).
use rule evaluate_student as evaluate_student_seed with:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: student_dir(w.framework, w.dataset, w.student, w.method, int(w.seed)),
    output:
        metrics=P("eval", system=SEED_SYSTEM),
        predictions=P("predictions", system=SEED_SYSTEM),
    log:
        LOG(f"evaluate/{{framework}}/{{dataset}}/{SEED_SYSTEM}"),
    benchmark:
        BENCH(f"evaluate/{{framework}}/{{dataset}}/{SEED_SYSTEM}")
    wildcard_constraints:
        seed=one_of(sorted({str(seed) for *_, seed in EXTRA_SEEDS})),


rule evaluate_baseline:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: model_dir(w.model),
        demonstrations=lambda w: demonstrations(w.dataset),
    output:
        metrics=P("eval", framework="{baseline}", system=FEWSHOT_SYSTEM),
        predictions=P("predictions", framework="{baseline}", system=FEWSHOT_SYSTEM),
    log:
        LOG("evaluate/{baseline}/{dataset}/{model}--fewshot"),
    benchmark:
        BENCH("evaluate/{baseline}/{dataset}/{model}--fewshot")
    wildcard_constraints:
        baseline=one_of(BASELINES),
        model=one_of(BASELINE_MODELS),
    conda:
        ENV_GPU
    threads: lambda w: config[baseline_section(w.model)]["resources"]["threads"]
    resources:
        mem_mb=lambda w: resources(baseline_section(w.model))["mem_mb"],
        runtime=lambda w: resources(baseline_section(w.model))["runtime"],
        gpu=lambda w: resources(baseline_section(w.model)).get("gpu", 0),
    params:
        index_dir=index_dir,
        settings=lambda w: evaluate_settings(baseline_section(w.model), w.model),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.baseline:q} --dataset {wildcards.dataset:q}"
        " --system {wildcards.model:q}--fewshot --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --demonstrations {input.demonstrations:q} --predictions {output.predictions:q}"
        " --output {output.metrics:q} --settings {params.settings:q} 2> {log:q}"


# Cross-domain transfer: (framework, trained_on, dataset, student, method) of the main student's
# `transfer` methods, every trained cell evaluated on every other dataset.
TRANSFER_METHODS = [m for m, spec in METHODS.items() if "transfer" in spec["tables"]]
TRANSFER = [(f, trained_on, d, s, m) for f, trained_on, s, m in CELLS if s == MAIN_STUDENT and m in TRANSFER_METHODS for d in DATASETS if d != trained_on]


rule evaluate_transfer:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: student_dir(w.framework, w.trained_on, w.student, w.method),
    output:
        metrics=P("transfer", system=STUDENT_SYSTEM),
        predictions=P("transfer_predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate/transfer/{framework}/{trained_on}/{dataset}/{student}--{method}"),
    benchmark:
        BENCH("evaluate/transfer/{framework}/{trained_on}/{dataset}/{student}--{method}")
    wildcard_constraints:
        trained_on=one_of(DATASETS),
    conda:
        ENV_GPU
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        **resources("evaluation"),
    params:
        index_dir=index_dir,
        settings=lambda w: evaluate_settings("evaluation", w.student, shots=0),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.framework:q} --dataset {wildcards.dataset:q}"
        " --system {wildcards.student:q}--{wildcards.method:q} --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --predictions {output.predictions:q} --output {output.metrics:q}"
        " --settings {params.settings:q} 2> {log:q}"


# Table 4: the sub-questions of each multi-hop test question, asked alone.
SUBQUESTION_DATASETS = [d for d in config["paper"]["subquestions"]["datasets"] if d in DATASETS]
SUBQUESTION_METHODS = [m for m, spec in METHODS.items() if "subquestions" in spec["tables"]]
SUBQUESTIONS = [(f, d, s, m) for f, d, s, m in CELLS if s == MAIN_STUDENT and m in SUBQUESTION_METHODS and d in SUBQUESTION_DATASETS]
SUBQA = config["paper"]["subquestions"]["subqa"]


rule subquestions:
    input:
        records=TEST_RECORDS,
        subqa=[SUBQA] if SUBQA else [],
    output:
        P("subquestions"),
    log:
        LOG("data/subquestions/{dataset}"),
    benchmark:
        BENCH("data/subquestions/{dataset}")
    conda:
        ENV_CPU
    params:
        subqa=["--subqa", SUBQA] if SUBQA else [],
    shell:
        "steper evaluate subquestions --records {input.records:q} {params.subqa:q} --output {output:q} 2> {log:q}"


rule evaluate_subquestions:
    input:
        records=P("subquestions"),
        index=INDEX,
        model=lambda w: student_dir(w.framework, w.dataset, w.student, w.method),
    output:
        metrics=P("subq", system=STUDENT_SYSTEM),
        predictions=P("subq_predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate/subquestions/{framework}/{dataset}/{student}--{method}"),
    benchmark:
        BENCH("evaluate/subquestions/{framework}/{dataset}/{student}--{method}")
    conda:
        ENV_GPU
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        **resources("evaluation"),
    params:
        index_dir=index_dir,
        settings=lambda w: evaluate_settings("evaluation", w.student, shots=0),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.framework:q} --dataset {wildcards.dataset:q}"
        " --system {wildcards.student:q}--{wildcards.method:q} --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --predictions {output.predictions:q} --output {output.metrics:q}"
        " --settings {params.settings:q} 2> {log:q}"
