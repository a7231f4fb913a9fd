"""SqlDisclosureRegister's contract: entries keep the subjects their items had when disclosed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.models import HoldCriteria
from storage.models import DisclosureRecord
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.disclosures import SqlDisclosureRegister
from storage.sql.holds import SqlHoldStore
from tests.catalog_contract.support import T0, add_item


def entry(number: int, *, hold_id: str | None = None) -> DisclosureRecord:
    """An entry disclosed `number` days after T0."""
    return DisclosureRecord(
        disclosure_id=f"d-{number}",
        recipient=f"Recipient {number}",
        legal_basis="court order",
        reference=f"REF-{number}",
        hold_id=hold_id,
        disclosed_at=T0 + timedelta(days=number),
        recorded_by="legal-user",
        recorded_at=T0 + timedelta(days=number, hours=1),
    )


class DisclosureRegisterContract:
    """What the disclosure register, the access report and rectification rely on."""

    @pytest.fixture
    def register(self, db: Database) -> SqlDisclosureRegister:
        return SqlDisclosureRegister(db)

    @pytest.fixture
    def catalog(self, db: Database) -> SqlCatalog:
        return SqlCatalog(db)

    async def test_entries_list_newest_first_with_their_items(
        self, register: SqlDisclosureRegister, catalog: SqlCatalog
    ) -> None:
        one = await add_item(catalog, subjects=["ann"])
        two = await add_item(catalog, subjects=["ann", "bob"])
        three = await add_item(catalog, subjects=["bob"])
        first = await register.record(entry(1), item_ids=[one, two])
        assert set(first.item_ids) == {one, two}
        await register.record(entry(2), item_ids=[three])
        listed = await register.list()
        assert [e.disclosure_id for e in listed] == ["d-2", "d-1"]
        assert listed[1] == first
        assert listed[1].recorded_at == T0 + timedelta(days=1, hours=1)

    async def test_a_subject_sees_only_entries_and_items_of_its_own(
        self, register: SqlDisclosureRegister, catalog: SqlCatalog
    ) -> None:
        one = await add_item(catalog, subjects=["ann"])
        two = await add_item(catalog, subjects=["bob"])
        await register.record(entry(1), item_ids=[one, two])
        await register.record(entry(2), item_ids=[two])
        ann = await register.list(subject_id="ann")
        assert [(e.disclosure_id, e.item_ids) for e in ann] == [("d-1", (one,))]
        assert [e.disclosure_id for e in await register.list(subject_id="bob")] == ["d-2", "d-1"]
        assert await register.list(subject_id="nobody") == []
        assert [e.disclosure_id for e in await register.list(since=T0 + timedelta(days=2))] == [
            "d-2"
        ]
        by_item = await register.list(item_ids=[one])
        assert [(e.disclosure_id, e.item_ids) for e in by_item] == [("d-1", (one,))]

    async def test_a_hold_entry_holds_the_items_the_hold_covers(
        self, register: SqlDisclosureRegister, catalog: SqlCatalog, db: Database
    ) -> None:
        held = await add_item(catalog, subjects=["ann"], staff=["agent-1"])
        await add_item(catalog, subjects=["ann"], staff=["agent-2"])
        hold, _ = await SqlHoldStore(db).create(
            matter="m",
            description="",
            criteria=HoldCriteria(staff_ids=frozenset({"agent-1"})),
            created_by="legal-user",
            created_at=T0,
        )
        recorded = await register.record(entry(1, hold_id=hold.hold_id))
        assert recorded.item_ids == (held,)
        listed = await register.list(subject_id="ann")
        assert [(e.hold_id, e.item_ids) for e in listed] == [(hold.hold_id, (held,))]

    async def test_the_subjects_stay_after_the_item_is_destroyed(
        self, register: SqlDisclosureRegister, catalog: SqlCatalog
    ) -> None:
        item = await add_item(catalog, subjects=["ann"])
        await register.record(entry(1), item_ids=[item])
        await catalog.mark_destroyed(item, reason="erasure", at=T0 + timedelta(days=3))
        assert [e.item_ids for e in await register.list(subject_id="ann")] == [(item,)]

    async def test_linking_a_subject_adds_it_to_earlier_entries_once(
        self, register: SqlDisclosureRegister, catalog: SqlCatalog
    ) -> None:
        item = await add_item(catalog, subjects=["wrong"])
        other = await add_item(catalog, subjects=["wrong"])
        await register.record(entry(1), item_ids=[item, other])
        assert await register.link_subject([item], "right") == 1
        assert await register.link_subject([item], "right") == 0
        assert await register.link_subject([], "right") == 0
        right = await register.list(subject_id="right")
        assert [(e.disclosure_id, e.item_ids) for e in right] == [("d-1", (item,))]
