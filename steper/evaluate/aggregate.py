"""Answer metrics, chain length, token counts and latency averaged over trace lines.

Predictions are re-scored here with `steper.metrics.score` rather than trusting the `correct`
field the framework stored: the stored value was computed by whatever code version produced the
trace, and a metric fix must change every table without re-running any model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from steper.io import InputError, read_jsonl
from steper.metrics import score

log = logging.getLogger(__name__)

TRACE_FIELDS = ("id", "steps", "prediction")


@dataclass(frozen=True)
class Metrics:
    """Percentages (em, f1, acc) and per-question means; None where no trace carries the field."""

    em: float
    f1: float
    acc: float
    n: int
    mean_steps: float
    seconds_per_question: float | None
    prompt_tokens: float | None
    completion_tokens: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_traces(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Trace lines of one file; a repeated id (e.g. a botched resume) is an error, not a double count."""
    traces: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, trace in enumerate(read_jsonl(path, required=TRACE_FIELDS), start=1):
        trace["id"] = str(trace["id"])
        if not isinstance(trace["steps"], list):
            raise InputError(path, "must be a list of steps", line=number, field="steps")
        if trace["id"] in seen:
            raise InputError(path, f"duplicate id '{trace['id']}'", line=number, field="id")
        seen.add(trace["id"])
        traces.append(trace)
    return traces


def gold_answers(trace: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """The record's answers (gold + aliases) when records are given, else those copied into the trace."""
    if records is not None and trace["id"] in records:
        return list(records[trace["id"]].get("answers") or [])
    return list(trace.get("answers") or [])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _step_tokens(trace: Mapping[str, Any], field: str) -> int | None:
    """Tokens summed over the steps, with a forced-answer call's (`answer_<field>`); the trace-level
    field is the fallback; None when absent."""
    steps = trace["steps"]
    if steps and all(isinstance(step, Mapping) and field in step for step in steps):
        return sum(int(step[field]) + int(step.get(f"answer_{field}", 0)) for step in steps)
    if field in trace:
        return int(trace[field])
    return None


def aggregate(traces: Iterable[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]] | None = None) -> Metrics:
    """Mean EM/F1/Acc in percent, mean steps, mean tokens and seconds per question.

    Token and latency means are taken over the traces that carry the field and are None when
    none does (a trace format without completion counts must not read as zero tokens).
    """
    em: list[float] = []
    f1: list[float] = []
    acc: list[float] = []
    steps: list[float] = []
    seconds: list[float] = []
    prompt: list[float] = []
    completion: list[float] = []
    for trace in traces:
        scores = score(trace["prediction"], gold_answers(trace, records))
        em.append(scores.em)
        f1.append(scores.f1)
        acc.append(scores.acc)
        steps.append(float(trace.get("n_steps", len(trace["steps"]))))
        if trace.get("seconds") is not None:
            seconds.append(float(trace["seconds"]))
        for field, sink in (("prompt_tokens", prompt), ("completion_tokens", completion)):
            value = _step_tokens(trace, field)
            if value is not None:
                sink.append(float(value))
    n = len(em)
    if n == 0:
        return Metrics(0.0, 0.0, 0.0, 0, 0.0, None, None, None)
    return Metrics(
        em=100.0 * sum(em) / n,
        f1=100.0 * sum(f1) / n,
        acc=100.0 * sum(acc) / n,
        n=n,
        mean_steps=sum(steps) / n,
        seconds_per_question=_mean(seconds),
        prompt_tokens=_mean(prompt),
        completion_tokens=_mean(completion),
    )
