"""steper.paper.stats on hand-written evaluation results whose numbers are worked out in the comments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steper.evaluate.bootstrap import BootstrapSettings
from steper.io import InputError
from steper.paper.results import EvalResult
from steper.paper.stats import TOLERANCE, Statistics, estimate, seed_difference, seed_values, spread
from steper.paper.typeset import Spread

SETTINGS = BootstrapSettings(resamples=2000, level=0.95, seed=0)


def result(acc: float | None, per_question: dict[str, float] | None = None, name: str = "r", **metrics) -> EvalResult:
    data: dict = {"metrics": {"acc": acc, **metrics}}
    if per_question is not None:
        data["per_question"] = [{"id": qid, "acc": value} for qid, value in per_question.items()]
    return EvalResult("ircot", "hotpotqa", "stu--x", Path(f"{name}.json"), data)


def seeds(*accs: float) -> dict[int, EvalResult]:
    return {seed: result(acc, name=f"s{seed}") for seed, acc in enumerate(accs)}


# ------------------------------------------------------------------ seeds


def test_spread_is_the_mean_and_sample_sd():
    assert spread([30.0, 33.0, 36.0]) == Spread(33.0, 3.0)  # sd with n - 1: sqrt((9 + 0 + 9) / 2)
    assert spread([1.0, 2.0]) == Spread(1.5, pytest.approx(0.5**0.5))
    assert spread([5.0]) is None and spread([]) is None


def test_seed_values_are_in_seed_order_and_need_every_seed():
    by_seed = {2: result(30.0), 0: result(36.0), 1: result(33.0)}
    assert seed_values(by_seed, "acc") == [36.0, 33.0, 30.0]
    assert seed_values({0: result(36.0), 1: result(None)}, "acc") is None
    assert seed_values({0: result(36.0, em=28)}, "em") == [28.0]


def test_seed_difference_pairs_equal_seeds_and_counts_wins_and_ties():
    # differences per seed: +6, +0, -2 -> mean 4/3, sd sqrt(((14/3)^2 + (4/3)^2 + (10/3)^2) / 2) = sqrt(52/3)
    difference = seed_difference(seeds(36.0, 33.0, 30.0), seeds(30.0, 33.0, 32.0), "acc")
    assert difference is not None
    assert (difference.n, difference.wins, difference.ties) == (3, 1, 1)
    assert difference.spread.value == pytest.approx(4 / 3)
    assert difference.spread.sd == pytest.approx((52 / 3) ** 0.5)
    # b's wins are not a's: reversing the order swaps wins and losses, ties stay
    reverse = seed_difference(seeds(30.0, 33.0, 32.0), seeds(36.0, 33.0, 30.0), "acc")
    assert (reverse.wins, reverse.ties) == (1, 1) and reverse.spread.value == pytest.approx(-4 / 3)
    all_ties = seed_difference(seeds(30.0, 31.0), seeds(30.0, 31.0), "acc")
    assert (all_ties.wins, all_ties.ties, all_ties.spread) == (0, 2, Spread(0.0, 0.0))


def test_seed_difference_uses_only_the_seeds_both_have():
    a = {0: result(36.0), 1: result(33.0), 2: result(30.0)}
    b = {1: result(31.0), 2: result(32.0), 5: result(99.0)}
    difference = seed_difference(a, b, "acc")
    assert (difference.n, difference.wins, difference.spread.value) == (2, 1, pytest.approx(0.0))  # +2, -2
    assert seed_difference({0: result(36.0), 1: result(33.0)}, {1: result(31.0), 2: result(32.0)}, "acc") is None  # one seed in common
    assert seed_difference(a, {0: result(30.0), 1: result(None)}, "acc") is None


# ------------------------------------------------------------------ the per-question check


def test_per_question_rows_must_average_to_the_reported_metric():
    stats = Statistics(SETTINGS)
    rows = {"q1": 1.0, "q2": 0.0, "q3": 1.0}  # 66.666...%
    assert stats.interval(result(200 / 3, rows), "acc").estimate == pytest.approx(200 / 3)
    assert stats.interval(result(200 / 3 + TOLERANCE / 2, rows, name="b"), "acc") is not None  # rounding noise passes
    with pytest.raises(InputError) as error:
        Statistics(SETTINGS).interval(result(66.67, rows, name="c"), "acc")  # rounded to 2 decimals: another run's rows
    assert error.value.field == "per_question" and "66.6667" in str(error.value) and "66.6700" in str(error.value)
    with pytest.raises(InputError):
        Statistics(SETTINGS).interval(result(200 / 3 - 2 * TOLERANCE, rows, name="d"), "acc")


def test_an_ability_is_checked_against_its_abilities_entry():
    data = {"metrics": {"acc": 50.0}, "abilities": {"expansion": 25.0}, "per_question": [
        {"id": "q1", "acc": 1.0, "expansion": 0.5}, {"id": "q2", "acc": 0.0, "expansion": 0.0}, {"id": "q3", "acc": 0.0}]}
    good = EvalResult("ircot", "hotpotqa", "s", Path("good.json"), data)
    assert Statistics(SETTINGS).interval(good, "expansion").estimate == pytest.approx(25.0)
    bad = EvalResult("ircot", "hotpotqa", "s", Path("bad.json"), {**data, "abilities": {"expansion": 50.0}})
    with pytest.raises(InputError):
        Statistics(SETTINGS).interval(bad, "expansion")
    assert Statistics(SETTINGS).interval(None, "acc") is None
    empty = EvalResult("ircot", "hotpotqa", "s", Path("e.json"), {"metrics": {"acc": 0.0}, "per_question": []})
    assert Statistics(SETTINGS).interval(empty, "acc") is None


def test_intervals_are_cached_per_file_and_score():
    stats = Statistics(SETTINGS)
    first = stats.interval(result(50.0, {"q1": 1.0, "q2": 0.0}, name="same"), "acc")
    # another result under the same path is not read again: the cache is keyed by (path, score)
    second = stats.interval(result(0.0, {"q1": 0.0, "q2": 0.0}, name="same"), "acc")
    assert first == second


# ------------------------------------------------------------------ intervals


def test_cell_interval_is_in_percent_and_contains_the_mean():
    rows = {f"q{i}": float(i % 4 == 0) for i in range(40)}  # 10 of 40 right: 25%
    interval = Statistics(SETTINGS).interval(result(25.0, rows), "acc")
    assert interval.estimate == pytest.approx(25.0) and interval.n == 40
    assert 10.0 < interval.low < 25.0 < interval.high <= 40.0
    cell = Statistics(SETTINGS).cell(result(25.0, rows), "acc")
    assert (cell.value, cell.low, cell.high) == (interval.estimate, interval.low, interval.high)
    assert estimate(None) is None and Statistics(SETTINGS).cell(None, "acc") is None


def test_average_over_datasets_is_stratified():
    a = result(100.0, {f"q{i}": 1.0 for i in range(10)}, name="a")  # always 100
    b = result(0.0, {f"q{i}": 0.0 for i in range(30)}, name="b")  # always 0
    average = Statistics(SETTINGS).average([a, b], "acc")
    # each dataset resampled on its own: every resample's average is exactly (100 + 0) / 2
    assert (average.estimate, average.low, average.high, average.n) == (50.0, 50.0, 50.0, 40)
    assert Statistics(SETTINGS).average([a, None], "acc") is None
    assert Statistics(SETTINGS).average([], "acc") is None


def test_paired_difference_with_mcnemar_on_binary_scores():
    a = {f"q{i}": 1.0 for i in range(20)}
    b = {f"q{i}": float(i >= 6) for i in range(20)}  # a alone right on 6 questions
    paired = Statistics(SETTINGS).paired(result(100.0, a, name="a"), result(70.0, b, name="b"), "acc")
    assert paired.difference.estimate == pytest.approx(30.0) and paired.difference.n == 20
    assert paired.difference.low > 0
    assert (paired.mcnemar.only_a, paired.mcnemar.only_b) == (6, 0)
    assert paired.mcnemar.p_value == pytest.approx(2 / 2**6)


def by_seed(rows: list[list[float]], system: str) -> dict[int, EvalResult]:
    """One evaluation per seed: seed s scores question q{i} rows[s][i]."""
    return {s: result(100.0 * sum(row) / len(row), {f"q{i}": v for i, v in enumerate(row)}, name=f"{system}{s}") for s, row in enumerate(rows)}


def test_pooled_over_seeds_averages_each_question_over_the_common_seeds():
    # a: every question right in one of two seeds (0.5 each); b: never; seed 2 of a has no partner in b
    a = by_seed([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], "a")
    b = by_seed([[0, 0, 0, 0], [0, 0, 0, 0]], "b")
    pooled = Statistics(SETTINGS).paired_over_seeds(a, b, "acc")
    assert (pooled.difference.estimate, pooled.difference.low, pooled.difference.high, pooled.difference.n) == (50.0, 50.0, 50.0, 4)
    assert pooled.mcnemar is None  # means over seeds are not 0/1
    # one seed in each direction: +100 on q0 (seed 0 only), -100 on q1 (seed 1 only) pool to 0 per question
    c, d = by_seed([[1, 0], [0, 1]], "c"), by_seed([[0, 1], [1, 0]], "d")
    assert Statistics(SETTINGS).paired_over_seeds(c, d, "acc").difference.estimate == 0.0


def test_pooled_over_seeds_needs_two_common_seeds_and_the_same_questions():
    stats = Statistics(SETTINGS)
    assert stats.paired_over_seeds(by_seed([[1, 0]], "a"), by_seed([[0, 0], [1, 1]], "b"), "acc") is None
    other = {0: result(50.0, {"q0": 1.0, "q1": 0.0}, name="x0"), 1: result(50.0, {"q0": 1.0, "q9": 0.0}, name="x1")}
    with pytest.raises(InputError, match="x1.json.*seeds are pooled per question"):
        stats.paired_over_seeds(by_seed([[1, 0], [0, 1]], "a"), other, "acc")


def test_a_first_seed_scored_on_other_questions_is_named_against_it():
    """Every seed is checked against the first run (a's first seed), the one the message names."""
    a = {0: result(50.0, {"q0": 1.0, "q5": 0.0}, name="a0"), 1: result(50.0, {"q0": 1.0, "q1": 0.0}, name="a1")}
    with pytest.raises(InputError) as error:
        Statistics(SETTINGS).paired_over_seeds(a, by_seed([[1, 0], [0, 1]], "b"), "acc")
    assert str(error.value) == "b0.json: field 'per_question' was scored on other questions than a0.json: seeds are pooled per question"


def test_paired_needs_the_same_questions_for_metrics():
    a = result(50.0, {"q1": 1.0, "q2": 0.0}, name="a")
    b = result(50.0, {"q1": 1.0, "q3": 0.0}, name="b")
    with pytest.raises(InputError):
        Statistics(SETTINGS).paired(a, b, "acc")


def test_paired_abilities_use_the_questions_both_define():
    def ability(name, values):
        rows = [{"id": qid, **({"expansion": value} if value is not None else {})} for qid, value in values.items()]
        defined = [value for value in values.values() if value is not None]
        return EvalResult("ircot", "hotpotqa", "s", Path(name), {
            "metrics": {}, "abilities": {"expansion": 100 * sum(defined) / len(defined)}, "per_question": rows})

    a = ability("a.json", {"q1": 1.0, "q2": 0.5, "q3": None})
    b = ability("b.json", {"q1": 0.0, "q2": None, "q3": 1.0})
    paired = Statistics(SETTINGS).paired(a, b, "expansion")
    assert paired.difference.n == 1 and paired.difference.estimate == pytest.approx(100.0)
    c = ability("c.json", {"q1": 0.5, "q2": 1.0, "q3": None})
    fractional = Statistics(SETTINGS).paired(a, c, "expansion")
    assert fractional.mcnemar is None and fractional.difference.estimate == pytest.approx(0.0)
    d = ability("d.json", {"q4": 1.0})
    assert Statistics(SETTINGS).paired(a, d, "expansion") is None


def test_paired_values_are_points_and_mcnemar_only_for_zero_one():
    stats = Statistics(SETTINGS)
    assert stats.paired_values([], []) is None
    half = stats.paired_values([1.0, 0.5], [0.0, 0.5])
    assert half.mcnemar is None and half.difference.estimate == pytest.approx(50.0)
    binary = stats.paired_values([1.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    assert (binary.mcnemar.only_a, binary.mcnemar.only_b, binary.mcnemar.p_value) == (1, 1, 1.0)
    assert binary.difference.estimate == 0.0 and binary.difference.low < 0 < binary.difference.high


def test_proportion_is_a_percentage_with_its_interval():
    stats = Statistics(SETTINGS)
    assert stats.proportion([]) is None
    share = stats.proportion([1.0, 0.0, 0.0, 0.0])
    assert share.estimate == 25.0 and share.n == 4 and share.low == 0.0 and share.high in (50.0, 75.0)
    assert stats.proportion([1.0] * 5) == stats.proportion([1.0] * 5)
    assert np.isclose(stats.proportion([0.0] * 3).high, 0.0)


def test_another_seed_moves_the_interval_but_not_the_estimate():
    rows = {f"q{i}": i / 29 for i in range(30)}  # F1-like scores: every resample mean differs
    one = Statistics(BootstrapSettings(resamples=500, level=0.9, seed=1)).interval(result(50.0, rows), "acc")
    two = Statistics(BootstrapSettings(resamples=500, level=0.9, seed=2)).interval(result(50.0, rows), "acc")
    assert one.estimate == two.estimate
    assert (one.low, one.high) != (two.low, two.high)


def test_a_win_is_any_positive_difference():
    difference = seed_difference(seeds(30.5, 31.0), seeds(30.0, 31.0), "acc")
    assert (difference.wins, difference.ties) == (1, 1)


def test_the_tolerance_itself_passes():
    zeros = {"q1": 0.0, "q2": 0.0}
    assert Statistics(SETTINGS).interval(result(TOLERANCE, zeros), "acc").estimate == 0.0
    with pytest.raises(InputError) as error:
        Statistics(SETTINGS).interval(result(2 * TOLERANCE, zeros, name="off"), "acc")
    assert str(error.value) == "off.json: field 'per_question' per-question acc averages 0.0000, the file reports 0.0000"


def test_stratified_average_of_varying_datasets():
    a = result(50.0, {"q1": 1.0, "q2": 0.0}, name="a")
    b = result(200 / 3, {"q1": 1.0, "q2": 1.0, "q3": 0.0}, name="b")
    average = Statistics(SETTINGS).average([a, b], "acc")
    assert average.estimate == pytest.approx((50.0 + 200 / 3) / 2, abs=1e-12) and average.n == 5
    assert average.low < average.estimate < average.high


def test_paired_refusal_names_both_files():
    a = result(50.0, {"q1": 1.0, "q2": 0.0}, name="a")
    b = result(50.0, {"q1": 1.0, "q3": 0.0}, name="b")
    with pytest.raises(InputError) as error:
        Statistics(SETTINGS).paired(a, b, "acc")
    assert str(error.value) == "a.json: field 'per_question' was scored on other questions than b.json: a paired test needs the same questions"


def test_mcnemar_only_when_both_sides_are_zero_one():
    assert Statistics(SETTINGS).paired_values([1.0, 0.0], [0.5, 1.0]).mcnemar is None
    assert Statistics(SETTINGS).paired_values([0.5, 1.0], [1.0, 0.0]).mcnemar is None
