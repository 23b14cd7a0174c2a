"""Bootstrap intervals and McNemar's test against hand-computed cases."""

import math

import numpy as np
import pytest

from steper.evaluate.bootstrap import (
    CHUNK,
    BootstrapSettings,
    Interval,
    McNemar,
    bootstrap_mean,
    mcnemar_exact,
    paired_difference,
    percentile_interval,
    resample_means,
)

SETTINGS = BootstrapSettings(resamples=4000, level=0.95, seed=0)


def test_constant_scores_have_a_zero_width_interval():
    interval = bootstrap_mean([1.0] * 7, SETTINGS)
    assert (interval.estimate, interval.low, interval.high, interval.n) == (1.0, 1.0, 1.0, 7)
    assert interval.width == 0.0


def test_two_questions_span_the_whole_range():
    # Resampling [0, 1] gives means 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and
    # 97.5% percentiles of that distribution are 0 and 1.
    interval = bootstrap_mean([0.0, 1.0], SETTINGS)
    assert interval.estimate == 0.5
    assert (interval.low, interval.high) == (0.0, 1.0)


def test_interval_contains_the_estimate_and_narrows_with_more_questions():
    small = bootstrap_mean([1.0, 0.0] * 10, SETTINGS)
    large = bootstrap_mean([1.0, 0.0] * 500, SETTINGS)
    assert small.low < 0.5 < small.high and large.low < 0.5 < large.high
    assert large.width < small.width
    # normal approximation for p = 0.5, n = 1000: 1.96 * sqrt(0.25 / 1000) = 0.031 each side
    assert large.width == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 1000), abs=0.01)


def test_seeded_and_deterministic():
    # F1-like scores: resample means are nearly all distinct, so the percentiles depend on the draws
    values = [i / 19 for i in range(20)]
    interval = bootstrap_mean(values, SETTINGS)
    assert interval == bootstrap_mean(values, SETTINGS)
    other = bootstrap_mean(values, BootstrapSettings(resamples=4000, level=0.95, seed=1))
    assert other.estimate == interval.estimate
    assert (other.low, other.high) != (interval.low, interval.high)
    assert abs(other.low - interval.low) < 0.02 and abs(other.high - interval.high) < 0.02


def test_resamples_are_drawn_in_chunks_and_all_used():
    values = np.array([0.0, 1.0])
    means = resample_means(values, BootstrapSettings(resamples=CHUNK + 7, level=0.95, seed=3))
    assert means.shape == (CHUNK + 7,)
    assert set(np.unique(means)) <= {0.0, 0.5, 1.0}
    # the same seed draws the same first chunk whatever the total
    assert np.array_equal(resample_means(values, BootstrapSettings(resamples=CHUNK, level=0.95, seed=3)), means[:CHUNK])
    # a 2-D array resamples rows: both columns of a row move together
    rows = np.array([[0.0, 10.0], [1.0, 11.0]])
    paired = resample_means(rows, BootstrapSettings(resamples=50, level=0.95, seed=0))
    assert paired.shape == (50, 2) and np.allclose(paired[:, 1] - paired[:, 0], 10.0)


def test_level_sets_the_percentiles():
    # means of 1,000 equally likely values 0..999: the 50% interval is the quartiles
    interval = percentile_interval(0.0, np.arange(1000.0), 0.5, 7)
    assert (interval.low, interval.high, interval.n) == (pytest.approx(249.75), pytest.approx(749.25), 7)
    wide = percentile_interval(0.0, np.arange(1000.0), 0.9, 7)
    assert (wide.low, wide.high) == (pytest.approx(49.95), pytest.approx(949.05))


def test_paired_difference_of_a_constant_shift_is_exact():
    # every question gains exactly 1 point: the paired interval has zero width even though the
    # unpaired intervals of a and b are wide
    a = [1.0, 2.0, 0.0, 5.0]
    b = [0.0, 1.0, -1.0, 4.0]
    difference = paired_difference(a, b, SETTINGS)
    assert (difference.estimate, difference.low, difference.high) == (1.0, 1.0, 1.0)
    assert bootstrap_mean(a, SETTINGS).width > 1.0


def test_paired_difference_of_one_discordant_pair():
    # a wins question 1, ties on the rest: differences [1, 0]; means of resamples are 0, 1/2, 1
    difference = paired_difference([1.0, 1.0], [0.0, 1.0], SETTINGS)
    assert difference.estimate == 0.5
    assert (difference.low, difference.high) == (0.0, 1.0)
    assert not difference.excludes_zero()


def test_clear_paired_difference_excludes_zero():
    a = [1.0] * 40 + [0.0] * 10
    b = [0.0] * 30 + [1.0] * 10 + [0.0] * 10
    difference = paired_difference(a, b, SETTINGS)
    assert difference.estimate == pytest.approx(0.6)
    assert difference.excludes_zero() and difference.low > 0


def test_mcnemar_exact_by_hand():
    # 3 questions only A got right, none only B: p = 2 * (1/2)^3 = 0.25
    result = mcnemar_exact([1, 1, 1, 0, 1], [0, 0, 0, 0, 1])
    assert (result.only_a, result.only_b) == (3, 0)
    assert result.p_value == pytest.approx(0.25)
    # 6 vs 1 discordant: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 16 / 128
    a = [1] * 6 + [0] + [1] * 3
    b = [0] * 6 + [1] + [1] * 3
    assert mcnemar_exact(a, b).p_value == pytest.approx(16 / 128)
    assert mcnemar_exact([1, 0], [1, 0]).p_value == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"^values: need a non-empty sequence of per-question scores$"):
        bootstrap_mean([], SETTINGS)
    with pytest.raises(ValueError, match=r"^values: per-question scores must be finite numbers$"):
        bootstrap_mean([1.0, float("nan")], SETTINGS)
    with pytest.raises(ValueError, match=r"^values: need a non-empty"):
        bootstrap_mean([[1.0], [0.0]], SETTINGS)  # one score per question, not a table
    with pytest.raises(ValueError, match=r"^paired scores need the same questions: 1 vs 2$"):
        paired_difference([1.0], [1.0, 0.0], SETTINGS)
    with pytest.raises(ValueError, match=r"^a: need a non-empty"):
        paired_difference([], [1.0], SETTINGS)
    with pytest.raises(ValueError, match=r"^b: per-question scores must be finite"):
        paired_difference([1.0], [float("inf")], SETTINGS)
    with pytest.raises(ValueError, match=r"^McNemar's test needs 0/1 scores \(Acc or EM\)$"):
        mcnemar_exact([0.5], [1.0])
    with pytest.raises(ValueError, match=r"^McNemar's test needs 0/1 scores"):
        mcnemar_exact([1.0], [2.0])
    with pytest.raises(ValueError, match=r"^paired scores need the same questions: 2 vs 1$"):
        mcnemar_exact([1.0, 0.0], [1.0])
    with pytest.raises(ValueError, match=r"^a: need a non-empty"):
        mcnemar_exact([], [])
    with pytest.raises(ValueError, match=r"^b: need a non-empty"):
        mcnemar_exact([1.0], [])


@pytest.mark.parametrize("resamples, level", [(0, 0.95), (-3, 0.95), (10, 0.0), (10, 1.0), (10, 1.5), (10, -0.1)])
def test_settings_out_of_range_are_refused(resamples, level):
    with pytest.raises(ValueError, match=r"^bootstrap (resamples must be >= 1, got -?\d+|level must be in \(0, 1\), got -?[\d.]+)$"):
        BootstrapSettings(resamples=resamples, level=level, seed=0)


def test_the_smallest_settings_are_allowed():
    interval = bootstrap_mean([0.0, 1.0], BootstrapSettings(resamples=1, level=0.01, seed=0))
    assert interval.low == interval.high and interval.low in (0.0, 0.5, 1.0)


def test_boolean_scores_are_numbers():
    # per-question rows may hold true/false; they are scores 1 and 0, also in a paired difference
    assert bootstrap_mean([True, False, True, True], SETTINGS).estimate == 0.75
    difference = paired_difference([True, True], [False, True], SETTINGS)
    assert (difference.estimate, difference.n) == (0.5, 2)
    assert mcnemar_exact([True, False], [False, False]) == mcnemar_exact([1.0, 0.0], [0.0, 0.0])


def test_interval_helpers():
    interval = Interval(0.5, -0.25, 1.0, 9)
    assert interval.width == 1.25 and not interval.excludes_zero()
    assert interval.scaled(100.0) == Interval(50.0, -25.0, 100.0, 9)
    assert Interval(0.5, 0.1, 0.9, 9).excludes_zero() and Interval(-0.5, -0.9, -0.1, 9).excludes_zero()
    assert not Interval(-0.5, -0.9, 0.0, 9).excludes_zero() and not Interval(0.5, 0.0, 0.9, 9).excludes_zero()
    assert Interval(-0.5, -0.9, -0.5, 9).excludes_zero() and not Interval(0.5, -0.1, 0.9, 9).excludes_zero()


def test_mcnemar_with_one_discordant_question_and_the_cap_at_one():
    assert mcnemar_exact([1.0, 1.0], [0.0, 1.0]) == McNemar(1, 0, 1.0)  # 2 * 1/2
    assert mcnemar_exact([0.0, 1.0], [1.0, 1.0]) == McNemar(0, 1, 1.0)
    # 2 : 2 discordant: 2 * (1 + 4 + 6) / 16 = 1.375, capped at 1
    assert mcnemar_exact([1, 1, 0, 0], [0, 0, 1, 1]) == McNemar(2, 2, 1.0)
    # 5 : 0 -> 2 / 32; 0 : 5 the same
    assert mcnemar_exact([1] * 5, [0] * 5) == McNemar(5, 0, pytest.approx(1 / 16))
    assert mcnemar_exact([0] * 5, [1] * 5) == McNemar(0, 5, pytest.approx(1 / 16))
    assert mcnemar_exact([0, 0], [0, 0]) == McNemar(0, 0, 1.0)


def test_paired_interval_counts_the_questions():
    assert paired_difference([1.0, 0.0, 1.0], [0.0, 0.0, 1.0], SETTINGS).n == 3
    assert bootstrap_mean([1.0, 0.0, 1.0], SETTINGS).n == 3
