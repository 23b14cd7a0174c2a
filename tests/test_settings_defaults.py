"""The config schema is the only place a default lives.

Every settings dataclass of the package is found by walking its modules; each must be mapped to
the schema keys its fields come from, and every Python default must be read from the schema
(`steper.settings.from_schema`) under that key: a literal default, even one equal to the schema's
today, is a second copy that drifts. A stage run by hand then does the same science as the stage
run by Snakemake.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import steper
from steper.settings import SCHEMA_KEY, schema_default

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
    "steper.evaluate.bootstrap.BootstrapSettings": ("paper.bootstrap", {}),
    "steper.frameworks.chain.LoopSettings": ("teacher.framework", {}),
    "steper.frameworks.runner.RunSettings": ("", {}),  # slices only
    "steper.finetune.gold_traces.GoldSettings": (
        "models.*.gold", {"datasets": "datasets", "frameworks": "frameworks", "toy": "data.toy", "framework": None}),
}

# Fields whose literal default is not a copy of a schema default, and why.
LITERAL_DEFAULTS: dict[str, str] = {
    "steper.train.settings.MethodSettings.match_steps_of":
        "the {data, loss} of the matched method, resolved by the workflow from the config's method name (a string there)",
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


def schema_key(path: str, field: dataclasses.Field) -> str | None:
    section, keys = SCHEMA_KEYS[path]
    return keys.get(field.name, f"{section}.{field.name}" if section else field.name)


def literal_defaults(path: str) -> list[str]:
    """Fields whose default is written in Python instead of read from the schema under their key."""
    problems = []
    for field in dataclasses.fields(CLASSES[path]):
        default = python_default(field)
        if default is dataclasses.MISSING or dataclasses.is_dataclass(default) or f"{path}.{field.name}" in LITERAL_DEFAULTS:
            continue
        read_from = field.metadata.get(SCHEMA_KEY)
        if read_from is None:
            problems.append(f"{field.name}: literal default {default!r}, not from_schema({schema_key(path, field)!r})")
        elif read_from != schema_key(path, field):
            problems.append(f"{field.name}: default read from {read_from}, but the class is mapped to {schema_key(path, field)}")
    return problems


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


@pytest.mark.parametrize("path", sorted(CLASSES))
def test_python_defaults_are_read_from_the_schema(path):
    assert literal_defaults(path) == []


def test_a_literal_default_equal_to_the_schema_is_caught():
    """A copy of the schema's value passes the comparison but is still a second spelling."""
    k1 = schema_default("retrieval.k1")
    probe = dataclasses.make_dataclass("ProbeSettings", [("k1", float, dataclasses.field(default=k1))])
    CLASSES["probe.ProbeSettings"], SCHEMA_KEYS["probe.ProbeSettings"] = probe, ("retrieval", {})
    try:
        assert mismatches("probe.ProbeSettings") == []
        assert literal_defaults("probe.ProbeSettings") == [f"k1: literal default {k1!r}, not from_schema('retrieval.k1')"]
    finally:
        del CLASSES["probe.ProbeSettings"], SCHEMA_KEYS["probe.ProbeSettings"]


def test_every_literal_default_exemption_names_a_field():
    fields = {f"{path}.{field.name}" for path, cls in CLASSES.items() for field in dataclasses.fields(cls)}
    assert sorted(set(LITERAL_DEFAULTS) - fields) == []
