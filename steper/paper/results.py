"""Read every result file the paper is rendered from; nothing else is consulted.

Paths follow the artifact layout (results/{run}/eval/{framework}/{dataset}/{system}.json and so
on); the JSON content wins over the path where both name the same thing. Retrieval evaluations,
step-wise stats and trace summaries are kept as parsed JSON; the tables that use them read the
fields they need and name the file and field when one is missing.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steper.io import InputError, read_json, read_jsonl

log = logging.getLogger(__name__)

SIDE_FILES = (".settings.json", ".summary.json")


@dataclass(frozen=True)
class EvalResult:
    framework: str
    dataset: str
    system: str
    path: Path
    data: dict[str, Any]

    def metric(self, name: str) -> float | None:
        """A metric ('acc') or a dotted path into the JSON ('abilities.expansion')."""
        if "." not in name:
            return _number((self.data.get("metrics") or {}).get(name))
        value: Any = self.data
        for part in name.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return _number(value)

    @property
    def n_parameters(self) -> int | None:
        value = self.data.get("n_parameters")
        return int(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class TrainLog:
    framework: str
    dataset: str
    student: str
    method: str
    hparams: str
    path: Path
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Artifact:
    """A JSON file of another stage, labelled by the layout parts of its path."""

    labels: tuple[str, ...]
    path: Path
    data: Any


@dataclass
class Results:
    root: Path
    evals: dict[tuple[str, str, str], EvalResult] = field(default_factory=dict)
    retrieval: dict[str, Artifact] = field(default_factory=dict)
    stepwise: list[Artifact] = field(default_factory=list)
    summaries: list[Artifact] = field(default_factory=list)
    train_logs: list[TrainLog] = field(default_factory=list)

    def get(self, framework: str, dataset: str, system: str) -> EvalResult | None:
        return self.evals.get((framework, dataset, system))

    def value(self, framework: str, dataset: str, system: str, metric: str) -> float | None:
        result = self.get(framework, dataset, system)
        return None if result is None else result.metric(metric)


def _number(value: Any) -> float | int | None:
    """Numbers pass through (ints stay ints, so counts print without decimals); NaN and the rest are None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else value


def _files(root: Path, pattern: str) -> Iterator[Path]:
    yield from sorted(path for path in root.glob(pattern) if path.is_file())


def _relative_parts(path: Path, base: Path) -> tuple[str, ...]:
    return path.relative_to(base).parts


def load_results(results_dir: str | os.PathLike) -> Results:
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(root, "results directory does not exist")
    results = Results(root=root)
    for path in _files(root / "eval", "**/*.json"):
        if path.name.endswith(SIDE_FILES):
            continue
        parts = _relative_parts(path, root / "eval")
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            raise InputError(path, "not an evaluation result (no 'metrics' object)", field="metrics")
        framework = str(data.get("framework") or parts[0])
        dataset = str(data.get("dataset") or (parts[1] if len(parts) > 2 else ""))
        system = str(data.get("system") or path.stem)
        results.evals[(framework, dataset, system)] = EvalResult(framework, dataset, system, path, data)
    for path in _files(root / "retrieval", "*.json"):
        if not path.name.endswith(SIDE_FILES):
            results.retrieval[path.stem] = Artifact((path.stem,), path, read_json(path))
    for path in _files(root / "stepwise", "**/*stats.json"):
        if path.name.endswith(SIDE_FILES):
            continue
        parts = _relative_parts(path, root / "stepwise")
        variant = path.name[: -len("stats.json")].rstrip(".")
        labels = parts[:-1] + ((variant,) if variant else ())
        results.stepwise.append(Artifact(labels, path, read_json(path)))
    for path in _files(root / "traces", "**/*.summary.json"):
        parts = _relative_parts(path, root / "traces")
        if any(part.endswith(".shards") for part in parts):
            continue  # a shard's summary is already counted in its merged trace file's summary
        stem = path.name[: -len(".summary.json")]
        labels = parts[:-1] + (stem[: -len(".jsonl")] if stem.endswith(".jsonl") else stem,)
        results.summaries.append(Artifact(labels, path, read_json(path)))
    for path in _files(root / "students", "**/train_log.jsonl"):
        parts = _relative_parts(path, root / "students")
        if len(parts) < 5:
            raise InputError(path, "expected students/{framework}/{dataset}/{student}/{method}/[{hparams}/]train_log.jsonl")
        framework, dataset, student, method = parts[:4]
        hparams = "/".join(parts[4:-1])
        results.train_logs.append(TrainLog(framework, dataset, student, method, hparams, path, list(read_jsonl(path))))
    log.info(
        "%s: %d eval results, %d retrieval, %d step-wise stats, %d trace summaries, %d train logs",
        root, len(results.evals), len(results.retrieval), len(results.stepwise), len(results.summaries), len(results.train_logs),
    )
    return results
