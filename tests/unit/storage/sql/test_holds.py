"""SqlHoldStore's pure parts; its behaviour on every catalog is in tests/catalog_contract."""

from __future__ import annotations

from policies.holds import fold_address
from storage.models import PartyRow
from storage.sql.catalog_rows import party_rows


def test_each_party_row_keeps_its_address_as_holds_compare_it() -> None:
    rows = party_rows(
        "item-1",
        [
            PartyRow("STRAßE@Bank.example", "cust-1", None),
            PartyRow("\u212aim@bank.example", None, "agent-1"),
            PartyRow(None, "cust-2", None),
        ],
    )
    assert [r["address_folded"] for r in rows] == ["strasse@bank.example", "kim@bank.example", None]
    assert [r["address"] for r in rows] == ["STRAßE@Bank.example", "\u212aim@bank.example", None]


def test_the_fold_is_the_case_fold() -> None:
    assert fold_address("ALICE@Example.COM") == "alice@example.com"
    assert fold_address("ﬀ@x") == "ff@x"
