import math

import pytest

from bench.stats import mebibytes, megabytes_per_s, percentile, rate, ratio, significant


def test_p99_of_200_samples_is_the_198th_smallest() -> None:
    samples = [float(v) for v in range(200, 0, -1)]  # 1..200, reversed
    assert percentile(samples, 99) == 198.0
    assert percentile(samples, 50) == 100.0
    assert percentile(samples, 100) == 200.0


def test_p99_shows_three_slow_requests_in_two_hundred_but_not_two() -> None:
    fast = [10.0] * 198
    assert percentile([*fast, 900.0, 950.0], 99) == 10.0
    assert percentile([*fast[:-1], 800.0, 900.0, 950.0], 99) == 800.0


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([42.5], 99) == 42.5
    assert percentile([42.5], 1) == 42.5


@pytest.mark.parametrize("q", [0, -1, 100.5])
def test_percentile_out_of_range_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0, 2.0], q)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 99)


def test_rates_and_ratios() -> None:
    assert rate(1000, 4.0) == 250.0
    assert megabytes_per_s(256 * 1_000_000, 2.0) == 128.0
    assert ratio(50.0, 200.0) == 0.25
    assert mebibytes(3 << 20) == 3.0


@pytest.mark.parametrize("duration_s", [0.0, -1.0, math.nan])
def test_rate_needs_a_positive_duration(duration_s: float) -> None:
    with pytest.raises(ValueError, match="not positive"):
        rate(10, duration_s)


def test_ratio_needs_a_positive_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        ratio(1.0, 0.0)


def test_significant_rounds_and_refuses_non_numbers() -> None:
    assert significant(0.123456789) == 0.123457
    assert significant(123456789.0) == 123457000.0
    with pytest.raises(ValueError, match="finite"):
        significant(math.inf)
