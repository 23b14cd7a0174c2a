"""Corpora -> BM25 indexes (pyserini Lucene and/or bm25s, same k1/b) -> retrieval recall table (code: steper/retrieval/)."""


rule index:
    input:
        P("corpus"),
    output:
        directory(P("index")),
    log:
        LOG("index"),
    benchmark:
        BENCH("index")
    conda:
        ENV_CPU
    threads: config["retrieval"]["threads"]
    params:
        settings=plan.index_settings(),
    shell:
        "steper retrieval index --corpus {input:q} --backend {wildcards.backend:q} --output {output:q} --settings {params.settings:q} 2> {log:q}"


rule retrieval_eval:
    input:
        records=P("records", split="test"),
        indexes=expand(P("index"), backend=plan.backends, allow_missing=True),
    output:
        P("retrieval"),
    log:
        LOG("retrieval_eval"),
    benchmark:
        BENCH("retrieval_eval")
    conda:
        ENV_CPU
    params:
        index_dir=lambda w: plan.index_dir(w.dataset),
        backends=plan.backends,
        settings=plan.retrieval_eval_settings(),
    shell:
        "steper retrieval evaluate --records {input.records:q} --index-dir {params.index_dir:q}"
        " --backends {params.backends:q} --dataset {wildcards.dataset:q} --output {output:q}"
        " --settings {params.settings:q} 2> {log:q}"
