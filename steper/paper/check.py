"""Two-click reproduction check (pyserini style): expected metrics vs the evaluation files.

An expected file lists one check per (framework, dataset, system, metric):

    tolerance: 1.0            # default absolute tolerance, in metric units (points for EM/F1/Acc)
    checks:
      - {framework: ircot, dataset: hotpotqa, system: smollm2-135m--steper, metric: acc, expected: 27.5}
      - {framework: ircot, dataset: hotpotqa, system: x--steper, metric: abilities.initialization,
         expected: 40.0, tolerance: 5.0}

`metric` is a key of the result's `metrics` or a dotted path into the JSON. A missing result file
is a failure that names the file, so a check can never pass by not running.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper import layout
from steper.io import InputError, read_json
from steper.paper.definitions import METRICS
from steper.paper.published import PUBLISHED_TABLE1, PUBLISHED_TABLE2, Published
from steper.paper.results import EvalResult, load_eval_dir
from steper.strict_yaml import load_file

CHECK_FIELDS = ("framework", "dataset", "system", "metric", "expected", "tolerance")
REQUIRED = CHECK_FIELDS[:-1]


@dataclass(frozen=True)
class Check:
    framework: str
    dataset: str
    system: str
    metric: str
    expected: float
    tolerance: float

    @property
    def name(self) -> str:
        return f"{self.framework}/{self.dataset}/{self.system} {self.metric}"


@dataclass(frozen=True)
class Outcome:
    check: Check
    ok: bool
    line: str


def load_checks(path: str | os.PathLike, tolerance: float | None = None) -> list[Check]:
    """Parse the expected file; `tolerance` (when given) overrides every tolerance in it."""
    if not Path(path).exists():
        raise InputError(path, "expected-metrics file does not exist")
    data = load_file(path)  # a repeated key, an alias bomb or an empty file is an InputError
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise InputError(path, "must be a mapping with a 'checks' list", field="checks")
    unknown = set(data) - {"tolerance", "checks", "description"}
    if unknown:
        raise InputError(path, "unknown top-level key", field=sorted(unknown)[0])
    default = float(data.get("tolerance", 0.0))
    checks = []
    for index, entry in enumerate(data["checks"]):
        where = f"checks[{index}]"
        if not isinstance(entry, dict):
            raise InputError(path, "must be a mapping", field=where)
        for key in entry:
            if key not in CHECK_FIELDS:
                raise InputError(path, f"unknown key (known: {', '.join(CHECK_FIELDS)})", field=f"{where}.{key}")
        for key in REQUIRED:
            if key not in entry:
                raise InputError(path, "is missing", field=f"{where}.{key}")
        try:
            expected = float(entry["expected"])
            own = float(entry.get("tolerance", default))
        except (TypeError, ValueError):
            raise InputError(path, "expected and tolerance must be numbers", field=where) from None
        checks.append(
            Check(str(entry["framework"]), str(entry["dataset"]), str(entry["system"]), str(entry["metric"]), expected, own if tolerance is None else tolerance)
        )
    if not checks:
        raise InputError(path, "lists no checks: a check that compares nothing cannot pass", field="checks")
    return checks


def run_check(results_dir: str | os.PathLike, check: Check) -> Outcome:
    path = Path(results_dir) / "eval" / check.framework / check.dataset / f"{check.system}.json"
    wanted = f"expected {check.expected:.2f} ± {check.tolerance:.2f}"
    if not path.is_file():
        return Outcome(check, False, f"FAIL {check.name}: {wanted}, got nothing (missing {path})")
    data: dict[str, Any] = read_json(path)
    got = EvalResult(check.framework, check.dataset, check.system, path, data).metric(check.metric)
    if got is None:
        return Outcome(check, False, f"FAIL {check.name}: {wanted}, got nothing (no '{check.metric}' in {path})")
    ok = abs(got - check.expected) <= check.tolerance + 1e-9
    return Outcome(check, ok, f"{'OK  ' if ok else 'FAIL'} {check.name}: {wanted}, got {got:.2f}")


def published_checks(published: Published, student: str, tolerance: float) -> dict[str, Any]:
    """An expected file for the paper tier: every published IRCoT number of the main student."""
    checks = []
    for row_key, method in PUBLISHED_TABLE1.items():
        for dataset, cells in published.rows("table1_main_ircot_llama8b", row_key).items():
            for metric, value in cells.items():
                checks.append({"framework": "ircot", "dataset": dataset, "system": layout.student_system(student, method), "metric": metric, "expected": value})
    for row_key, method in PUBLISHED_TABLE2.items():
        for dataset, value in published.rows("table2_loss_weighting", row_key).items():
            entry = {"framework": "ircot", "dataset": dataset, "system": layout.student_system(student, method), "metric": "acc", "expected": value}
            if entry not in checks:
                checks.append(entry)
    return {
        "description": f"published StepER numbers (reliability {published.reliability}: {published.provenance})",
        "tolerance": tolerance,
        "checks": checks,
    }


def measured_checks(results_dir: str | os.PathLike, tolerance: float) -> dict[str, Any]:
    """An expected file pinning every EM/F1/Acc of a finished run (how config/expected/demo.yaml is made)."""
    checks = [
        {"framework": framework, "dataset": dataset, "system": system, "metric": metric, "expected": round(value, 4)}
        for (framework, dataset, system), result in sorted(load_eval_dir(results_dir).items())
        for metric in METRICS
        if (value := result.metric(metric)) is not None
    ]
    return {"description": f"measured in {results_dir}", "tolerance": tolerance, "checks": checks}
