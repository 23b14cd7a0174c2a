"""What a student's training log says about its budget and its learned weighting.

The budget of a comparison is what each method was trained on: its optimizer steps and the
supervised (completion) tokens it saw, from the last line of its train_log.jsonl. The weighting is
StepER's learned σ per step kind; since Adam makes a student's update insensitive to the overall
scale of its loss, what the weighting changes is each kind's share of the total weight, so that
share is what is compared with the uniform 1/K.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steper.paper.results import Results, TrainLog

# The learned weights "differ from uniform" when one kind gets this many times the weight of another.
NON_UNIFORM_RATIO = 1.25


@dataclass(frozen=True)
class Budget:
    steps: int
    supervised_tokens: int | None  # None: a log written before tokens were counted


@dataclass(frozen=True)
class LearnedWeights:
    step: int
    sigma: dict[str, float]
    share: dict[str, float]  # each kind's share of the summed weights 1/(2σ²)

    @property
    def ratio(self) -> float:
        return max(self.share.values()) / min(self.share.values())

    @property
    def differs_from_uniform(self) -> bool:
        return len(self.share) > 1 and self.ratio >= NON_UNIFORM_RATIO


def find_log(results: Results, framework: str, dataset: str, student: str, method: str) -> TrainLog | None:
    return next((t for t in results.train_logs if (t.framework, t.dataset, t.student, t.method) == (framework, dataset, student, method)), None)


def budget(log: TrainLog) -> Budget | None:
    rows = [row for row in log.rows if isinstance(row.get("step"), int)]
    if not rows:
        return None
    tokens = rows[-1].get("supervised_tokens")
    return Budget(rows[-1]["step"], sum(int(v) for v in tokens.values()) if isinstance(tokens, Mapping) else None)


def learned_weights(log: TrainLog) -> LearnedWeights | None:
    """σ and weight shares at the last logged step of a log that learned σ (None otherwise)."""
    rows = [row for row in log.rows if isinstance(row.get("sigma"), Mapping) and row["sigma"]]
    if not rows:
        return None
    last: Any = rows[-1]
    sigma = {kind: float(value) for kind, value in last["sigma"].items()}
    weights = {kind: 0.5 / value**2 for kind, value in sigma.items()}
    total = sum(weights.values())
    return LearnedWeights(int(last.get("step", len(log.rows))), sigma, {kind: w / total for kind, w in weights.items()})


def describe_budget(value: Budget | None) -> str:
    if value is None:
        return "no training log"
    tokens = "" if value.supervised_tokens is None else f", {value.supervised_tokens:,} supervised tokens"
    return f"{value.steps} optimizer steps{tokens}"
