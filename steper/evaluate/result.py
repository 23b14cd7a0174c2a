"""The evaluation JSON of one system: metrics, abilities, model size and provenance.

This file is what `steper paper` reads, so it carries everything a table or figure needs (the
parameter count for the scaling figure, seconds per question for the latency figure, each
question's scores for the bootstrap intervals) and no timestamps: the same predictions give a
byte-identical file.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

from steper.evaluate.abilities import ability_scores, question_abilities
from steper.evaluate.aggregate import aggregate, gold_answers, read_traces
from steper.frameworks.resume import output_identity, records_digest
from steper.io import InputError, read_jsonl
from steper.metrics import score
from steper.retrieval.corpus import Retriever
from steper.settings import config_hash, git_revision

log = logging.getLogger(__name__)


def load_records(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for number, record in enumerate(read_jsonl(path, required=("id", "answers")), start=1):
        record["id"] = str(record["id"])  # the runner writes ids as strings
        if record["id"] in records:
            raise InputError(path, f"duplicate id '{record['id']}'", line=number, field="id")
        if not isinstance(record["answers"], list):
            raise InputError(path, "must be a list of answers", line=number, field="answers")
        records[record["id"]] = record
    return records


def count_parameters(model_dir: str | os.PathLike) -> int | None:
    """Parameters stored in the model's safetensors files, read from their headers only.

    A safetensors file starts with an 8-byte little-endian header length and a JSON header
    giving each tensor's shape, so a 70B checkpoint is counted without reading its weights.
    Tied weights are stored once and counted once. None when the directory has no safetensors.
    """
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with open(file, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise InputError(file, "truncated safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            try:
                header = json.loads(handle.read(length))
            except json.JSONDecodeError as error:
                raise InputError(file, f"malformed safetensors header ({error.msg})") from None
        for name, tensor in header.items():
            if name == "__metadata__":
                continue
            size = 1
            for dim in tensor["shape"]:
                size *= int(dim)
            total += size
    return total


def _check_records_of_the_run(predictions_path: str | os.PathLike, records_path: str | os.PathLike, records: dict[str, dict[str, Any]]) -> None:
    """Predictions with the resume record of `steper evaluate run` name the records they answered:
    scoring them against another version of the records (same ids, other answers) is refused."""
    run = output_identity(predictions_path)
    identity = run.get("identity") if run else None
    if not isinstance(identity, dict) or identity.get("records") is None or identity.get("shard") is not None:
        return
    if identity["records"] != records_digest(list(records.values())):
        raise InputError(predictions_path, f"were made on other records than {records_path} (or on an earlier version of them)", field="records")


def per_question(
    traces: list[dict[str, Any]], records: dict[str, dict[str, Any]], retriever: Retriever | None = None
) -> list[dict[str, Any]]:
    """Each question's EM/F1/Acc and ability scores in [0, 1] (None where undefined), sorted by id.

    The bootstrap intervals and paired tests of `steper paper` resample these rows, so the
    interval of a cell comes from exactly the scores its mean was computed from.
    """
    rows = []
    for trace in sorted(traces, key=lambda trace: trace["id"]):
        scores = score(trace["prediction"], gold_answers(trace, records))
        rows.append(
            {
                "id": trace["id"],
                "em": scores.em,
                "f1": scores.f1,
                "acc": scores.acc,
                **question_abilities(trace, records[trace["id"]], retriever),
            }
        )
    return rows


def build_result(
    *,
    system: str,
    framework: str,
    dataset: str,
    predictions_path: str | os.PathLike,
    records_path: str | os.PathLike,
    model_dir: str | os.PathLike | None = None,
    settings: dict[str, Any] | None = None,
    allow_partial: bool = False,
    retriever: Retriever | None = None,
) -> dict[str, Any]:
    """Score a predictions file against its records.

    Every prediction must belong to a record; a record without a prediction is an error unless
    `allow_partial`, because a half-finished run would otherwise be reported as a full test set.
    `retriever` (the index the predictions were retrieved from) lets supporting recall fall back
    to titles for passages the index does not hold.
    """
    traces = read_traces(predictions_path)
    records = load_records(records_path)
    _check_records_of_the_run(predictions_path, records_path, records)
    for trace in traces:
        if trace["id"] not in records:
            raise InputError(predictions_path, f"id '{trace['id']}' is not in {records_path}", field="id")
    missing = len(records) - len(traces)
    if missing and not allow_partial:
        raise InputError(predictions_path, f"{missing} of {len(records)} records in {records_path} have no prediction")
    if missing:
        log.warning("%s: scoring %d of %d records", predictions_path, len(traces), len(records))
    metrics = aggregate(traces, records)
    abilities = ability_scores(traces, records, retriever)
    log.info("%s %s %s: EM %.2f F1 %.2f Acc %.2f (n=%d)", system, framework, dataset, metrics.em, metrics.f1, metrics.acc, metrics.n)
    identity = {"system": system, "framework": framework, "dataset": dataset, "settings": settings}
    return {
        "system": system,
        "framework": framework,
        "dataset": dataset,
        "model_dir": None if model_dir is None else str(model_dir),
        "n_parameters": None if model_dir is None else count_parameters(model_dir),
        "metrics": metrics.to_dict(),
        "abilities": abilities,
        "per_question": per_question(traces, records, retriever),
        "n_records": len(records),
        "predictions": str(predictions_path),
        "records": str(records_path),
        "settings": settings,
        "config_hash": config_hash(identity),
        "git_revision": git_revision(),
    }
