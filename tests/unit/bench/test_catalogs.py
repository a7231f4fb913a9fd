from pathlib import Path

import pytest

from bench.catalogs import CatalogKind, CatalogServer, database_name
from deploy.postgres import check_name


def test_sqlite_leaves_each_keepline_its_own_default_file(tmp_path: Path) -> None:
    server = CatalogServer(CatalogKind.SQLITE, tmp_path)
    server.start()
    assert server.catalog_url("main_1a2b3c4d") is None
    server.stop()
    assert list(tmp_path.iterdir()) == []


def test_postgresql_must_be_started_before_it_gives_a_url(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        CatalogServer(CatalogKind.POSTGRESQL, tmp_path).catalog_url("main")


@pytest.mark.parametrize(
    ("label", "expected"),
    [("main_1a2b3c4d", "kl_main_1a2b3c4d"), ("Sweep-9F", "kl_sweep_9f"), ("rss.x", "kl_rss_x")],
)
def test_database_names_are_safe_for_postgresql(label: str, expected: str) -> None:
    assert database_name(label) == expected
    assert check_name(database_name(label)) == expected


def test_a_long_label_is_cut_to_postgresql_s_limit() -> None:
    name = database_name("x" * 200)
    assert len(name) == 63
    assert check_name(name) == name
