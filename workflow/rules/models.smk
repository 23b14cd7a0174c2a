"""Base models: downloaded (paper), converted from GGUF (demo), layer-pruned, or tiny random (smoke) (code: steper/models/).

One rule per model source (steper/model_sources.py); the fine-tuned teacher has its own stage (finetune.smk).
"""


rule model_download:
    output:
        directory(P("model")),
    log:
        LOG("model_download"),
    benchmark:
        BENCH("model_download")
    wildcard_constraints:
        model=one_of(plan.models_from("hub")),
    conda:
        ENV_CPU
    params:
        repo=lambda w: MODELS[w.model]["path"],
        revision=lambda w: MODELS[w.model]["revision"],
    shell:
        "steper models download --repo-id {params.repo:q} --revision {params.revision:q} --output {output:q} 2> {log:q}"


rule model_gguf:
    output:
        directory(P("model")),
    log:
        LOG("model_gguf"),
    benchmark:
        BENCH("model_gguf")
    wildcard_constraints:
        model=one_of(plan.models_from("gguf")),
    conda:
        ENV_CPU
    params:
        package=lambda w: MODELS[w.model]["package"],
        file=lambda w: MODELS[w.model]["file"],
        sha256=lambda w: ["--sha256", MODELS[w.model]["sha256"]] if MODELS[w.model]["sha256"] else [],
        dtype=lambda w: MODELS[w.model]["storage_dtype"],
    shell:
        "steper models gguf --package {params.package:q} --file {params.file:q} {params.sha256:q} --dtype {params.dtype:q} --output {output:q} 2> {log:q}"


rule model_prune:
    input:
        lambda w: plan.base_model_dir(w.model),
    output:
        directory(P("model")),
    log:
        LOG("model_prune"),
    benchmark:
        BENCH("model_prune")
    wildcard_constraints:
        model=one_of(plan.models_from("prune")),
    conda:
        ENV_CPU
    params:
        layers=lambda w: ",".join(str(i) for i in MODELS[w.model]["keep_layers"]),
        dtype=lambda w: MODELS[w.model]["storage_dtype"],
    shell:
        "steper models prune --base {input:q} --keep-layers {params.layers:q} --dtype {params.dtype:q} --output {output:q} 2> {log:q}"


rule model_random:
    input:
        expand(P("corpus"), dataset=plan.datasets),
    output:
        directory(P("model")),
    log:
        LOG("model_random"),
    benchmark:
        BENCH("model_random")
    wildcard_constraints:
        model=one_of(plan.models_from("random")),
    conda:
        ENV_CPU
    params:
        settings=lambda w: plan.random_model_settings(w.model),
        dtype=lambda w: MODELS[w.model]["storage_dtype"],
    shell:
        "steper models random --corpus {input:q} --output {output:q} --settings {params.settings:q} --dtype {params.dtype:q} 2> {log:q}"
