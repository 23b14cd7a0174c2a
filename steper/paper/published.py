"""The published StepER numbers shipped with the package (published.yaml), with their provenance."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml


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

    def rows(self, table: str, row: str) -> dict[str, Any]:
        """dataset -> cells of one published row ({} when the table or row is not known)."""
        return dict((self.data.get(table) or {}).get(row) or {})


def load_published() -> Published:
    text = resources.files("steper.paper").joinpath("published.yaml").read_text(encoding="utf-8")
    return Published(yaml.safe_load(text))
