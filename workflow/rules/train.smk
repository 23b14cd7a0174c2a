"""Step-wise data -> students, one per training identity x student x dataset x framework x seed (code: steper/train/).

Methods that are the same computation (same kinds, same weighting, same step budget;
steper/plan/grid.py) share one job and one directory, named after the first of them in the config;
evaluation and tables still list every method name. The seed is part of the `{hparams}` segment
(`experiments[].seeds`), so each seed's student has its own directory and the rule reads its seed
from that segment. A method with `match_steps_of` also reads the other method's step-wise data,
whose size sets its number of optimizer steps.

Checkpoints live beside the student directory (`steper.layout.checkpoints_dir`), not in it:
Snakemake deletes a job's outputs before it reruns the job, and the rerun resumes from them.
"""


rule train:
    input:
        data=lambda w: plan.train_data(w.framework, w.dataset, w.student, w.method),
        match=lambda w: plan.match_data(w.framework, w.dataset, w.student, w.method),
        model=lambda w: plan.model_dir(w.student),
    output:
        directory(P("student", stepwise_tag=plan.stepwise_tag)),
    log:
        LOG("train"),
    benchmark:
        BENCH("train")
    wildcard_constraints:
        method=one_of(dict.fromkeys(plan.trained.values())),
        hparams=one_of(plan.seed_of_hparams),
    conda:
        ENV_GPU
    threads: config["training"]["resources"]["threads"]
    resources:
        **plan.resources("training"),
    params:
        settings=lambda w: plan.train_settings(w.student, w.method, w.hparams),
        match=lambda w, input: ["--match-data", input.match] if input.match else [],
    shell:
        "OMP_NUM_THREADS={threads} steper train run --threads {threads} --data {input.data:q} --model {input.model:q}"
        " {params.match:q} --output {output:q} --settings {params.settings:q} 2> {log:q}"
