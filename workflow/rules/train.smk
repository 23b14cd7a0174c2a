"""Step-wise data -> students, one per training identity x student x dataset x framework (code: steper/distill/).

Methods that are the same computation (same kinds, same weighting; see `training_identity`) share
one job and one directory, named after the first of them in the config; evaluation and tables
still list every method name.
"""


rule train:
    input:
        data=train_data,
        model=lambda w: model_dir(w.student),
    output:
        directory(P("student", stepwise_tag=STEPWISE_TAG, hparams=HPARAMS)),
    log:
        LOG(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{HPARAMS}"),
    benchmark:
        BENCH(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{HPARAMS}")
    wildcard_constraints:
        method=one_of(TRAINED_METHODS.values()),
    conda:
        ENV_GPU
    threads: config["training"]["resources"]["threads"]
    resources:
        **resources("training"),
    params:
        settings=train_settings,
    shell:
        "OMP_NUM_THREADS={threads} steper train run --threads {threads} --data {input.data:q} --model {input.model:q}"
        " --output {output:q} --settings {params.settings:q} 2> {log:q}"
