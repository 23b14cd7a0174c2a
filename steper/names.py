"""The names steper knows, each set listed once: in the config schema, which validates them.

Python reads them from there (the datasets, the frameworks students are distilled in, the
step-data variants and the tables a method can belong to), so adding a name is one schema edit.
"""

from __future__ import annotations

from steper.settings import schema_node

DATASETS: tuple[str, ...] = tuple(schema_node("datasets")["items"]["enum"])
DISTILLED: tuple[str, ...] = tuple(schema_node("frameworks")["items"]["enum"])
# Step-data variants, in the order the ablation adds step kinds; a variant's kinds are its name split at "-".
VARIANTS: tuple[str, ...] = tuple(schema_node("methods.*.data")["enum"])
METHOD_TABLES: tuple[str, ...] = tuple(schema_node("methods.*.tables")["items"]["enum"])
