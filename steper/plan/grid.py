"""The experiment grid: which students a run trains and evaluates, and which of them are one job.

A cell is (framework, dataset, student, method). The config's `experiments` is a union of grids
(an omitted axis is all of it; null is the full grid), each cell with its training seeds. Two
methods that train on the same step kinds with the same loss weighting are the same computation:
they share one student, named after the first of them in the config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


class Cell(NamedTuple):
    framework: str
    dataset: str
    student: str
    method: str


def cell_seeds(config: Mapping[str, Any]) -> dict[Cell, list[int]]:
    """Every cell in config order, with its training seeds (sorted; the union over the grids that list it)."""
    cells: dict[Cell, set[int]] = {}
    for grid in config["experiments"] or [{}]:
        for framework in grid.get("frameworks", config["frameworks"]):
            for dataset in grid.get("datasets", config["datasets"]):
                for student in grid.get("students", list(config["students"])):
                    for method in grid.get("methods", list(config["methods"])):
                        cells.setdefault(Cell(framework, dataset, student, method), set()).update(grid.get("seeds", [config["seed"]]))
    return {cell: sorted(seeds) for cell, seeds in cells.items()}


def kinds(spec: Mapping[str, Any]) -> list[str]:
    """The step kinds a method trains on: a data variant is its kinds joined by "-"; Vanilla-KD the final step."""
    return ["final"] if spec["loss"] == "vanilla" else spec["data"].split("-")


def matched_method(methods: Mapping[str, Mapping[str, Any]], name: str) -> dict[str, str] | None:
    """The {data, loss} of the method whose optimizer steps `name` takes (`match_steps_of`), or None."""
    other = methods[name].get("match_steps_of")
    return None if other is None else {"data": methods[other]["data"], "loss": methods[other]["loss"]}


def training_identity(methods: Mapping[str, Mapping[str, Any]], name: str) -> tuple[str, Any, Any, bool]:
    """What a method's student depends on: the kinds it trains on, how their losses are weighted,
    the method whose optimizer steps it takes (if any), and whether steps before the final one end
    with EOS (moot when it trains on final steps only)."""
    spec = methods[name]
    trained = kinds(spec)
    matched = matched_method(methods, name)
    budget = tuple(sorted(matched.items())) if matched else None
    early_eos = trained != ["final"] and spec["eos"] == "every_step"
    if spec["loss"] == "difficulty_aware":
        return "-".join(trained), "difficulty_aware", budget, early_eos
    weights = spec["weights"] if spec["loss"] == "fixed" else dict.fromkeys(trained, 1.0)
    return "-".join(trained), tuple(float(weights.get(kind, 0.0)) for kind in trained), budget, early_eos


def trained_methods(methods: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """method -> the method whose student it shares: the first in config order with its identity."""
    first: dict[tuple[str, Any, Any, bool], str] = {}
    return {name: first.setdefault(training_identity(methods, name), name) for name in methods}


def in_order(names: Sequence[str], used: set[str]) -> list[str]:
    """The names of `names` that are in `used`, in the order of `names`."""
    return [name for name in names if name in used]
