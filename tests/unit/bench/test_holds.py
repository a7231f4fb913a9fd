import pytest

from bench.holds import hold_figures


def test_the_hold_time_is_split_into_catalog_coverage_and_flags_over_raw() -> None:
    figures = hold_figures(items=1000, response_s=0.5, until_all_flags_s=4.0, raw_flags_s=2.0)
    assert figures["catalog_items_s"] == pytest.approx(2000.0)
    assert figures["flags_s"] == pytest.approx(250.0)
    assert figures["raw_flags_s"] == pytest.approx(500.0)
    assert figures["flags_vs_raw"] == pytest.approx(0.5)


def test_flags_as_fast_as_raw_calls_give_a_ratio_of_one() -> None:
    figures = hold_figures(items=10, response_s=1.0, until_all_flags_s=1.0, raw_flags_s=1.0)
    assert figures["flags_vs_raw"] == pytest.approx(1.0)
    assert figures["catalog_items_s"] == pytest.approx(figures["flags_s"])
