"""Students (zero-shot) and in-context baselines (few-shot) on the test questions (code: steper/evaluate/).

Systems are named `{student}--{method}` for trained students and `{model}--fewshot` for in-context
baselines of every teacher and every student's base model.
"""

def evaluate_settings(framework_section, generation_section, model, shots=None):
    return as_json(
        {
            "framework": framework_settings(framework_section, shots=shots),
            "generation": generation_settings(generation_section, model),
        }
    )


rule evaluate_student:
    input:
        records=R("data/{dataset}/test.jsonl"),
        index=R(f"index/{{dataset}}/{config['retrieval']['backend']}"),
        model=R(f"students/{{framework}}/{{dataset}}/{{student}}/{{method}}/{HPARAMS}"),
    output:
        metrics=R("eval/{framework}/{dataset}/{student}--{method}.json"),
        predictions=R("eval/{framework}/{dataset}/{student}--{method}.predictions.jsonl"),
    params:
        settings=lambda w: evaluate_settings(config["teacher"]["framework"], "evaluation", w.student, shots=0),
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        **resources("evaluation"),
    conda:
        ENV_GPU
    log:
        LOG("evaluate/{framework}/{dataset}/{student}--{method}"),
    benchmark:
        BENCH("evaluate/{framework}/{dataset}/{student}--{method}")
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.framework} --dataset {wildcards.dataset}"
        " --system {wildcards.student}--{wildcards.method} --records {input.records} --index-dir $(dirname {input.index})"
        " --model {input.model} --predictions {output.predictions} --output {output.metrics}"
        " --settings {params.settings:q} 2> {log}"


def baseline_section(model):
    """Teachers keep their own (large-model) generation settings and resources; student bases use the evaluation ones."""
    return "teacher" if model in TEACHERS else "evaluation"


rule evaluate_baseline:
    input:
        records=R("data/{dataset}/test.jsonl"),
        index=R(f"index/{{dataset}}/{config['retrieval']['backend']}"),
        model=lambda w: model_dir(w.model),
        demonstrations=lambda w: demonstrations(w.dataset),
    output:
        metrics=R("eval/{baseline}/{dataset}/{model}--fewshot.json"),
        predictions=R("eval/{baseline}/{dataset}/{model}--fewshot.predictions.jsonl"),
    wildcard_constraints:
        baseline=one_of(BASELINES),
        model=one_of(BASELINE_MODELS),
    params:
        settings=lambda w: evaluate_settings(config["teacher"]["framework"], baseline_section(w.model), w.model),
    threads: config["evaluation"]["resources"]["threads"]
    resources:
        mem_mb=lambda w: resources(baseline_section(w.model))["mem_mb"],
        runtime=lambda w: resources(baseline_section(w.model))["runtime"],
        gpu=lambda w: resources(baseline_section(w.model)).get("gpu", 0),
    conda:
        ENV_GPU
    log:
        LOG("evaluate/{baseline}/{dataset}/{model}--fewshot"),
    benchmark:
        BENCH("evaluate/{baseline}/{dataset}/{model}--fewshot")
    shell:
        "OMP_NUM_THREADS={threads} steper evaluate run --framework {wildcards.baseline} --dataset {wildcards.dataset}"
        " --system {wildcards.model}--fewshot --records {input.records} --index-dir $(dirname {input.index})"
        " --model {input.model} --demonstrations {input.demonstrations} --predictions {output.predictions}"
        " --output {output.metrics} --settings {params.settings:q} 2> {log}"
