"""Rule -> the stage segment of its log and benchmark paths (layout's `log` and `benchmark`).

The rules take their `log:` and `benchmark:` from here and the paper manifest lists the benchmark
files of the jobs it renders from the same table, so the cost table's rows are the files the jobs
wrote. `{name}` fields are the rule's wildcards, except `{stepwise_tag}`, which the plan fills.
"""

from __future__ import annotations

from steper import layout

STUDENT = layout.student_system("{student}", "{method}")
SEEDED_STUDENT = layout.seed_system(STUDENT, "{seed}")

STAGES: dict[str, str] = {
    "toy_world": "data/toy_world/{dataset}",
    "download": "data/download/{name}",
    "annotations": "data/annotations/{dataset}",
    "prepare": "data/prepare/{dataset}_{part}",
    "split": "data/split/{dataset}",
    "corpus": "data/corpus/{dataset}",
    "subquestions": "data/subquestions/{dataset}",
    "index": "retrieval/index/{dataset}_{backend}",
    "retrieval_eval": "retrieval/evaluate/{dataset}",
    "model_download": "models/download/{model}",
    "model_gguf": "models/gguf/{model}",
    "model_prune": "models/prune/{model}",
    "model_random": "models/random/{model}",
    "gold_traces": "models/gold/{model}",
    "gold_stepwise": "models/gold/{model}.{gold_framework}.stepwise",
    "gold_examples": "models/gold/{model}.examples",
    "model_finetune": "models/finetune/{model}",
    "teacher_shard": "teacher/{framework}/{dataset}/{model}/{split}.{shard}-of-{n}",
    "teacher_merge": "teacher/{framework}/{dataset}/{model}/{split}.merge",
    "teacher_import": "teacher_import/{traced}/train",
    "stepwise": "stepwise/{framework}/{dataset}/{teacher}/{stepwise_tag}",
    "train": "train/{framework}/{dataset}/{student}/{method}/{stepwise_tag}/{hparams}",
    "evaluate_student": f"evaluate/{{framework}}/{{dataset}}/{STUDENT}",
    "evaluate_student_seed": f"evaluate/{{framework}}/{{dataset}}/{SEEDED_STUDENT}",
    "evaluate_baseline": f"evaluate/{{baseline}}/{{dataset}}/{layout.fewshot_system('{model}')}",
    "evaluate_transfer": f"evaluate/transfer/{{framework}}/{{trained_on}}/{{dataset}}/{STUDENT}",
    "evaluate_subquestions": f"evaluate/subquestions/{{framework}}/{{dataset}}/{STUDENT}",
    "paper_manifest": "paper/manifest",
    "paper": "paper/render",
    "check": "paper/check",
}


def stage(rule: str, **values: object) -> str:
    """The stage segment of `rule` with the given fields filled; the others stay wildcards."""
    template = STAGES[rule]
    for name, value in values.items():
        if f"{{{name}}}" not in template:
            raise KeyError(f"{rule}: no field {name} in {template!r}")
        template = template.replace(f"{{{name}}}", str(value))
    return template
