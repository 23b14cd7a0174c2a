"""Corpora -> BM25 indexes (pyserini Lucene and/or bm25s, same k1/b) -> retrieval recall table."""


rule index:
    input:
        P("corpus"),
    output:
        directory(P("index")),
    log:
        LOG("retrieval/index/{dataset}_{backend}"),
    benchmark:
        BENCH("retrieval/index/{dataset}_{backend}")
    conda:
        ENV_CPU
    threads: config["retrieval"]["threads"]
    params:
        settings=as_json({key: config["retrieval"][key] for key in ("k1", "b", "threads")}),
    shell:
        "steper retrieval index --corpus {input:q} --backend {wildcards.backend:q} --output {output:q} --settings {params.settings:q} 2> {log:q}"


rule retrieval_eval:
    input:
        records=P("records", split="test"),
        indexes=expand(P("index"), backend=BACKENDS, allow_missing=True),
    output:
        P("retrieval"),
    log:
        LOG("retrieval/evaluate/{dataset}"),
    benchmark:
        BENCH("retrieval/evaluate/{dataset}")
    conda:
        ENV_CPU
    params:
        index_dir=lambda w, input: os.path.dirname(input.indexes[0]),
        backends=BACKENDS,
        settings=as_json({key: config["retrieval"][key] for key in ("eval_k", "k1", "b", "agreement_k")}),
    shell:
        "steper retrieval evaluate --records {input.records:q} --index-dir {params.index_dir:q}"
        " --backends {params.backends:q} --dataset {wildcards.dataset:q} --output {output:q}"
        " --settings {params.settings:q} 2> {log:q}"
