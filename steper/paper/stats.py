"""Confidence intervals and paired tests for the cells and claims of the paper (in percent).

Every interval resamples the per-question scores stored in the evaluation JSON. A cell's mean is
checked against the metric the evaluation reported, so per-question rows from another run can
never sit under a headline number they did not produce. An average over datasets resamples each
dataset separately (a stratified bootstrap) and averages the resampled means.

Systems trained with several seeds are summarised over seeds: the mean and sample standard deviation
of each seed's reported metric, and for two systems the difference per seed (seed i of one against
seed i of the other). With a handful of seeds these describe the spread; no interval comes from
them. Two such systems are also compared pooled over their common seeds: each question's score
averaged over the seeds, then the paired bootstrap over questions. The seeds are fixed, not
sampled: that interval is for these seeds' average, with the noise of the question sample only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from steper.evaluate.bootstrap import (
    BootstrapSettings,
    Interval,
    McNemar,
    mcnemar_exact,
    percentile_interval,
    resample_means,
)
from steper.io import InputError
from steper.paper.definitions import METRICS
from steper.paper.results import EvalResult
from steper.paper.typeset import Estimate, Spread

TOLERANCE = 1e-6  # points: per-question mean vs the reported metric


@dataclass(frozen=True)
class Paired:
    """a - b on the questions both were scored on, in points, with McNemar's test for 0/1 scores."""

    difference: Interval
    mcnemar: McNemar | None


@dataclass(frozen=True)
class SeedDifference:
    """a - b per training seed both were trained with, in points: mean ± sample sd, and a's wins."""

    spread: Spread
    n: int
    wins: int
    ties: int


def spread(values: list[float]) -> Spread | None:
    """Mean and sample standard deviation (n - 1) of two or more values; None for fewer."""
    if len(values) < 2:
        return None
    array = np.asarray(values, dtype=float)
    return Spread(float(array.mean()), float(array.std(ddof=1)))


def seed_values(by_seed: dict[int, EvalResult], metric: str) -> list[float] | None:
    """Each seed's reported `metric` in seed order; None when a seed lacks it."""
    values = [by_seed[seed].metric(metric) for seed in sorted(by_seed)]
    return None if any(value is None for value in values) else [float(value) for value in values]  # type: ignore[arg-type]


def seed_difference(a: dict[int, EvalResult], b: dict[int, EvalResult], metric: str) -> SeedDifference | None:
    """a - b on each seed both have (the same seed paired); None with fewer than two such seeds."""
    common = sorted(set(a) & set(b))
    values_a, values_b = seed_values({s: a[s] for s in common}, metric), seed_values({s: b[s] for s in common}, metric)
    if values_a is None or values_b is None:
        return None
    differences = [x - y for x, y in zip(values_a, values_b)]
    summary = spread(differences)
    if summary is None:
        return None
    return SeedDifference(summary, len(differences), sum(d > 0 for d in differences), sum(d == 0 for d in differences))


def estimate(interval: Interval | None) -> Estimate | None:
    return None if interval is None else Estimate(interval.estimate, interval.low, interval.high)


class Statistics:
    """Intervals of one render, cached per (file, score): each is computed once."""

    def __init__(self, settings: BootstrapSettings):
        self.settings = settings
        self._means: dict[tuple[str, str], tuple[float, np.ndarray, int]] = {}

    def _scores(self, result: EvalResult, name: str) -> dict[str, float]:
        scores = result.scores(name)
        reported = result.metric(name) if name in METRICS else result.metric(f"abilities.{name}")
        if scores and reported is not None and abs(100.0 * sum(scores.values()) / len(scores) - reported) > TOLERANCE:
            raise InputError(
                result.path,
                f"per-question {name} averages {100.0 * sum(scores.values()) / len(scores):.4f}, the file reports {reported:.4f}",
                field="per_question",
            )
        return scores

    def _resampled(self, result: EvalResult, name: str) -> tuple[float, np.ndarray, int] | None:
        key = (str(result.path), name)
        if key not in self._means:
            scores = self._scores(result, name)
            if not scores:
                return None
            values = 100.0 * np.array([scores[qid] for qid in sorted(scores)])
            self._means[key] = (float(values.mean()), resample_means(values, self.settings), values.size)
        return self._means[key]

    def interval(self, result: EvalResult | None, name: str) -> Interval | None:
        """The cell of one system: mean of `name` in percent and its interval; None without scores."""
        if result is None:
            return None
        found = self._resampled(result, name)
        return None if found is None else percentile_interval(found[0], found[1], self.settings.level, found[2])

    def cell(self, result: EvalResult | None, name: str) -> Estimate | None:
        return estimate(self.interval(result, name))

    def average(self, results: list[EvalResult | None], name: str) -> Interval | None:
        """Mean over datasets (one result each) with a stratified interval; None unless every dataset has one."""
        found = [None if result is None else self._resampled(result, name) for result in results]
        if not found or any(item is None for item in found):
            return None
        point = float(np.mean([item[0] for item in found]))  # type: ignore[index]
        means = np.mean([item[1] for item in found], axis=0)  # type: ignore[index]
        return percentile_interval(point, means, self.settings.level, sum(item[2] for item in found))  # type: ignore[index]

    def paired(self, a: EvalResult, b: EvalResult, name: str) -> Paired | None:
        """a - b on the same questions. EM/F1/Acc must cover the same questions; an ability is compared where both define it."""
        scores_a, scores_b = self._scores(a, name), self._scores(b, name)
        if name in METRICS and set(scores_a) != set(scores_b):
            raise InputError(a.path, f"was scored on other questions than {b.path}: a paired test needs the same questions", field="per_question")
        common = sorted(set(scores_a) & set(scores_b))
        return self.paired_values([scores_a[qid] for qid in common], [scores_b[qid] for qid in common])

    def paired_values(self, a: list[float], b: list[float]) -> Paired | None:
        """a[i] - b[i] (scores in [0, 1] of question i) in points; McNemar too when both are 0/1."""
        if not a:
            return None
        first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        difference = 100.0 * (first - second)
        interval = percentile_interval(float(difference.mean()), resample_means(difference, self.settings), self.settings.level, difference.size)
        binary = np.all(np.isin(first, (0.0, 1.0))) and np.all(np.isin(second, (0.0, 1.0)))
        return Paired(interval, mcnemar_exact(first, second) if binary else None)

    def paired_over_seeds(self, a: dict[int, EvalResult], b: dict[int, EvalResult], name: str) -> Paired | None:
        """a - b pooled over the seeds both have (see the module docstring); None with fewer than two.
        Every seed must be scored on the same questions."""
        common = sorted(set(a) & set(b))
        if len(common) < 2:
            return None
        runs = [(result, self._scores(result, name)) for seed in common for result in (a[seed], b[seed])]
        first, questions = runs[0][0], set(runs[0][1])
        for result, scores in runs[1:]:
            if set(scores) != questions:
                raise InputError(result.path, f"was scored on other questions than {first.path}: seeds are pooled per question", field="per_question")
        pooled = [[float(np.mean([scores[qid] for _, scores in runs[side::2]])) for qid in sorted(questions)] for side in (0, 1)]
        return self.paired_values(pooled[0], pooled[1])

    def proportion(self, indicators: list[float]) -> Interval | None:
        """A share of questions (0/1 indicators) in percent with its interval."""
        if not indicators:
            return None
        values = 100.0 * np.asarray(indicators, dtype=float)
        return percentile_interval(float(values.mean()), resample_means(values, self.settings), self.settings.level, values.size)
