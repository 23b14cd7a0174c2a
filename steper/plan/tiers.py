"""A tier's config is an overlay of the paper's: it states only what differs.

config/config.yaml is the base of every run; each `--configfile` is laid over it in order, then
`--config key=value`. A mapping merges key by key, so `training: {lr: 1.0e-4}` changes the
learning rate and keeps every other training setting. Two sections are replaced whole instead:
`models` and `students` are the set of models a tier runs (a laptop's are not the paper's plus
its own). Methods merge: they are the paper's experimental conditions, shared by every tier, and
a tier's `experiments` pick the ones it trains. A list is always replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from steper.config_validation import read_config_files

PAPER_CONFIG = "config/config.yaml"
REPLACED = ("models", "students")


def overlay(base: Mapping[str, Any], top: Mapping[str, Any], replaced: Iterable[str] = REPLACED) -> dict[str, Any]:
    """`base` with `top` laid over it (neither is changed): mappings merge, except the top-level
    `replaced` sections, which `top` replaces whole when it names them; everything else is replaced."""
    merged = copy.deepcopy(dict(base))
    replaced = set(replaced)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key not in replaced:
            merged[key] = overlay(merged[key], value, replaced=())
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def tier_config(basedir: str | Path, files: Iterable[str | Path], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The paper config of the checkout at `basedir`, the tier files laid over it in order, then `overrides`."""
    config = _load(Path(basedir) / PAPER_CONFIG)
    for path in files:
        config = overlay(config, _load(Path(path)))
    return overlay(config, overrides or {})


def stated_config(basedir: str | Path, files: Iterable[str | Path], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the tier states: its files other than the paper config laid over each other, then
    `overrides`; with no other file, the paper config, which is then the tier. A setting the tier
    inherits is not the tier's to answer for."""
    base = Path(basedir) / PAPER_CONFIG
    files = [Path(path) for path in files if not Path(path).resolve() == base.resolve()]
    config = {} if files else _load(base)
    for path in files:
        config = overlay(config, _load(path))
    return overlay(config, overrides or {})


def _load(path: Path) -> dict[str, Any]:
    (data,) = read_config_files([path])
    return data
