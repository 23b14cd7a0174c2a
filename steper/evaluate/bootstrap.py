"""Confidence intervals over questions: percentile bootstrap, paired bootstrap and exact McNemar.

A test set of a few hundred questions makes one question worth a fraction of a point, so every
EM/F1/Acc we report carries the interval a reader needs to tell a difference from noise. The
bootstrap resamples questions with replacement (Efron's percentile interval); two systems scored on
the same questions are compared on the SAME resamples (paired), which removes the between-question
variance both share. For 0/1 scores (Acc, EM) the exact McNemar test on the discordant questions is
reported too. Resampling is seeded: the same scores give the same interval on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CHUNK = 1000  # resamples drawn at a time, so 10,000 resamples of 10,000 questions stay small in memory


@dataclass(frozen=True)
class BootstrapSettings:
    """resamples: bootstrap replicates; level: coverage of the two-sided interval; seed: of the resampling."""

    resamples: int
    level: float
    seed: int

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"bootstrap resamples must be >= 1, got {self.resamples}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"bootstrap level must be in (0, 1), got {self.level}")


@dataclass(frozen=True)
class Interval:
    """A point estimate (the mean over questions) and its percentile interval, in the scores' unit."""

    estimate: float
    low: float
    high: float
    n: int

    @property
    def width(self) -> float:
        return self.high - self.low

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.n)


@dataclass(frozen=True)
class McNemar:
    """Exact two-sided McNemar test: questions only A got right, only B got right, and the p-value."""

    only_a: int
    only_b: int
    p_value: float


def resample_means(values: np.ndarray, settings: BootstrapSettings) -> np.ndarray:
    """Means of `settings.resamples` resamples of the rows of `values` (1-D or 2-D: one column per series)."""
    rng = np.random.default_rng(settings.seed)
    n = values.shape[0]
    means = []
    remaining = settings.resamples
    while remaining:
        size = min(CHUNK, remaining)
        index = rng.integers(0, n, size=(size, n))
        means.append(values[index].mean(axis=1))
        remaining -= size
    return np.concatenate(means, axis=0)


def percentile_interval(estimate: float, means: np.ndarray, level: float, n: int) -> Interval:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high), n)


def _array(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: need a non-empty sequence of per-question scores")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: per-question scores must be finite numbers")
    return array


def bootstrap_mean(values: Sequence[float], settings: BootstrapSettings) -> Interval:
    """Mean of per-question scores and its percentile bootstrap interval."""
    array = _array(values, "values")
    return percentile_interval(array.mean(), resample_means(array, settings), settings.level, array.size)


def paired_difference(a: Sequence[float], b: Sequence[float], settings: BootstrapSettings) -> Interval:
    """mean(a) - mean(b) over the same questions (a[i], b[i] belong to question i), paired bootstrap."""
    first, second = _array(a, "a"), _array(b, "b")
    if first.size != second.size:
        raise ValueError(f"paired scores need the same questions: {first.size} vs {second.size}")
    difference = first - second
    return percentile_interval(difference.mean(), resample_means(difference, settings), settings.level, difference.size)


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> McNemar:
    """Exact McNemar on 0/1 scores: a two-sided binomial test of the discordant pairs at p = 1/2."""
    first, second = _array(a, "a"), _array(b, "b")
    if first.size != second.size:
        raise ValueError(f"paired scores need the same questions: {first.size} vs {second.size}")
    if not np.all(np.isin(first, (0.0, 1.0))) or not np.all(np.isin(second, (0.0, 1.0))):
        raise ValueError("McNemar's test needs 0/1 scores (Acc or EM)")
    only_a = int(np.sum((first == 1.0) & (second == 0.0)))
    only_b = int(np.sum((first == 0.0) & (second == 1.0)))
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(only_a, only_b, 1.0)
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1)) / 2.0**discordant
    return McNemar(only_a, only_b, min(1.0, 2.0 * tail))
