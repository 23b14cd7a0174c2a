"""Step-wise data -> students, one per training identity x student x dataset x framework (code: steper/distill/).

Methods that are the same computation (same kinds, same weighting; see `training_identity`) share
one job and one directory, named after the first of them in the config; evaluation and tables
still list every method name.
"""


def train_data(wildcards):
    teacher = STUDENTS[wildcards.student]["teacher"]
    kinds, _ = training_identity(wildcards.method)
    return P("stepwise", framework=wildcards.framework, dataset=wildcards.dataset, teacher=teacher, stepwise_tag=STEPWISE_TAG, variant=kinds)


def train_settings(wildcards):
    training = training_settings()
    student = MODELS[wildcards.student]
    return as_json(
        {
            "method": {key: METHODS[wildcards.method].get(key) for key in ("data", "loss", "weights")},
            "training": training,
            "student": {"chat_template": student["chat_template"], "dtype": student["dtype"]},
        }
    )


rule train:
    input:
        data=train_data,
        model=lambda w: model_dir(w.student),
    output:
        directory(P("student", stepwise_tag=STEPWISE_TAG, hparams=HPARAMS)),
    wildcard_constraints:
        method=one_of(TRAINED_METHODS.values()),
    params:
        settings=train_settings,
    threads: config["training"]["resources"]["threads"]
    resources:
        **resources("training"),
    conda:
        ENV_GPU
    log:
        LOG(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{HPARAMS}"),
    benchmark:
        BENCH(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{HPARAMS}")
    shell:
        "OMP_NUM_THREADS={threads} steper train run --threads {threads} --data {input.data:q} --model {input.model:q}"
        " --output {output:q} --settings {params.settings:q} 2> {log:q}"
