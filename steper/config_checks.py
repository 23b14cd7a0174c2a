"""Checks of the config beyond its schema: names whose files would collide, and settings that would
change nothing.

A setting that changes nothing is worse than a missing one: the run looks configured and is not
(the demo once pinned `evaluation.generation.dtype: float32` while the evaluation took the model's
dtype). So a key the config files set that no job of this config reads is an error naming the key.
Each rule here reads the config as the files set it, before the schema's defaults fill it in:
a default never counts as a setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from steper import layout
from steper.model_sources import EVERY_SOURCE, MODEL_SOURCES

# Method names that would give a student's evaluation the path of another system's: `{model}--fewshot`
# is an in-context baseline, `{system}--seed{n}` a replicate trained with another seed.
RESERVED_METHOD = re.compile(rf"{re.escape(layout.FEWSHOT)}|{re.escape(layout.SEED_PREFIX)}[0-9]+")


def reserved_method_problems(methods: Mapping[str, Any]) -> list[str]:
    return [
        f"methods.{method}: reserved name (its evaluation files would be those of a few-shot baseline or of a seed replicate)"
        for method in methods
        if RESERVED_METHOD.fullmatch(method)
    ]


def _model_problems(name: str, spec: Mapping[str, Any], students: Mapping[str, Any]) -> list[str]:
    source = spec["source"]
    problems = []
    for key in sorted(set(spec) - EVERY_SOURCE - MODEL_SOURCES[source].keys):
        users = ", ".join(sorted(other for other, known in MODEL_SOURCES.items() if key in known.keys))
        problems.append(f"models.{name}.{key}: has no effect on a model of source '{source}' (only {users} use it)")
    if "storage_dtype" in spec and source in ("hub", "local") and name not in students:
        problems.append(f"models.{name}.storage_dtype: has no effect: a {source} model's files are used as they are, and no student is trained from it")
    return problems


def _method_problems(name: str, spec: Mapping[str, Any]) -> list[str]:
    loss, data = spec["loss"], spec["data"]
    kinds = ["final"] if loss == "vanilla" else data.split("-")
    problems = []
    if loss == "vanilla" and data != "final":
        problems.append(f"methods.{name}.data: has no effect: loss 'vanilla' trains on the final step only (write data: final)")
    if spec.get("weights") is not None and loss != "fixed":
        problems.append(f"methods.{name}.weights: has no effect with loss '{loss}' (only 'fixed' uses weights)")
    unused = sorted(set(spec.get("weights") or {}) - set(kinds))
    if loss == "fixed" and unused:
        problems.append(f"methods.{name}.weights: {', '.join(unused)} has no effect: data '{data}' has no such step")
    return problems


def ignored_settings(set_config: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Keys `set_config` (the config files and --config, before defaults) sets that no job of the
    validated `config` reads, as `key: why` lines."""
    problems = []
    for name, spec in set_config.get("models", {}).items():
        problems += _model_problems(name, spec, config["students"])
    data = set_config.get("data", {})
    source = config["data"]["source"]
    for key in ("annotations", "download") if source == "toy" else ("toy",):
        if key in data:
            problems.append(f"data.{key}: has no effect with data.source '{source}'")
    evaluation = set_config.get("evaluation", {})
    if not config["evaluation"]["baselines"]:
        for key, section in (("baseline_models", evaluation), ("framework.shots", evaluation.get("framework", {}))):
            if key.rpartition(".")[2] in section:
                problems.append(f"evaluation.{key}: has no effect: evaluation.baselines is empty (students run zero-shot)")
    for name in set_config.get("methods", {}):
        problems += _method_problems(name, config["methods"][name])
    if "subquestions" in set_config.get("paper", {}) and not any("subquestions" in spec["tables"] for spec in config["methods"].values()):
        problems.append("paper.subquestions: has no effect: no method lists the 'subquestions' table")
    return problems
