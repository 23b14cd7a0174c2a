"""Step-wise data -> students, one per method x student x dataset x framework (code: steper/distill/)."""


def train_data(wildcards):
    teacher = STUDENTS[wildcards.student]["teacher"]
    variant = METHODS[wildcards.method]["data"]
    return R(f"stepwise/{wildcards.framework}/{wildcards.dataset}/{teacher}/{variant}.jsonl")


def train_settings(wildcards):
    training = training_settings()
    student = MODELS[wildcards.student]
    return as_json(
        {
            "method": METHODS[wildcards.method],
            "training": training,
            "student": {"chat_template": student["chat_template"], "dtype": student["dtype"]},
        }
    )


rule train:
    input:
        data=train_data,
        model=lambda w: model_dir(w.student),
    output:
        directory(R("students/{framework}/{dataset}/{student}/{method}/{hparams}")),
    wildcard_constraints:
        hparams=re.escape(HPARAMS),
    params:
        settings=train_settings,
    threads: config["training"]["resources"]["threads"]
    resources:
        **resources("training"),
    conda:
        ENV_GPU
    log:
        LOG("train/{framework}/{dataset}/{student}/{method}/{hparams}"),
    benchmark:
        BENCH("train/{framework}/{dataset}/{student}/{method}/{hparams}")
    shell:
        "OMP_NUM_THREADS={threads} steper train run --data {input.data} --model {input.model} --output {output}"
        " --settings {params.settings:q} 2> {log}"
