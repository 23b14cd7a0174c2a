"""The names steper knows, each set listed once: in the config schema's `$defs`, which validates them.

Python reads them from there (the datasets, the frameworks students are distilled in, the
step-data variants and the tables a method can belong to), so adding a name is one schema edit.
"""

from __future__ import annotations

from steper.settings import config_schema


def _names(definition: str) -> tuple[str, ...]:
    return tuple(config_schema()["$defs"][definition]["enum"])


DATASETS = _names("dataset")
DISTILLED = _names("framework")
# Step-data variants, in the order the ablation adds step kinds; a variant's kinds are its name split at "-".
VARIANTS = _names("variant")
METHOD_TABLES = _names("table")
