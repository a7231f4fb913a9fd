"""SqlHoldStore's contract: coverage by criteria, counts, preview, release."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.holds import hold_covers
from policies.models import ArtefactType, HoldCriteria, ItemFacts
from storage.errors import HoldAlreadyReleasedError, HoldNotFoundError
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.holds import SqlHoldStore
from tests.catalog_contract.support import (
    T0,
    add_item,
    covered,
    mark_all_synced,
    stored_content,
    unsynced,
)


@dataclass
class Holds:
    db: Database
    catalog: SqlCatalog
    holds: SqlHoldStore
    facts: list[ItemFacts] = field(default_factory=list)

    async def place(self, **given: Any) -> tuple[str, set[str]]:
        """Place a hold; its id and the items it covers (all newly, the hold being new)."""
        record, newly = await self.holds.create(
            matter="m-1",
            description="d",
            criteria=criteria(**given),
            created_by="legal-user",
            created_at=T0,
        )
        items = await covered(self.db, record.hold_id)
        assert newly == len(items)
        return record.hold_id, items


def criteria(**given: Any) -> HoldCriteria:
    return HoldCriteria.from_json(given)


_SUBJECTS = ("s1", "s2", "s3")
_STAFF = ("a1", "a2")
# Addresses whose case folding needs more than ASCII lower(): "ß" folds to "ss", "K" (the
# Kelvin sign) to "k", so ASCII criteria must still find them.
_ADDRESSES = ("x@ex.com", "Y@Ex.com", "+447700900001", "STRAßE@ex.com", "\u212a@ex.com")
_CRITERIA_ADDRESSES = ("x@ex.com", "Y@Ex.com", "+447700900001", "strasse@ex.com", "k@ex.com")
_DESKS = ("fx", "rates")


def _item_specs() -> list[dict[str, Any]]:
    return [
        {
            "item_type": list(ArtefactType)[n % 3].value,
            "subjects": (_SUBJECTS[n % 3],) if n % 4 else (),
            "staff": (_STAFF[n % 2],) if n % 5 else (),
            "addresses": (_ADDRESSES[n % len(_ADDRESSES)],),
            "attributes": {"desk": _DESKS[n % 2]} if n % 3 else {},
            "occurred_at": T0 + timedelta(hours=n),
        }
        for n in range(36)
    ]


def _values(pool: tuple[str, ...]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True)


def _cased(pool: tuple[str, ...]) -> tuple[str, ...]:
    return pool + tuple(v.upper() for v in pool)


criteria_json = st.fixed_dictionaries(
    {
        "subject_ids": _values((*_SUBJECTS, "s9")),
        "staff_ids": _values(_STAFF),
        "addresses": _values(_cased(_CRITERIA_ADDRESSES)),
        "types": _values(tuple(t.value for t in ArtefactType)),
        "since": st.none()
        | st.integers(0, 40).map(lambda h: (T0 + timedelta(hours=h)).isoformat()),
        "attributes": st.none()
        | st.lists(st.sampled_from(_DESKS), min_size=1, unique=True).map(lambda d: {"desk": d}),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not None})


class HoldStoreContract:
    """What legal holds rely on from the catalog: nothing held may be missed."""

    @pytest.fixture
    def env(self, db: Database) -> Holds:
        return Holds(db, SqlCatalog(db), SqlHoldStore(db, batch_size=3))

    async def test_create_covers_matching_stored_items_only(self, env: Holds) -> None:
        a = await add_item(env.catalog, subjects=("cust-1",), stored=stored_content("a"))
        b = await add_item(env.catalog, subjects=("cust-1", "cust-2"), stored=stored_content("b"))
        metadata_only = await add_item(env.catalog, subjects=("cust-1",))
        await add_item(env.catalog, subjects=("cust-2",))
        await add_item(env.catalog, subjects=("cust-1",), commit=False)  # ingest covers it
        hold_id, newly = await env.place(subject_ids=["cust-1"])
        assert newly == {a, b, metadata_only}
        # The S3 flags are still to be set, on the items that have an object.
        assert await unsynced(env.db) == {a, b}
        record = await env.holds.get(hold_id)
        assert record is not None
        assert (record.matched, record.flags_pending) == (3, 2)
        assert record.active
        assert record.criteria.to_json() == {"subject_ids": ["cust-1"]}

    async def test_every_criterion_given_must_match(self, env: Holds) -> None:
        add = env.catalog
        hit = await add_item(
            add, item_type="email", staff=("agent-7",), attributes={"desk": "fx"}, occurred_at=T0
        )
        await add_item(add, item_type="chat", staff=("agent-7",), attributes={"desk": "fx"})
        await add_item(add, item_type="email", staff=("agent-8",), attributes={"desk": "fx"})
        await add_item(add, item_type="email", staff=("agent-7",), attributes={"desk": "rates"})
        await add_item(
            add,
            item_type="email",
            staff=("agent-7",),
            attributes={"desk": "fx"},
            occurred_at=T0 + timedelta(days=1),
        )
        _, newly = await env.place(
            types=["email"],
            staff_ids=["agent-7"],
            attributes={"desk": ["fx", "commodities"]},
            since=T0.isoformat(),
            until=(T0 + timedelta(days=1)).isoformat(),
        )
        assert newly == {hit}

    async def test_addresses_match_case_insensitively(self, env: Holds) -> None:
        ascii_hit = await add_item(env.catalog, addresses=("Alice@Example.com",))
        unicode_hit = await add_item(env.catalog, addresses=("STRASSE@bank.example",))
        await add_item(env.catalog, addresses=("bob@example.com",))
        _, newly = await env.place(addresses=["alice@example.COM"])
        assert newly == {ascii_hit}
        _, newly = await env.place(addresses=["straße@bank.example", "strasse@bank.example"])
        assert newly == {unicode_hit}

    async def test_ascii_criteria_find_addresses_that_fold_to_ascii(self, env: Holds) -> None:
        sharp_s = await add_item(env.catalog, addresses=("STRAßE@bank.example",))
        kelvin = await add_item(env.catalog, addresses=("\u212aim@bank.example",))
        await add_item(env.catalog, addresses=("straße@other.example",))
        _, newly = await env.place(addresses=["strasse@bank.example", "kim@bank.example"])
        assert newly == {sharp_s, kelvin}

    async def test_since_is_inclusive_until_exclusive(self, env: Holds) -> None:
        at_since = await add_item(env.catalog, occurred_at=T0)
        await add_item(env.catalog, occurred_at=T0 + timedelta(hours=1))
        _, newly = await env.place(
            since=T0.isoformat(), until=(T0 + timedelta(hours=1)).isoformat()
        )
        assert newly == {at_since}

    async def test_preview_counts_without_placing(self, env: Holds) -> None:
        for _ in range(7):  # more than two batches of 3
            await add_item(env.catalog, staff=("agent-1",))
        await add_item(env.catalog, staff=("agent-2",))
        assert await env.holds.preview(criteria(staff_ids=["agent-1"])) == 7
        assert await env.holds.list_all() == []
        assert await unsynced(env.db) == set()

    async def test_cover_is_idempotent_and_takes_later_items(self, env: Holds) -> None:
        first = await add_item(env.catalog, subjects=("cust-9",))
        hold_id, newly = await env.place(subject_ids=["cust-9"])
        assert newly == {first}
        hold = criteria(subject_ids=["cust-9"])
        assert await env.holds.cover(hold_id, hold) == 0
        later = await add_item(env.catalog, subjects=("cust-9",))
        assert await env.holds.cover(hold_id, hold) == 1
        assert await covered(env.db, hold_id) == {first, later}
        record = await env.holds.get(hold_id)
        assert record is not None
        assert record.matched == 2

    async def test_destroyed_items_no_longer_count(self, env: Holds) -> None:
        item_id = await add_item(env.catalog, subjects=("cust-1",))
        hold_id, _ = await env.place(subject_ids=["cust-1"])
        await env.holds.release(hold_id, by="legal-user", at=T0)  # an active hold forbids it
        released = await env.holds.get(hold_id)
        assert released is not None
        assert released.matched == 1
        await env.catalog.mark_destroyed(item_id, reason="test", at=T0)
        record = await env.holds.get(hold_id)
        assert record is not None
        assert record.matched == 0

    async def test_release_frees_items_no_other_hold_covers(self, env: Holds) -> None:
        both = await add_item(env.catalog, subjects=("cust-1",), staff=("agent-1",))
        only_first = await add_item(env.catalog, subjects=("cust-1",))
        first, _ = await env.place(subject_ids=["cust-1"])
        second, _ = await env.place(staff_ids=["agent-1"])
        await mark_all_synced(env.db)
        released, freed = await env.holds.release(
            first, by="legal-user", at=T0 + timedelta(hours=1)
        )
        assert freed == [only_first]
        assert await unsynced(env.db) == {only_first}
        assert released.released_at == T0 + timedelta(hours=1)
        assert released.released_by == "legal-user"
        assert [h.hold_id for h in await env.holds.active()] == [second]
        record = await env.catalog.get(both)
        assert record is not None
        assert record.hold_ids == (second,)
        _, freed = await env.holds.release(second, by="legal-user", at=T0 + timedelta(hours=2))
        assert freed == [both]

    async def test_release_keeps_its_reason(self, env: Holds) -> None:
        with_reason, _ = await env.place(subject_ids=["cust-1"])
        without, _ = await env.place(subject_ids=["cust-2"])
        released, _ = await env.holds.release(
            with_reason, by="legal-user", at=T0, reason="Matter settled on 2026-11-30"
        )
        assert released.release_reason == "Matter settled on 2026-11-30"
        again = await env.holds.get(with_reason)
        assert again is not None
        assert again.release_reason == "Matter settled on 2026-11-30"
        plain, _ = await env.holds.release(without, by="legal-user", at=T0)
        assert plain.release_reason is None
        active = await env.place(subject_ids=["cust-3"])
        record = await env.holds.get(active[0])
        assert record is not None
        assert record.release_reason is None

    async def test_release_twice_or_unknown_is_refused(self, env: Holds) -> None:
        hold_id, _ = await env.place(subject_ids=["cust-1"])
        await env.holds.release(hold_id, by="legal-user", at=T0)
        with pytest.raises(HoldAlreadyReleasedError):
            await env.holds.release(hold_id, by="legal-user", at=T0)
        with pytest.raises(HoldNotFoundError):
            await env.holds.release(str(uuid.uuid4()), by="legal-user", at=T0)

    async def test_list_newest_first_with_counts(self, env: Holds) -> None:
        await add_item(env.catalog, subjects=("cust-1",))
        older, _ = await env.place(subject_ids=["cust-1"])
        newer, _ = await env.holds.create(
            matter="m-2",
            description="",
            criteria=criteria(subject_ids=["cust-404"]),
            created_by="legal-user",
            created_at=T0 + timedelta(minutes=1),
        )
        listed = await env.holds.list_all()
        assert [(h.hold_id, h.matched) for h in listed] == [(newer.hold_id, 0), (older, 1)]
        await env.holds.release(older, by="legal-user", at=T0)
        active = await env.holds.list_all(active_only=True)
        assert [h.hold_id for h in active] == [newer.hold_id]

    @settings(
        max_examples=60,
        deadline=None,
        # One class per catalog runs this test, on purpose (the contract's whole point).
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
            HealthCheck.too_slow,
        ],
    )
    @given(given_json=criteria_json.filter(bool))
    async def test_the_sql_coverage_is_hold_covers(
        self, env: Holds, given_json: dict[str, Any]
    ) -> None:
        """Preview (one SQL count, as coverage is one SQL insert) equals hold_covers over all."""
        facts = await _all_facts(env)
        wanted = criteria(**given_json)
        expected = sum(1 for f in facts if hold_covers(wanted, f))
        assert await env.holds.preview(wanted) == expected


async def _all_facts(env: Holds) -> list[ItemFacts]:
    """Seed the fixed item set once per catalog (the fixture outlives the examples)."""
    if not env.facts:
        for spec in _item_specs():
            item_id = await add_item(env.catalog, **spec)
            record = await env.catalog.get(item_id)
            assert record is not None
            env.facts.append(
                ItemFacts(
                    item_id=item_id,
                    type=ArtefactType(record.type),
                    occurred_at=record.occurred_at,
                    attributes=record.attributes,
                    subject_ids=record.subject_ids,
                    addresses=record.addresses,
                    staff_ids=record.staff_ids,
                )
            )
    return env.facts
