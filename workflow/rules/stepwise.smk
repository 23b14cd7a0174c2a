"""Teacher traces -> first / mid / final step-wise examples, per data variant (code: steper/distill/stepwise.py).

The directory holds the target and filter settings (STEPWISE_TAG), so changing either builds new files.
"""


rule stepwise:
    input:
        traces=R("traces/{framework}/{dataset}/{teacher}/train.jsonl"),
        corpus=R("corpus/{dataset}.jsonl"),
        tokenizer=lambda w: model_dir(w.teacher),
    output:
        examples=expand(R(f"stepwise/{{{{framework}}}}/{{{{dataset}}}}/{{{{teacher}}}}/{STEPWISE_TAG}/{{variant}}.jsonl"), variant=VARIANTS),
        stats=R(f"stepwise/{{framework}}/{{dataset}}/{{teacher}}/{STEPWISE_TAG}/stats.json"),
    wildcard_constraints:
        teacher=one_of(TEACHERS),
    params:
        directory=lambda w: stepwise_dir(w.framework, w.dataset, w.teacher),
        settings=as_json({"target": config["stepwise"]["target"], "filter": config["stepwise"]["filter"], "variants": VARIANTS}),
    conda:
        ENV_CPU
    log:
        LOG(f"stepwise/{{framework}}/{{dataset}}/{{teacher}}/{STEPWISE_TAG}"),
    benchmark:
        BENCH(f"stepwise/{{framework}}/{{dataset}}/{{teacher}}/{STEPWISE_TAG}")
    shell:
        "steper stepwise build --traces {input.traces:q} --corpus {input.corpus:q} --framework {wildcards.framework:q}"
        " --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"
