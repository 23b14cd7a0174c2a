"""Stage settings: a dataclass per stage, filled from the JSON the Snakemake rule passes.

The rule hands each stage its slice of the validated config as `--settings '<json>'` (or a path to
a JSON/YAML file, for people running a stage by hand). A stage run by hand gets the same checks as
the config: each field that comes from the config schema is validated against its schema key
(steper.config_validation), every other field against its type, unknown keys are an error, and
the resolved settings are saved beside the artifact they produced.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import subprocess
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

from steper.config_validation import config_schema, problems, resolve
from steper.io import InputError, write_json
from steper.strict_yaml import load_file, loads_json

T = TypeVar("T")
SCHEMA_KEY = "schema"  # dataclass field metadata: the dotted config key the field comes from


def schema_node(key: str) -> dict[str, Any]:
    """The schema of a dotted config key, e.g. "retrieval.k1" or "models.*.revision" (* = any name)."""
    node: dict[str, Any] = config_schema()
    for part in key.split("."):
        node = resolve(node)
        node = node["additionalProperties"] if part == "*" else node["properties"][part]
    return node


def schema_default(key: str) -> Any:
    """The schema's default of a dotted config key; KeyError if it has none."""
    node = schema_node(key)
    return copy.deepcopy(resolve(node, until_default=True)["default"])


def from_schema(key: str) -> Any:
    """A dataclass field whose default is the schema's, so a stage run by hand gets the same science,
    and whose `--settings` value is checked against the schema's rules for `key`."""
    value = schema_default(key)
    metadata = {SCHEMA_KEY: key}
    if isinstance(value, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value), metadata=metadata)
    return dataclasses.field(default=value, metadata=metadata)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def type_problem(value: Any, hint: Any) -> str | None:
    """Why `value` is not a `hint` (a field's annotation), or None; a float must be finite."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return None
    if origin in (Union, types.UnionType):
        return None if any(type_problem(value, arg) is None for arg in args) else f"expected {' or '.join(map(_type_name, args))}, got {value!r:.60}"
    if hint is type(None):
        return None if value is None else "expected null"
    if dataclasses.is_dataclass(hint):
        return None if isinstance(value, (dict, hint)) else f"expected a mapping, got {value!r:.60}"
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return f"expected a list, got {value!r:.60}"
        item = args[0] if args else Any
        return next((f"[{i}]: {problem}" for i, element in enumerate(value) if (problem := type_problem(element, item))), None)
    elif origin is dict or hint is dict:
        if not isinstance(value, dict):
            return f"expected a mapping, got {value!r:.60}"
        item = args[1] if len(args) == 2 else Any
        return next((f"[{key!r}]: {problem}" for key, element in value.items() if (problem := type_problem(element, item))), None)
    elif isinstance(hint, type):
        ok = isinstance(value, hint)
    else:
        return None
    return None if ok else f"expected {_type_name(hint)}{' (finite)' if hint is float else ''}, got {value!r:.60}"


def _read_settings(value: str, source: str) -> tuple[Any, str]:
    """`--settings` text, inline JSON or the path of a JSON/YAML file: (data, what to name in errors)."""
    if value.lstrip().startswith(("{", "[")):
        return loads_json(value, source), source
    if os.path.exists(value):
        return load_file(value), value
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return load_file(value), value  # names the missing file
    raise InputError(source, f"expected a JSON object or the path of a settings file, got {value!r:.60}")


def parse_settings(value: str | dict[str, Any] | None, cls: type[T], source: str = "--settings") -> T:
    """Build `cls` from a JSON string, a JSON/YAML file path or a dict; an unknown key, a missing
    required one, or a value the schema (or the field's type) does not allow is an InputError."""
    if value is None or value == "":
        data: Any = {}
    elif isinstance(value, dict):
        data = value
    else:
        data, source = _read_settings(value, source)
    if not isinstance(data, dict):
        raise InputError(source, f"settings must be a mapping of {cls.__name__}'s fields, got {type(data).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise InputError(source, f"unknown setting for {cls.__name__} (known: {', '.join(sorted(fields))})", field=str(key))
    required = [name for name, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    for name in required:
        if name not in data:
            raise InputError(source, f"missing setting of {cls.__name__} (it has no default)", field=name)
    hints = typing.get_type_hints(cls)
    for key, item in data.items():
        schema_key = fields[key].metadata.get(SCHEMA_KEY)
        found = problems(item, schema_node(schema_key), where=key) if schema_key else []
        if not found and (problem := type_problem(item, hints[key])):
            found = [f"{key}{'' if problem.startswith('[') else ': '}{problem}"]
        if found:
            where, _, message = found[0].partition(": ")
            raise InputError(source, f"{message} (as config key {schema_key})" if schema_key else message, field=where)
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
