"""The config schema is the only place a default lives.

Every settings dataclass of the package is found by walking its modules; each must be mapped to
the schema keys its fields come from, and every Python default must equal the schema's default
for that key. A stage run by hand then does the same science as the stage run by Snakemake.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import steper
from steper.settings import schema_default

# class -> (schema section of its fields, {field: schema key elsewhere}); None = a field with no schema key.
SCHEMA_KEYS: dict[str, tuple[str, dict[str, str | None]]] = {
    "steper.data.split.SplitSettings": ("data.split", {}),
    "steper.data.toy.ToySettings": ("data.toy", {}),
    "steper.retrieval.index.IndexSettings": ("retrieval", {}),
    "steper.retrieval.evaluation.RetrievalEvalSettings": ("retrieval", {}),
    "steper.frameworks.runner.FrameworkSettings": (
        "teacher.framework", {"retrieval_backend": "retrieval.backend", "k1": "retrieval.k1", "b": "retrieval.b"}),
    "steper.models.generation.GenerationSettings": (
        "teacher.generation", {"chat_template": "models.*.chat_template", "seed": "seed", "tensor_parallel_size": "teacher.resources.gpus"}),
    "steper.models.tiny.RandomModelSettings": ("models.*.random", {}),
    "steper.models.gguf.GGUFSettings": ("models.*", {"wheel": None}),
    "steper.models.hub.DownloadSettings": ("models.*", {"repo_id": "models.*.path"}),
    "steper.models.prune.PruneSettings": ("models.*", {}),
    "steper.train.settings.MethodSettings": ("methods.*", {}),
    "steper.train.settings.TrainingSettings": ("training", {"seed": "seed", "gpus": "training.resources.gpus"}),
    "steper.train.settings.StudentSettings": ("models.*", {"dtype": "models.*.storage_dtype"}),
    "steper.train.settings.CheckpointSettings": ("training.checkpoint", {}),
    "steper.train.settings.TrainSettings": ("", {}),  # sections only
    "steper.stepwise.build.StepwiseSettings": ("stepwise", {"variants": None}),
    "steper.paper.definitions.PaperSettings": (
        "paper", {"run": "run", "datasets": "datasets", "frameworks": "frameworks", "methods": None, "students": None,
                  "baselines": "evaluation.baselines", "teacher": None, "scaling_teacher": None}),
    "steper.evaluate.cli.EvaluateSettings": ("", {"framework": "teacher.framework", "generation": "evaluation.generation"}),
    "steper.evaluate.bootstrap.BootstrapSettings": ("paper.bootstrap", {}),
    "steper.frameworks.chain.LoopSettings": ("teacher.framework", {}),
    "steper.frameworks.cli.TeacherSettings": ("", {"framework": "teacher.framework", "generation": "teacher.generation"}),
    "steper.finetune.gold_traces.GoldSettings": (
        "models.*.gold", {"datasets": "datasets", "frameworks": "frameworks", "toy": "data.toy", "framework": "teacher.framework"}),
}

OPTIONAL_IMPORTS = {"vllm", "deepspeed"}


def settings_classes() -> dict[str, type]:
    found = {}
    for module_info in pkgutil.walk_packages(steper.__path__, "steper."):
        try:
            module = importlib.import_module(module_info.name)
        except ImportError as error:
            if error.name in OPTIONAL_IMPORTS:
                continue
            raise
        for name, value in vars(module).items():
            if dataclasses.is_dataclass(value) and name.endswith("Settings") and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


CLASSES = settings_classes()


def python_default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def schema_value(key: str):
    try:
        return schema_default(key)
    except KeyError:
        return "<no default in the schema>"


def mismatches(path: str) -> list[str]:
    section, keys = SCHEMA_KEYS[path]
    problems = []
    for field in dataclasses.fields(CLASSES[path]):
        default = python_default(field)
        if default is dataclasses.MISSING or dataclasses.is_dataclass(default):
            continue
        key = keys.get(field.name, f"{section}.{field.name}" if section else field.name)
        if key is None:
            problems.append(f"{field.name}: Python default {default!r}, but the schema has no key for it")
            continue
        expected = schema_value(key)
        if expected != default:
            problems.append(f"{field.name}: Python default {default!r}, schema {key} = {expected!r}")
    return problems


def test_every_settings_class_is_mapped_to_the_schema():
    assert sorted(set(CLASSES) - set(SCHEMA_KEYS)) == []
    assert len(CLASSES) >= 10


@pytest.mark.parametrize("path", sorted(CLASSES))
def test_python_defaults_are_the_schema_defaults(path):
    assert mismatches(path) == []
