"""Step-wise data -> students, one per training identity x student x dataset x framework x seed (code: steper/distill/).

Methods that are the same computation (same kinds, same weighting, same step budget; see
`training_identity`) share one job and one directory, named after the first of them in the config;
evaluation and tables still list every method name. The seed is part of the `{hparams}` segment
(`experiments[].seeds`), so each seed's student has its own directory and the rule reads its seed
from that segment. A method with `match_steps_of` also reads the other method's step-wise data,
whose size sets its number of optimizer steps.

Checkpoints live beside the student directory (`steper.layout.checkpoints_dir`), not in it:
Snakemake deletes a job's outputs before it reruns the job, and the rerun resumes from them.
"""


rule train:
    input:
        data=train_data,
        match=match_data,
        model=lambda w: model_dir(w.student),
    output:
        directory(P("student", stepwise_tag=STEPWISE_TAG)),
    log:
        LOG(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{{hparams}}"),
    benchmark:
        BENCH(f"train/{{framework}}/{{dataset}}/{{student}}/{{method}}/{STEPWISE_TAG}/{{hparams}}")
    wildcard_constraints:
        method=one_of(TRAINED_METHODS.values()),
        hparams=one_of(SEED_OF_HPARAMS),
    conda:
        ENV_GPU
    threads: config["training"]["resources"]["threads"]
    resources:
        **resources("training"),
    params:
        settings=train_settings,
        match=match_flags,
    shell:
        "OMP_NUM_THREADS={threads} steper train run --threads {threads} --data {input.data:q} --model {input.model:q}"
        " {params.match:q} --output {output:q} --settings {params.settings:q} 2> {log:q}"
