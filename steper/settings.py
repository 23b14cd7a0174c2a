"""Stage settings: a dataclass per stage, filled from the JSON the Snakemake rule passes.

The rule hands each stage its slice of the validated config as `--settings '<json>'` (or a path to
a JSON/YAML file, for people running a stage by hand). Parsing into a dataclass rejects unknown
keys, and the resolved settings are saved beside the artifact they produced.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, TypeVar

import yaml

from steper.io import InputError, open_text, write_json

T = TypeVar("T")

# The config schema is the one place a default lives; the package ships it (a link to
# workflow/schemas/config.schema.yaml in a checkout, a copy in a wheel).
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def config_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = config_schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_node(key: str) -> dict[str, Any]:
    """The schema of a dotted config key, e.g. "retrieval.k1" or "models.*.revision" (* = any name)."""
    node: dict[str, Any] = config_schema()
    for part in key.split("."):
        node = _resolve(node)
        node = node["additionalProperties"] if part == "*" else node["properties"][part]
    return node


def schema_default(key: str) -> Any:
    """The schema's default of a dotted config key; KeyError if it has none."""
    node = schema_node(key)
    if "default" not in node:
        node = _resolve(node)
    return copy.deepcopy(node["default"])


def from_schema(key: str) -> Any:
    """A dataclass field whose default is the schema's, so a stage run by hand gets the same science."""
    value = schema_default(key)
    if isinstance(value, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value))
    return dataclasses.field(default=value)


def parse_settings(value: str | dict[str, Any] | None, cls: type[T], source: str = "--settings") -> T:
    """Build `cls` from a JSON string, a JSON/YAML file path or a dict; unknown keys are an error."""
    if value is None or value == "":
        data: dict[str, Any] = {}
    elif isinstance(value, dict):
        data = value
    elif value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as error:
            raise InputError(source, f"malformed JSON ({error.msg})") from None
    else:
        source = value
        with open_text(value) as handle:
            try:
                data = yaml.safe_load(handle) or {}
            except yaml.YAMLError as error:
                raise InputError(value, f"malformed JSON/YAML ({error})".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise InputError(source, "settings must be a mapping")
    names = {field.name for field in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise InputError(source, f"unknown setting for {cls.__name__} (known: {', '.join(sorted(names))})", field=key)
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    for name in required:
        if name not in data:
            raise InputError(source, f"missing setting of {cls.__name__} (it has no default)", field=name)
    return cls(**data)


def settings_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)


def config_hash(data: Any) -> str:
    """A short, stable hash of a JSON-serialisable config (keys sorted)."""
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_revision() -> str | None:
    """The commit of the package's checkout, with '-dirty' when it has uncommitted changes outside
    results/ and paper/ (the demo's committed results are rewritten by the run that records this)."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        status = ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!paper"]
        dirty = subprocess.run(status, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def save_resolved(path: str | Path, settings: Any, **extra: Any) -> None:
    """Write the resolved settings, their hash and the git revision beside an artifact."""
    data = settings_dict(settings)
    write_json(path, {"settings": data, "config_hash": config_hash(data), "git_revision": git_revision(), **extra})
