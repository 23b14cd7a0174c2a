"""Raw data (generated toy world or official downloads) -> unified records -> IRCoT splits -> corpora."""

if TOY:

    rule toy_world:
        output:
            raw=directory(P("raw")),
            demonstrations=P("annotations"),
        log:
            LOG("data/toy_world/{dataset}"),
        benchmark:
            BENCH("data/toy_world/{dataset}")
        conda:
            ENV_CPU
        params:
            settings=as_json(config["data"]["toy"]),
        shell:
            "steper data toy --dataset {wildcards.dataset:q} --output-dir {output.raw:q}"
            " --demonstrations {output.demonstrations:q} --settings {params.settings:q} 2> {log:q}"

else:

    rule download:
        output:
            directory(P("raw", dataset="{name}")),
        log:
            LOG("data/download/{name}"),
        benchmark:
            BENCH("data/download/{name}")
        wildcard_constraints:
            name="hotpotqa|hotpotqa-wiki|2wikimultihopqa|musique",
        conda:
            ENV_CPU
        params:
            flags=download_flags,
        shell:
            "steper data download --dataset {wildcards.name:q} --output-dir {output:q} {params.flags:q} 2> {log:q}"

    rule annotations:
        input:
            records=expand(P("records_full"), part=["train", "dev"], allow_missing=True),
            followups=followups_file,
        output:
            P("annotations"),
        log:
            LOG("data/annotations/{dataset}"),
        benchmark:
            BENCH("data/annotations/{dataset}")
        conda:
            ENV_CPU
        params:
            url=lambda w: config["data"]["annotations"]["url"].format(dataset=w.dataset),
            followups=lambda w, input: ["--followups", input.followups] if input.followups else [],
            # a mirror's sums file also pins the annotations it serves (the rehearsal's stand-ins)
            sums=lambda w: ["--sums", config["data"]["download"]["sha256"]] if config["data"]["download"]["sha256"] else [],
        shell:
            "steper teacher annotations --dataset {wildcards.dataset:q} --input {params.url:q} --records {input.records:q}"
            " {params.followups:q} {params.sums:q} --output {output:q} 2> {log:q}"


rule prepare:
    input:
        raw=P("raw"),
    output:
        P("records_full"),
    log:
        LOG("data/prepare/{dataset}_{part}"),
    benchmark:
        BENCH("data/prepare/{dataset}_{part}")
    wildcard_constraints:
        part="train|dev",
    conda:
        ENV_CPU
    params:
        flags=prepare_flags,
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
    log:
        LOG("data/split/{dataset}"),
    benchmark:
        BENCH("data/split/{dataset}")
    conda:
        ENV_CPU
    params:
        directory=lambda w, output: os.path.dirname(output.train),
        settings=as_json(config["data"]["split"]),
    shell:
        "steper data split --train {input.train:q} --dev {input.dev:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"


rule corpus:
    input:
        unpack(corpus_sources),
    output:
        P("corpus"),
    log:
        LOG("data/corpus/{dataset}"),
    benchmark:
        BENCH("data/corpus/{dataset}")
    conda:
        ENV_CPU
    params:
        flags=corpus_flags,
    shell:
        "steper data corpus --dataset {wildcards.dataset:q} {params.flags:q} --output {output:q} 2> {log:q}"
