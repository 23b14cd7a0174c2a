"""Teacher traces -> first / mid / final step-wise examples, per data variant (code: steper/stepwise/).

The directory holds the target and filter settings (the step-wise tag), so changing either builds new files.
"""


rule stepwise:
    input:
        traces=P("traces", model="{teacher}", split="train"),
        corpus=P("corpus"),
        # only token counts: the tokenizer the teacher keeps from its base, so imported traces need no teacher built
        tokenizer=lambda w: plan.tokenizer_dir(w.teacher),
    output:
        examples=expand(P("stepwise", stepwise_tag=plan.stepwise_tag), variant=plan.variants, allow_missing=True),
        stats=P("stepwise_stats", stepwise_tag=plan.stepwise_tag),
    log:
        LOG("stepwise"),
    benchmark:
        BENCH("stepwise")
    wildcard_constraints:
        teacher=one_of(plan.teachers),
    conda:
        ENV_CPU
    params:
        directory=lambda w: plan.stepwise_dir(w.framework, w.dataset, w.teacher),
        settings=plan.stepwise_settings(),
    shell:
        "steper stepwise build --traces {input.traces:q} --corpus {input.corpus:q} --framework {wildcards.framework:q}"
        " --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"
