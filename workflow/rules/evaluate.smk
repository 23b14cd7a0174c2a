"""Students (zero-shot) and in-context baselines (few-shot) on the test questions (code: steper/evaluate/).

Systems are named `{student}--{method}` for trained students and `{model}--fewshot` for in-context
baselines of every teacher and every student's base model. Every evaluation runs the framework
with `evaluation.framework` (students with 0 shots); the teacher's settings are for its traces only.
A student is evaluated by one rule, `evaluate_student`; its other evaluations use it with other
files: a student of an extra seed (`experiments[].seeds`) into `{student}--{method}--seed{seed}`
(its file still names the system `{student}--{method}`: the seed is a replicate, told apart by the
file name and the manifest's `seeds` section), the main student's `transfer` methods on the other
datasets, and Table 4's sub-questions of `paper.subquestions.datasets` asked alone.
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
        model=lambda w: plan.student_dir(w.framework, w.dataset, w.student, w.method),
    output:
        metrics=P("eval", system=STUDENT_SYSTEM),
        predictions=P("predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate_student"),
    benchmark:
        BENCH("evaluate_student")
    conda:
        ENV_GPU
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        **plan.resources("evaluation"),
    params:
        index_dir=lambda w: plan.index_dir(w.dataset),
        system=lambda w: layout.student_system(w.student, w.method),
        settings=lambda w: plan.evaluate_settings("evaluation", w.student, shots=0),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.framework:q} --dataset {wildcards.dataset:q}"
        " --system {params.system:q} --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --predictions {output.predictions:q} --output {output.metrics:q}"
        " --settings {params.settings:q} 2> {log:q}"


use rule evaluate_student as evaluate_student_seed with:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: plan.student_dir(w.framework, w.dataset, w.student, w.method, int(w.seed)),
    output:
        metrics=P("eval", system=SEED_SYSTEM),
        predictions=P("predictions", system=SEED_SYSTEM),
    log:
        LOG("evaluate_student_seed"),
    benchmark:
        BENCH("evaluate_student_seed")
    wildcard_constraints:
        seed=one_of(sorted({str(seed) for *_, seed in plan.extra_seeds})),


use rule evaluate_student as evaluate_transfer with:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: plan.student_dir(w.framework, w.trained_on, w.student, w.method),
    output:
        metrics=P("transfer", system=STUDENT_SYSTEM),
        predictions=P("transfer_predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate_transfer"),
    benchmark:
        BENCH("evaluate_transfer")
    wildcard_constraints:
        trained_on=one_of(plan.datasets),


use rule evaluate_student as evaluate_subquestions with:
    input:
        records=P("subquestions"),
        index=INDEX,
        model=lambda w: plan.student_dir(w.framework, w.dataset, w.student, w.method),
    output:
        metrics=P("subq", system=STUDENT_SYSTEM),
        predictions=P("subq_predictions", system=STUDENT_SYSTEM),
    log:
        LOG("evaluate_subquestions"),
    benchmark:
        BENCH("evaluate_subquestions")


rule evaluate_baseline:
    input:
        records=TEST_RECORDS,
        index=INDEX,
        model=lambda w: plan.model_dir(w.model),
        demonstrations=lambda w: plan.demonstrations(w.dataset),
    output:
        metrics=P("eval", framework="{baseline}", system=FEWSHOT_SYSTEM),
        predictions=P("predictions", framework="{baseline}", system=FEWSHOT_SYSTEM),
    log:
        LOG("evaluate_baseline"),
    benchmark:
        BENCH("evaluate_baseline")
    wildcard_constraints:
        baseline=one_of(plan.baselines),
        model=one_of(plan.baseline_models),
    conda:
        ENV_GPU
    threads: lambda w: config[plan.baseline_section(w.model)]["resources"]["threads"]
    resources:
        mem_mb=lambda w: plan.resources(plan.baseline_section(w.model))["mem_mb"],
        runtime=lambda w: plan.resources(plan.baseline_section(w.model))["runtime"],
        gpu=lambda w: plan.resources(plan.baseline_section(w.model)).get("gpu", 0),
    params:
        index_dir=lambda w: plan.index_dir(w.dataset),
        system=lambda w: layout.fewshot_system(w.model),
        settings=lambda w: plan.evaluate_settings(plan.baseline_section(w.model), w.model),
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.baseline:q} --dataset {wildcards.dataset:q}"
        " --system {params.system:q} --records {input.records:q} --index-dir {params.index_dir:q}"
        " --model {input.model:q} --demonstrations {input.demonstrations:q} --predictions {output.predictions:q}"
        " --output {output.metrics:q} --settings {params.settings:q} 2> {log:q}"


# Table 4: the sub-questions of each multi-hop test question.
rule subquestions:
    input:
        records=TEST_RECORDS,
        subqa=[plan.subqa] if plan.subqa else [],
    output:
        P("subquestions"),
    log:
        LOG("subquestions"),
    benchmark:
        BENCH("subquestions")
    conda:
        ENV_CPU
    params:
        subqa=["--subqa", plan.subqa] if plan.subqa else [],
    shell:
        "steper evaluate subquestions --records {input.records:q} {params.subqa:q} --output {output:q} 2> {log:q}"
