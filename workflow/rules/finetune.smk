"""The fine-tuned teacher (model source finetune, the demo's): a base model trained to run IRCoT and
Self-Ask on gold chains of a toy world that shares no name with the question worlds (code: steper/finetune/).

Gold traces of every distilled framework -> step-wise examples of the kinds the teacher learns
(`models.<name>.stepwise` and `.method`) -> one training file -> the teacher, trained by the
training stage's `steper train run`.
"""


rule gold_traces:
    input:
        tokenizer=lambda w: plan.base_model_dir(w.model),
    output:
        corpus=P("gold_corpus"),
        traces=expand(P("gold_traces"), gold_framework=plan.distilled, allow_missing=True),
        summary=P("gold_summary"),
    log:
        LOG("gold_traces"),
    benchmark:
        BENCH("gold_traces")
    wildcard_constraints:
        model=one_of(plan.models_from("finetune")),
    conda:
        ENV_CPU
    params:
        directory=lambda w: P("gold_dir", model=w.model),
        settings=lambda w: plan.gold_settings(w.model),
    shell:
        "steper finetune gold-traces --tokenizer {input.tokenizer:q} --output-dir {params.directory:q} --settings {params.settings:q} 2> {log:q}"


rule gold_stepwise:
    input:
        traces=P("gold_traces"),
        corpus=P("gold_corpus"),
        tokenizer=lambda w: plan.base_model_dir(w.model),
    output:
        directory(P("gold_stepwise_dir")),
    log:
        LOG("gold_stepwise"),
    benchmark:
        BENCH("gold_stepwise")
    wildcard_constraints:
        model=one_of(plan.models_from("finetune")),
        gold_framework=one_of(plan.distilled),
    conda:
        ENV_CPU
    params:
        settings=lambda w: plan.gold_stepwise_settings(w.model),
    shell:
        "steper stepwise build --traces {input.traces:q} --corpus {input.corpus:q} --framework {wildcards.gold_framework:q}"
        " --tokenizer {input.tokenizer:q} --output-dir {output:q} --settings {params.settings:q} 2> {log:q}"


rule gold_examples:
    input:
        lambda w: [P("gold_stepwise_dir", model=w.model, gold_framework=f) for f in MODELS[w.model]["gold"]["frameworks"]],
    output:
        P("gold_examples"),
    log:
        LOG("gold_examples"),
    benchmark:
        BENCH("gold_examples")
    wildcard_constraints:
        model=one_of(plan.models_from("finetune")),
    conda:
        ENV_CPU
    params:
        examples=lambda w: [plan.gold_stepwise(w.model, f) for f in MODELS[w.model]["gold"]["frameworks"]],
    shell:
        "cat {params.examples:q} > {output:q} 2> {log:q}"


rule model_finetune:
    input:
        data=P("gold_examples"),
        base=lambda w: plan.base_model_dir(w.model),
    output:
        directory(P("model")),
    log:
        LOG("model_finetune"),
    benchmark:
        BENCH("model_finetune")
    wildcard_constraints:
        model=one_of(plan.models_from("finetune")),
    conda:
        ENV_GPU
    threads: config["training"]["resources"]["threads"]
    resources:
        **plan.resources("training"),
    params:
        settings=lambda w: plan.finetune_settings(w.model),
    shell:
        "OMP_NUM_THREADS={threads} steper train run --data {input.data:q} --model {input.base:q} --output {output:q}"
        " --settings {params.settings:q} 2> {log:q}"
