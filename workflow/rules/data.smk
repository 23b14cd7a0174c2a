"""Raw data (generated toy world or official downloads) -> unified records -> IRCoT splits -> corpora (code: steper/data/)."""

if plan.toy:

    rule toy_world:
        output:
            raw=directory(P("raw")),
            demonstrations=P("annotations"),
        log:
            LOG("toy_world"),
        benchmark:
            BENCH("toy_world")
        conda:
            ENV_CPU
        params:
            settings=plan.toy_settings(),
        shell:
            "steper data toy --dataset {wildcards.dataset:q} --output-dir {output.raw:q}"
            " --demonstrations {output.demonstrations:q} --settings {params.settings:q} 2> {log:q}"

else:

    rule download:
        output:
            directory(P("raw", dataset="{name}")),
        log:
            LOG("download"),
        benchmark:
            BENCH("download")
        wildcard_constraints:
            name=one_of(plan.downloads),
        conda:
            ENV_CPU
        params:
            flags=plan.download_flags(),
        shell:
            "steper data download --dataset {wildcards.name:q} --output-dir {output:q} {params.flags:q} 2> {log:q}"

    rule annotations:
        input:
            records=expand(P("records_full"), part=["train", "dev"], allow_missing=True),
            followups=lambda w: plan.followups_file(w.dataset),
        output:
            P("annotations"),
        log:
            LOG("annotations"),
        benchmark:
            BENCH("annotations")
        conda:
            ENV_CPU
        params:
            url=lambda w: plan.annotations_url(w.dataset),
            followups=lambda w, input: ["--followups", input.followups] if input.followups else [],
            sums=plan.sums_flags(),
        shell:
            "steper teacher annotations --dataset {wildcards.dataset:q} --input {params.url:q} --records {input.records:q}"
            " {params.followups:q} {params.sums:q} --output {output:q} 2> {log:q}"


rule prepare:
    input:
        raw=P("raw"),
    output:
        P("records_full"),
    log:
        LOG("prepare"),
    benchmark:
        BENCH("prepare")
    wildcard_constraints:
        part="train|dev",
    conda:
        ENV_CPU
    params:
        flags=lambda w, input: plan.prepare_flags(w.dataset, w.part, input.raw),
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
        LOG("split"),
    benchmark:
        BENCH("split")
    conda:
        ENV_CPU
    params:
        directory=lambda w: P("records_dir", dataset=w.dataset),
        settings=plan.split_settings(),
    shell:
        "steper data split --train {input.train:q} --dev {input.dev:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"


rule corpus:
    input:
        unpack(lambda w: plan.corpus_sources(w.dataset)),
    output:
        P("corpus"),
    log:
        LOG("corpus"),
    benchmark:
        BENCH("corpus")
    conda:
        ENV_CPU
    params:
        flags=lambda w, input: plan.corpus_flags(w.dataset, input),
    shell:
        "steper data corpus --dataset {wildcards.dataset:q} {params.flags:q} --output {output:q} 2> {log:q}"
