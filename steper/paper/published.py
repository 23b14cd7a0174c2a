"""The published StepER numbers shipped with the package (published.yaml), with their provenance."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from steper.strict_yaml import loads_yaml

# Published table rows -> the config's method names of the paper tier (config/config.yaml).
PUBLISHED_TABLE1: dict[str, str] = {"vanilla_kd": "vanilla_kd", "steper": "steper"}
PUBLISHED_TABLE2: dict[str, str] = {
    "uniform_1_1_1": "steper_uniform",
    "first_heavy_1.5_1_0.5": "steper_first_heavy",
    "last_heavy_0.5_1_1.5": "steper_last_heavy",
    "difficulty_aware": "steper",
}


@dataclass(frozen=True)
class Published:
    data: dict[str, Any]

    @property
    def reliability(self) -> str:
        return str(self.data.get("reliability", "unknown"))

    @property
    def provenance(self) -> str:
        return str(self.data.get("provenance", ""))

    @property
    def claims(self) -> list[dict[str, str]]:
        return list(self.data.get("claims") or [])

    def not_rerun(self) -> tuple[str, list[dict[str, Any]]]:
        """(source, rows) of Table 1's cited baselines; each row: id, label, group, cites and optional numbers."""
        section = self.data.get("table1_not_rerun") or {}
        return str(section.get("source", "")), list(section.get("rows") or [])

    def rows(self, table: str, row: str) -> dict[str, Any]:
        """dataset -> cells of one published row ({} when the table or row is not known)."""
        return dict((self.data.get(table) or {}).get(row) or {})


def load_published() -> Published:
    text = resources.files("steper.paper").joinpath("published.yaml").read_text(encoding="utf-8")
    return Published(loads_yaml(text, "steper/paper/published.yaml"))
