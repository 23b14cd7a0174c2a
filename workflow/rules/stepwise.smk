"""Teacher traces -> first / mid / final step-wise examples, per data variant (code: steper/distill/stepwise.py)."""


rule stepwise:
    input:
        traces=R("traces/{framework}/{dataset}/{teacher}/train.jsonl"),
        corpus=R("corpus/{dataset}.jsonl"),
        tokenizer=lambda w: model_dir(w.teacher),
    output:
        examples=expand(R("stepwise/{{framework}}/{{dataset}}/{{teacher}}/{variant}.jsonl"), variant=VARIANTS),
        stats=R("stepwise/{framework}/{dataset}/{teacher}/stats.json"),
    wildcard_constraints:
        teacher=one_of(TEACHERS),
    params:
        settings=as_json({"filter": config["stepwise"]["filter"], "variants": VARIANTS}),
    conda:
        ENV_CPU
    log:
        LOG("stepwise/{framework}/{dataset}/{teacher}"),
    benchmark:
        BENCH("stepwise/{framework}/{dataset}/{teacher}")
    shell:
        "steper stepwise build --traces {input.traces} --corpus {input.corpus} --framework {wildcards.framework}"
        " --tokenizer {input.tokenizer} --output-dir $(dirname {output.stats}) --settings {params.settings:q} 2> {log}"
