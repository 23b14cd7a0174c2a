"""Read the result files the paper is rendered from: exactly those its rule declares.

The paper rule writes a manifest (JSON) listing every declared input with what it is (framework,
dataset, system, ...); `load_manifest` reads those files and nothing else, so a stale student or
evaluation left in results/ from older hyper-parameters can never enter a table or figure. The
labels come from the manifest, not from path parts. Other stages' JSON is kept as parsed; the tables
read the fields they need and name the file and field when one is missing. A system trained with
several seeds (config `experiments[].seeds`) has every seed's evaluation in the `seeds` section,
the run's seed included; `evals` holds the run's seed only, so the other tables never mix seeds.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steper import layout
from steper.io import InputError, read_json, read_jsonl

log = logging.getLogger(__name__)

SIDE_FILES = (layout.SETTINGS_SUFFIX, layout.SUMMARY_SUFFIX, layout.RESUME_SUFFIX)
# manifest section -> the label keys every entry of it carries (besides "path")
SECTIONS: dict[str, tuple[str, ...]] = {
    "evals": ("framework", "dataset", "system"),
    "transfer": ("framework", "trained_on", "dataset", "system"),
    "subquestions": ("framework", "dataset", "system"),
    "retrieval": ("dataset",),
    "stepwise": ("framework", "dataset", "teacher"),
    "summaries": ("framework", "dataset", "model", "split"),
    "train_logs": ("framework", "dataset", "student", "method"),
    "corpora": ("dataset",),
    "benchmarks": ("stage",),
    "benchmark_results": (),
    "seeds": ("framework", "dataset", "system", "seed"),
}


@dataclass(frozen=True)
class EvalResult:
    framework: str
    dataset: str
    system: str
    path: Path
    data: dict[str, Any]
    predictions: Path | None = None

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

    def scores(self, name: str) -> dict[str, float]:
        """Question id -> its score in [0, 1] for a metric or ability ('acc', 'initialization'); undefined ones left out."""
        rows = self.data.get("per_question")
        if not isinstance(rows, list):
            raise InputError(self.path, "has no per-question scores (re-score it with `steper evaluate score`)", field="per_question")
        scores: dict[str, float] = {}
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping) or "id" not in row:
                raise InputError(self.path, "must be an object with an id", field=f"per_question[{index}]")
            value = _number(row.get(name))
            if value is not None:
                scores[str(row["id"])] = float(value)
        return scores

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
    path: Path
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Artifact:
    """A JSON file of another stage with the labels the manifest gives it."""

    labels: tuple[str, ...]
    path: Path
    data: Any


@dataclass(frozen=True)
class Benchmark:
    """One Snakemake `benchmark:` file: the stage path it was written for and its measured row."""

    stage: str
    path: Path
    seconds: float
    cpu_seconds: float | None
    max_rss_mb: float | None


@dataclass
class Results:
    source: str
    evals: dict[tuple[str, str, str], EvalResult] = field(default_factory=dict)
    transfer: dict[tuple[str, str, str, str], EvalResult] = field(default_factory=dict)
    subquestions: dict[tuple[str, str, str], EvalResult] = field(default_factory=dict)
    retrieval: dict[str, Artifact] = field(default_factory=dict)
    stepwise: list[Artifact] = field(default_factory=list)
    summaries: list[Artifact] = field(default_factory=list)
    train_logs: list[TrainLog] = field(default_factory=list)
    corpora: dict[str, Path] = field(default_factory=dict)
    benchmarks: list[Benchmark] = field(default_factory=list)
    benchmark_results: list[Artifact] = field(default_factory=list)
    # (framework, dataset, system) -> training seed -> its evaluation; only systems with several seeds
    seeds: dict[tuple[str, str, str], dict[int, EvalResult]] = field(default_factory=dict)

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


def read_eval(path: Path, framework: str, dataset: str, system: str, predictions: Path | None = None) -> EvalResult:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise InputError(path, "not an evaluation result (no 'metrics' object)", field="metrics")
    for key, expected in (("framework", framework), ("dataset", dataset), ("system", system)):
        if key in data and str(data[key]) != expected:
            raise InputError(path, f"is '{data[key]}' but the manifest says '{expected}'", field=key)
    return EvalResult(framework, dataset, system, path, data, predictions)


def read_benchmark(path: Path, stage: str) -> Benchmark:
    """A Snakemake benchmark TSV: a header and one row per repeat; the first row is the job's."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise InputError(path, "benchmark file does not exist") from None
    if not rows:
        raise InputError(path, "no measurement row", line=2)

    def number(key: str, required: bool = False) -> float | None:
        raw = rows[0].get(key)
        if raw in (None, "", "NA", "-"):
            if required:
                raise InputError(path, "is missing", line=2, field=key)
            return None
        try:
            return float(raw)
        except ValueError:
            raise InputError(path, f"not a number: {raw!r}", line=2, field=key) from None

    return Benchmark(stage, path, number("s", required=True) or 0.0, number("cpu_time"), number("max_rss"))


def _entries(manifest: Mapping[str, Any], section: str, source: Path) -> list[dict[str, Any]]:
    entries = manifest.get(section, [])
    if not isinstance(entries, list):
        raise InputError(source, "must be a list", field=section)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(source, "must be an object", field=f"{section}[{index}]")
        for key in ("path", *SECTIONS[section]):
            if not isinstance(entry.get(key), str):
                raise InputError(source, "is missing or not a string", field=f"{section}[{index}].{key}")
    return entries


def load_manifest(manifest_path: str | os.PathLike) -> Results:
    """Every result file the manifest declares, labelled as it says; nothing else is read."""
    source = Path(manifest_path)
    manifest = read_json(source)
    if not isinstance(manifest, dict):
        raise InputError(source, "must be a JSON object of sections")
    unknown = sorted(set(manifest) - set(SECTIONS))
    if unknown:
        raise InputError(source, f"unknown section (known: {', '.join(SECTIONS)})", field=unknown[0])
    results = Results(source=str(source))

    def predictions(entry: dict[str, Any]) -> Path | None:
        return Path(entry["predictions"]) if isinstance(entry.get("predictions"), str) else None

    for entry in _entries(manifest, "evals", source):
        key = (entry["framework"], entry["dataset"], entry["system"])
        results.evals[key] = read_eval(Path(entry["path"]), *key, predictions=predictions(entry))
    for entry in _entries(manifest, "transfer", source):
        result = read_eval(Path(entry["path"]), entry["framework"], entry["dataset"], entry["system"], predictions(entry))
        results.transfer[(entry["framework"], entry["trained_on"], entry["dataset"], entry["system"])] = result
    for entry in _entries(manifest, "subquestions", source):
        key = (entry["framework"], entry["dataset"], entry["system"])
        results.subquestions[key] = read_eval(Path(entry["path"]), *key, predictions=predictions(entry))
    for entry in _entries(manifest, "retrieval", source):
        results.retrieval[entry["dataset"]] = Artifact((entry["dataset"],), Path(entry["path"]), read_json(entry["path"]))
    for entry in _entries(manifest, "stepwise", source):
        labels = (entry["framework"], entry["dataset"], entry["teacher"])
        results.stepwise.append(Artifact(labels, Path(entry["path"]), read_json(entry["path"])))
    for entry in _entries(manifest, "summaries", source):
        labels = (entry["framework"], entry["dataset"], entry["model"], entry["split"])
        results.summaries.append(Artifact(labels, Path(entry["path"]), read_json(entry["path"])))
    for entry in _entries(manifest, "train_logs", source):
        path = Path(entry["path"])
        rows = list(read_jsonl(path))
        results.train_logs.append(TrainLog(entry["framework"], entry["dataset"], entry["student"], entry["method"], path, rows))
    for entry in _entries(manifest, "corpora", source):
        results.corpora[entry["dataset"]] = Path(entry["path"])
    for entry in _entries(manifest, "benchmarks", source):
        results.benchmarks.append(read_benchmark(Path(entry["path"]), entry["stage"]))
    for entry in _entries(manifest, "benchmark_results", source):
        path = Path(entry["path"])
        results.benchmark_results.append(Artifact((path.stem,), path, read_json(path)))
    for index, entry in enumerate(_entries(manifest, "seeds", source)):
        if not entry["seed"].isdigit():
            raise InputError(source, f"not a seed (a non-negative integer): {entry['seed']!r}", field=f"seeds[{index}].seed")
        key = (entry["framework"], entry["dataset"], entry["system"])
        by_seed = results.seeds.setdefault(key, {})
        if int(entry["seed"]) in by_seed:
            raise InputError(source, f"seed {entry['seed']} of {'/'.join(key)} is listed twice", field=f"seeds[{index}]")
        by_seed[int(entry["seed"])] = read_eval(Path(entry["path"]), *key, predictions=predictions(entry))
    log.info(
        "%s: %d evaluations (+%d transfer, %d sub-question, %d seeds of %d multi-seed systems), %d retrieval, "
        "%d step-wise stats, %d trace summaries, %d train logs, %d benchmark files",
        source, len(results.evals), len(results.transfer), len(results.subquestions),
        sum(len(by_seed) for by_seed in results.seeds.values()), len(results.seeds), len(results.retrieval),
        len(results.stepwise), len(results.summaries), len(results.train_logs), len(results.benchmarks),
    )
    if not results.evals:
        raise InputError(source, "declares no evaluation results: nothing to render", field="evals")
    return results


def load_eval_dir(results_dir: str | os.PathLike) -> dict[tuple[str, str, str], EvalResult]:
    """Every evaluation JSON of a run's results directory (for `steper paper expected`, which pins a whole run).

    Keyed by the file's `{system}` segment: an extra seed's file (`layout.seed_system`) is its own
    entry, while its content names the system it replicates.
    """
    root = Path(results_dir)
    evals: dict[tuple[str, str, str], EvalResult] = {}
    for path in sorted(p for p in root.glob(layout.pattern("eval", parent="results")) if p.is_file() and not p.name.endswith(SIDE_FILES)):
        names = layout.parse("eval", path.relative_to(root).as_posix(), parent="results")
        if names is None:
            continue
        system, _ = layout.split_seed_system(names["system"])
        evals[(names["framework"], names["dataset"], names["system"])] = read_eval(path, names["framework"], names["dataset"], system)
    if not evals:
        raise InputError(root, f"holds no evaluation ({layout.below('eval', 'results')})")
    return evals
