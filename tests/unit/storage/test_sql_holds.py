"""SqlHoldStore on a real SQLite catalog: coverage by criteria, counts, preview, release."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from policies.holds import hold_covers
from policies.models import ArtefactType, HoldCriteria, ItemFacts
from storage.database import Database
from storage.models import PartyRow
from storage.schema import hold_items, items
from storage.sql_catalog import SqlCatalog
from storage.sql_holds import HoldAlreadyReleasedError, HoldNotFoundError, SqlHoldStore

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass
class Env:
    db: Database
    catalog: SqlCatalog
    holds: SqlHoldStore
    facts: list[ItemFacts] | None = None

    async def add(
        self,
        *,
        item_type: str = "call_recording",
        subjects: tuple[str, ...] = (),
        staff: tuple[str, ...] = (),
        addresses: tuple[str, ...] = (),
        attributes: dict[str, str] | None = None,
        occurred_at: datetime = T0,
        commit: bool = True,
    ) -> str:
        attributes = attributes or {}
        parties = [PartyRow(a, None, None) for a in addresses]
        parties += [PartyRow(f"sub-{s}", s, None) for s in subjects]
        parties += [PartyRow(f"staff-{s}", None, s) for s in staff]
        claim = await self.catalog.claim(
            source="test",
            event_id=uuid.uuid4().hex,
            item_type=item_type,
            occurred_at=occurred_at,
            ingested_at=occurred_at,
            policy_version="v1",
            event={
                "type": item_type,
                "parties": [
                    {"address": p.address, "subject_id": p.subject_id, "staff_id": p.staff_id}
                    for p in parties
                ],
                "attributes": attributes,
            },
            parties=parties,
            attributes=attributes,
        )
        if commit:
            await self.catalog.commit_stored(
                claim.item_id, stored=None, purposes=[], hold_ids=[], s3_synced=True
            )
        return claim.item_id

    async def covered(self, hold_id: str) -> set[str]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                select(hold_items.c.item_id).where(hold_items.c.hold_id == hold_id)
            )
            return {r.item_id for r in rows}

    async def unsynced(self) -> set[str]:
        async with self.db.connect() as conn:
            rows = await conn.execute(select(items.c.item_id).where(items.c.s3_synced.is_(False)))
            return {r.item_id for r in rows}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
    await db.create_schema()
    yield Env(db, SqlCatalog(db), SqlHoldStore(db, batch_size=3))
    await db.dispose()


def criteria(**given: Any) -> HoldCriteria:
    return HoldCriteria.from_json(given)


async def place(env: Env, **given: Any) -> tuple[str, list[str]]:
    record, covered = await env.holds.create(
        matter="m-1",
        description="d",
        criteria=criteria(**given),
        created_by="legal-user",
        created_at=T0,
    )
    return record.hold_id, covered


async def test_create_covers_matching_stored_items_only(env: Env) -> None:
    a = await env.add(subjects=("cust-1",))
    b = await env.add(subjects=("cust-1", "cust-2"))
    await env.add(subjects=("cust-2",))
    await env.add(subjects=("cust-1",), commit=False)  # pending: ingest covers it itself
    hold_id, covered = await place(env, subject_ids=["cust-1"])
    assert sorted(covered) == sorted([a, b])
    assert await env.covered(hold_id) == {a, b}
    assert await env.unsynced() == {a, b}  # the S3 flags are still to be set
    record = await env.holds.get(hold_id)
    assert record is not None
    assert record.matched == 2
    assert record.active
    assert record.to_json()["criteria"] == {"subject_ids": ["cust-1"]}


async def test_every_criterion_given_must_match(env: Env) -> None:
    hit = await env.add(
        item_type="email", staff=("agent-7",), attributes={"desk": "fx"}, occurred_at=T0
    )
    await env.add(item_type="chat", staff=("agent-7",), attributes={"desk": "fx"})
    await env.add(item_type="email", staff=("agent-8",), attributes={"desk": "fx"})
    await env.add(item_type="email", staff=("agent-7",), attributes={"desk": "rates"})
    await env.add(
        item_type="email",
        staff=("agent-7",),
        attributes={"desk": "fx"},
        occurred_at=T0 + timedelta(days=1),
    )
    _, covered = await place(
        env,
        types=["email"],
        staff_ids=["agent-7"],
        attributes={"desk": ["fx", "commodities"]},
        since=T0.isoformat(),
        until=(T0 + timedelta(days=1)).isoformat(),
    )
    assert covered == [hit]


async def test_addresses_match_case_insensitively(env: Env) -> None:
    ascii_hit = await env.add(addresses=("Alice@Example.com",))
    unicode_hit = await env.add(addresses=("STRASSE@bank.example",))
    await env.add(addresses=("bob@example.com",))
    _, covered = await place(env, addresses=["alice@example.COM"])
    assert covered == [ascii_hit]
    # Non-ASCII criteria skip the SQL filter; hold_covers' casefold still decides.
    _, covered = await place(env, addresses=["straße@bank.example", "strasse@bank.example"])
    assert covered == [unicode_hit]


async def test_since_is_inclusive_until_exclusive(env: Env) -> None:
    at_since = await env.add(occurred_at=T0)
    await env.add(occurred_at=T0 + timedelta(hours=1))
    _, covered = await place(env, since=T0.isoformat(), until=(T0 + timedelta(hours=1)).isoformat())
    assert covered == [at_since]


async def test_preview_counts_without_placing(env: Env) -> None:
    for _ in range(7):  # more than one batch of 3
        await env.add(staff=("agent-1",))
    await env.add(staff=("agent-2",))
    assert await env.holds.preview(criteria(staff_ids=["agent-1"])) == 7
    assert await env.holds.list_all() == []
    assert await env.unsynced() == set()


async def test_cover_is_idempotent_and_takes_later_items(env: Env) -> None:
    first = await env.add(subjects=("cust-9",))
    hold_id, covered = await place(env, subject_ids=["cust-9"])
    assert covered == [first]
    hold = criteria(subject_ids=["cust-9"])
    assert await env.holds.cover(hold_id, hold) == []
    later = await env.add(subjects=("cust-9",))
    assert await env.holds.cover(hold_id, hold) == [later]
    record = await env.holds.get(hold_id)
    assert record is not None
    assert record.matched == 2


async def test_release_frees_items_no_other_hold_covers(env: Env) -> None:
    both = await env.add(subjects=("cust-1",), staff=("agent-1",))
    only_first = await env.add(subjects=("cust-1",))
    first, _ = await place(env, subject_ids=["cust-1"])
    second, _ = await place(env, staff_ids=["agent-1"])
    async with env.db.begin() as conn:  # as if the flags had been synced
        await conn.execute(items.update().values(s3_synced=True))
    released, freed = await env.holds.release(first, by="legal-user", at=T0 + timedelta(hours=1))
    assert freed == [only_first]
    assert await env.unsynced() == {only_first}
    assert released.released_at == T0 + timedelta(hours=1)
    assert released.released_by == "legal-user"
    assert [h.hold_id for h in await env.holds.active()] == [second]
    record = await env.catalog.get(both)
    assert record is not None
    assert record.hold_ids == (second,)
    _, freed = await env.holds.release(second, by="legal-user", at=T0 + timedelta(hours=2))
    assert freed == [both]


async def test_release_twice_or_unknown_is_refused(env: Env) -> None:
    hold_id, _ = await place(env, subject_ids=["cust-1"])
    await env.holds.release(hold_id, by="legal-user", at=T0)
    with pytest.raises(HoldAlreadyReleasedError):
        await env.holds.release(hold_id, by="legal-user", at=T0)
    with pytest.raises(HoldNotFoundError):
        await env.holds.release(str(uuid.uuid4()), by="legal-user", at=T0)


async def test_list_newest_first_with_counts(env: Env) -> None:
    await env.add(subjects=("cust-1",))
    older, _ = await place(env, subject_ids=["cust-1"])
    newer_record, _ = await env.holds.create(
        matter="m-2",
        description="",
        criteria=criteria(subject_ids=["cust-404"]),
        created_by="legal-user",
        created_at=T0 + timedelta(minutes=1),
    )
    listed = await env.holds.list_all()
    assert [(h.hold_id, h.matched) for h in listed] == [
        (newer_record.hold_id, 0),
        (older, 1),
    ]
    await env.holds.release(older, by="legal-user", at=T0)
    active = await env.holds.list_all(active_only=True)
    assert [h.hold_id for h in active] == [newer_record.hold_id]


_SUBJECTS = ("s1", "s2", "s3")
_STAFF = ("a1", "a2")
_ADDRESSES = ("x@ex.com", "Y@Ex.com", "+447700900001")
_DESKS = ("fx", "rates")


def _item_specs() -> list[dict[str, Any]]:
    return [
        {
            "item_type": list(ArtefactType)[n % 3].value,
            "subjects": (_SUBJECTS[n % 3],) if n % 4 else (),
            "staff": (_STAFF[n % 2],) if n % 5 else (),
            "addresses": (_ADDRESSES[n % 3],),
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
        "addresses": _values(_cased(_ADDRESSES)),
        "types": _values(tuple(t.value for t in ArtefactType)),
        "since": st.none()
        | st.integers(0, 40).map(lambda h: (T0 + timedelta(hours=h)).isoformat()),
        "attributes": st.none()
        | st.lists(st.sampled_from(_DESKS), min_size=1, unique=True).map(lambda d: {"desk": d}),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not None})


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(given_json=criteria_json.filter(bool))
async def test_sql_prefilter_never_misses_an_item(env: Env, given_json: dict[str, Any]) -> None:
    """Preview (SQL candidates confirmed by hold_covers) equals hold_covers over all items."""
    facts = await _all_facts(env)
    wanted = criteria(**given_json)
    expected = sum(1 for f in facts if hold_covers(wanted, f))
    assert await env.holds.preview(wanted) == expected


async def _all_facts(env: Env) -> list[ItemFacts]:
    """Seed the fixed item set once per catalog (the fixture outlives the examples)."""
    if env.facts is None:
        facts = []
        for spec in _item_specs():
            item_id = await env.add(**spec)
            record = await env.catalog.get(item_id)
            assert record is not None
            facts.append(
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
        env.facts = facts
    return env.facts
