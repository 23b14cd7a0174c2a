"""Corpora -> BM25 indexes (pyserini Lucene and/or bm25s, same k1/b) -> retrieval recall table."""

BM25 = {"k1": config["retrieval"]["k1"], "b": config["retrieval"]["b"]}


rule index:
    input:
        R("corpus/{dataset}.jsonl"),
    output:
        directory(R("index/{dataset}/{backend}")),
    params:
        settings=as_json(dict(BM25, threads=2)),
    threads: 2
    conda:
        ENV_CPU
    log:
        LOG("retrieval/index/{dataset}_{backend}"),
    benchmark:
        BENCH("retrieval/index/{dataset}_{backend}")
    shell:
        "steper retrieval index --corpus {input} --backend {wildcards.backend} --output {output}"
        " --settings {params.settings:q} 2> {log}"


rule retrieval_eval:
    input:
        records=R("data/{dataset}/test.jsonl"),
        indexes=expand(R("index/{{dataset}}/{backend}"), backend=BACKENDS),
    output:
        R("retrieval/{dataset}.json"),
    params:
        backends=" ".join(BACKENDS),
        settings=as_json(dict(BM25, ks=config["retrieval"]["eval_k"])),
    conda:
        ENV_CPU
    log:
        LOG("retrieval/evaluate/{dataset}"),
    benchmark:
        BENCH("retrieval/evaluate/{dataset}")
    shell:
        "steper retrieval evaluate --records {input.records} --index-dir $(dirname {input.indexes[0]})"
        " --backends {params.backends} --dataset {wildcards.dataset} --output {output}"
        " --settings {params.settings:q} 2> {log}"
