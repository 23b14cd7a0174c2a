"""Raw data (generated toy world or official downloads) -> unified records -> IRCoT splits -> corpora."""

if TOY:

    rule toy_world:
        output:
            raw=directory(P("raw")),
            demonstrations=P("annotations"),
        params:
            settings=as_json(config["data"]["toy"]),
        conda:
            ENV_CPU
        log:
            LOG("data/toy_world/{dataset}"),
        benchmark:
            BENCH("data/toy_world/{dataset}")
        shell:
            "steper data toy --dataset {wildcards.dataset:q} --output-dir {output.raw:q}"
            " --demonstrations {output.demonstrations:q} --settings {params.settings:q} 2> {log:q}"

else:

    rule download:
        output:
            directory(P("raw", dataset="{name}")),
        wildcard_constraints:
            name="hotpotqa|hotpotqa-wiki|2wikimultihopqa|musique",
        conda:
            ENV_CPU
        log:
            LOG("data/download/{name}"),
        benchmark:
            BENCH("data/download/{name}")
        shell:
            "steper data download --dataset {wildcards.name:q} --output-dir {output:q} 2> {log:q}"

    rule annotations:
        input:
            records=expand(P("records_full"), part=["train", "dev"], allow_missing=True),
        output:
            P("annotations"),
        params:
            url=lambda w: config["data"]["annotations"]["url"].format(dataset=w.dataset),
        conda:
            ENV_CPU
        log:
            LOG("data/annotations/{dataset}"),
        benchmark:
            BENCH("data/annotations/{dataset}")
        shell:
            "steper teacher annotations --dataset {wildcards.dataset:q} --input {params.url:q} --records {input.records:q}"
            " --output {output:q} 2> {log:q}"


rule prepare:
    input:
        raw=P("raw"),
    output:
        P("records_full"),
    wildcard_constraints:
        part="train|dev",
    params:
        flags=prepare_flags,
    conda:
        ENV_CPU
    log:
        LOG("data/prepare/{dataset}_{part}"),
    benchmark:
        BENCH("data/prepare/{dataset}_{part}")
    shell:
        "steper data prepare --dataset {wildcards.dataset:q} {params.flags:q} --output {output:q} 2> {log:q}"


rule split:
    input:
        train=P("records_full", part="train"),
        dev=P("records_full", part="dev"),
    output:
        train=P("records", split="train"),
        dev=P("records", split="dev"),
        test=P("records", split="test"),
    params:
        directory=P("records_dir"),
        settings=as_json(config["data"]["split"]),
    conda:
        ENV_CPU
    log:
        LOG("data/split/{dataset}"),
    benchmark:
        BENCH("data/split/{dataset}")
    shell:
        "steper data split --train {input.train:q} --dev {input.dev:q} --output-dir {params.directory:q}"
        " --settings {params.settings:q} 2> {log:q}"


rule corpus:
    input:
        unpack(corpus_sources),
    output:
        P("corpus"),
    params:
        flags=corpus_flags,
    conda:
        ENV_CPU
    log:
        LOG("data/corpus/{dataset}"),
    benchmark:
        BENCH("data/corpus/{dataset}")
    shell:
        "steper data corpus --dataset {wildcards.dataset:q} {params.flags:q} --output {output:q} 2> {log:q}"
