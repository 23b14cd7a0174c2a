"""Teacher traces -> first / mid / final step-wise examples, per data variant (code: steper/distill/stepwise.py).

The directory holds the target and filter settings (STEPWISE_TAG), so changing either builds new files.
"""


rule stepwise:
    input:
        traces=P("traces", model="{teacher}", split="train"),
        corpus=P("corpus"),
        tokenizer=lambda w: model_dir(w.teacher),
    output:
        examples=expand(P("stepwise", stepwise_tag=STEPWISE_TAG), variant=VARIANTS, allow_missing=True),
        stats=P("stepwise_stats", stepwise_tag=STEPWISE_TAG),
    log:
        LOG(f"stepwise/{{framework}}/{{dataset}}/{{teacher}}/{STEPWISE_TAG}"),
    benchmark:
        BENCH(f"stepwise/{{framework}}/{{dataset}}/{{teacher}}/{STEPWISE_TAG}")
    wildcard_constraints:
        teacher=one_of(TEACHERS),
    conda:
        ENV_CPU
    params:
        directory=lambda w: stepwise_dir(w.framework, w.dataset, w.teacher),
        settings=as_json({"target": config["stepwise"]["target"], "filter": config["stepwise"]["filter"], "variants": VARIANTS}),
    shell:
        "steper stepwise build --traces {input.traces:q} --corpus {input.corpus:q} --framework {wildcards.framework:q}"
        " --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"
