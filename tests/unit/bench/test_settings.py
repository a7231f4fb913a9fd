import os

import pytest
from pydantic import ValidationError

from bench.catalogs import CatalogKind
from bench.errors import BenchSettingsError
from bench.settings import BENCHES, MIB, SCALES, BenchSettings, Scale


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KEEPLINE_BENCH_"):
            monkeypatch.delenv(name)


def test_the_default_scale_uses_the_spec_sizes_of_the_large_recordings() -> None:
    sizes = BenchSettings().sizes()
    assert sizes.first_byte_bytes == 1024 * MIB
    assert sizes.rss_bytes == 2048 * MIB
    assert SCALES[Scale.FULL].first_byte_bytes == 1024 * MIB
    assert SCALES[Scale.FULL].rss_bytes == 2048 * MIB


def test_small_is_smaller_than_default_everywhere_but_retention() -> None:
    small, default = SCALES[Scale.SMALL], SCALES[Scale.DEFAULT]
    assert small.rss_bytes < default.rss_bytes
    assert small.events < default.events
    assert small.sweep_items < default.sweep_items


def test_scale_and_overrides_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_BENCH_SCALE", "small")
    monkeypatch.setenv("KEEPLINE_BENCH_RSS_MIB", "100")
    monkeypatch.setenv("KEEPLINE_BENCH_EVENTS", "500")
    sizes = BenchSettings().sizes()
    assert sizes.rss_bytes == 100 * MIB
    assert sizes.events == 500
    assert sizes.hold_items == SCALES[Scale.SMALL].hold_items


def test_only_selects_benches_in_report_order() -> None:
    chosen = BenchSettings(only="ingest_peak_rss_mb, ingest_vs_raw_put").selected()
    assert chosen == ["ingest_vs_raw_put", "ingest_peak_rss_mb"]
    assert BenchSettings().selected() == list(BENCHES)


def test_an_unknown_bench_is_refused_by_name() -> None:
    with pytest.raises(BenchSettingsError, match="no_such_bench"):
        BenchSettings(only="no_such_bench").selected()


def test_every_setting_is_described() -> None:
    for name, field in BenchSettings.model_fields.items():
        assert field.description, name


def test_small_items_bench_is_listed_after_the_event_bench() -> None:
    names = list(BENCHES)
    assert BENCHES["small_items_vs_raw_put"] == "ratio"
    assert names.index("small_items_vs_raw_put") == names.index("events_vs_raw_consume") + 1


def test_small_items_sizes_per_scale_and_their_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SCALES[Scale.SMALL].small_items == 500
    assert SCALES[Scale.DEFAULT].small_items == 5_000
    assert SCALES[Scale.FULL].small_items > SCALES[Scale.DEFAULT].small_items
    monkeypatch.setenv("KEEPLINE_BENCH_SMALL_ITEMS", "42")
    assert BenchSettings().sizes().small_items == 42


def test_the_catalog_is_sqlite_unless_postgresql_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BenchSettings().catalog is CatalogKind.SQLITE
    monkeypatch.setenv("KEEPLINE_BENCH_CATALOG", "postgresql")
    assert BenchSettings().catalog is CatalogKind.POSTGRESQL


def test_an_unknown_catalog_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_BENCH_CATALOG", "mysql")
    with pytest.raises(ValidationError, match="catalog"):
        BenchSettings()
