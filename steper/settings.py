"""Stage settings: a dataclass per stage, filled from the JSON the Snakemake rule passes.

The rule hands each stage its slice of the validated config as `--settings '<json>'` (or a path to
a JSON/YAML file, for people running a stage by hand). Parsing into a dataclass rejects unknown
keys, and the resolved settings are saved beside the artifact they produced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, TypeVar

import yaml

from steper.io import InputError, write_json

T = TypeVar("T")


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
        path = Path(value)
        if not path.exists():
            raise InputError(value, "settings file does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise InputError(source, "settings must be a mapping")
    names = {field.name for field in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise InputError(source, f"unknown setting for {cls.__name__} (known: {', '.join(sorted(names))})", field=key)
    return cls(**data)


def settings_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)


def config_hash(data: Any) -> str:
    """A short, stable hash of a JSON-serialisable config (keys sorted)."""
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_revision() -> str | None:
    """The commit of the package's checkout, with '-dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def save_resolved(path: str | Path, settings: Any, **extra: Any) -> None:
    """Write the resolved settings, their hash and the git revision beside an artifact."""
    data = settings_dict(settings)
    write_json(path, {"settings": data, "config_hash": config_hash(data), "git_revision": git_revision(), **extra})
