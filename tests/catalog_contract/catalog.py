"""SqlCatalog's contract: claims, commits, batches, queries, purposes and tombstones."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest
from sqlalchemy import insert, text

from policies.models import HoldCriteria
from storage.errors import CatalogError, ItemHeldError
from storage.models import ClaimCommit, Destruction, ItemQuery, ItemStatus
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.holds import SqlHoldStore
from storage.sql.schema import hold_items
from storage.sql.subjects import SqlSubjectStore
from tests.catalog_contract.support import (
    T0,
    add_item,
    mark_all_synced,
    new_item,
    parties,
    purpose,
    stored_content,
    unsynced,
)


async def _hold(db: Database, subject: str = "nobody") -> str:
    record, _ = await SqlHoldStore(db).create(
        matter="m-1",
        description="",
        criteria=HoldCriteria.from_json({"subject_ids": [subject]}),
        created_by="legal-user",
        created_at=T0,
    )
    return record.hold_id


async def _ids(catalog: SqlCatalog, query: ItemQuery) -> list[str]:
    return [r.item_id for r in (await catalog.list(query)).items]


class CatalogContract:
    """What ingest, retrieval and retention rely on from the item catalog."""

    @pytest.fixture
    def catalog(self, db: Database) -> SqlCatalog:
        return SqlCatalog(db)

    async def test_a_claim_is_pending_until_committed(self, catalog: SqlCatalog) -> None:
        rows = parties(subjects=["cust-1"], staff=["agent-1"], addresses=["+447700900001"])
        claim = await catalog.claim(
            source="pbx",
            event_id="call-1",
            item_type="call_recording",
            occurred_at=T0,
            ingested_at=T0 + timedelta(seconds=3),
            policy_version="v1",
            event={"call_id": "call-1", "attributes": {"queue": "sales"}},
            parties=rows,
            attributes={"queue": "sales"},
        )
        assert (claim.status, claim.created) == (ItemStatus.PENDING, True)
        assert await catalog.get(claim.item_id) is None
        pending = await catalog.get(claim.item_id, include_pending=True)
        assert pending is not None
        assert (pending.source, pending.event_id, pending.type) == (
            "pbx",
            "call-1",
            "call_recording",
        )
        assert pending.event == {"call_id": "call-1", "attributes": {"queue": "sales"}}
        assert pending.ingested_at == T0 + timedelta(seconds=3)
        assert pending.stored is None
        assert await catalog.pending_claims() == 1

    async def test_the_same_event_claims_the_same_item(self, catalog: SqlCatalog) -> None:
        first = await add_item(catalog, source="pbx", event_id="call-1", commit=False)
        again = await catalog.claim(
            source="pbx",
            event_id="call-1",
            item_type="call_recording",
            occurred_at=T0,
            ingested_at=T0,
            policy_version="v2",
            event={},
            parties=[],
            attributes={},
        )
        assert (again.item_id, again.status, again.created) == (first, ItemStatus.PENDING, False)
        other_source = await add_item(catalog, source="pbx-2", event_id="call-1", commit=False)
        assert other_source != first

    async def test_concurrent_claims_of_one_event_create_one_item(
        self, catalog: SqlCatalog
    ) -> None:
        claims = await asyncio.gather(
            *(
                catalog.claim(
                    source="pbx",
                    event_id="raced",
                    item_type="chat",
                    occurred_at=T0,
                    ingested_at=T0,
                    policy_version="v1",
                    event={"n": n},
                    parties=parties(subjects=[f"s{n}"]),
                    attributes={"n": str(n)},
                )
                for n in range(8)
            )
        )
        assert sum(c.created for c in claims) == 1
        assert len({c.item_id for c in claims}) == 1

    async def test_commit_records_content_purposes_and_holds(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id = await _hold(db)
        item_id = await add_item(catalog, commit=False, subjects=["cust-1"])
        stored = stored_content("c1")
        committed = await catalog.commit_claimed(
            item_id,
            stored=stored,
            purposes=[purpose("training", 365), purpose("legal", 1825, worm=True)],
            hold_ids=[hold_id, hold_id],
            s3_synced=False,
        )
        assert committed
        record = await catalog.get(item_id)
        assert record is not None
        assert record.status == ItemStatus.STORED
        assert record.stored == stored
        assert [p.name for p in record.purposes] == ["legal", "training"]
        assert record.purposes[0] == purpose("legal", 1825, worm=True)
        assert record.hold_ids == (hold_id,)
        assert not record.s3_synced
        assert record.subject_ids == {"cust-1"}
        assert await catalog.pending_claims() == 0

    async def test_only_the_first_commit_of_a_claim_wins(self, catalog: SqlCatalog) -> None:
        item_id = await add_item(catalog, commit=False)
        outcomes = await asyncio.gather(
            *(
                catalog.commit_claimed(
                    item_id,
                    stored=stored_content(f"try{n}"),
                    purposes=[purpose("quality")],
                    hold_ids=[],
                    s3_synced=True,
                )
                for n in range(4)
            )
        )
        assert sorted(outcomes) == [False, False, False, True]
        winner = f"try{outcomes.index(True)}"
        record = await catalog.get(item_id)
        assert record is not None
        assert record.stored == stored_content(winner)
        assert [p.name for p in record.purposes] == ["quality"]

    async def test_insert_stored_many_takes_each_key_once(self, catalog: SqlCatalog) -> None:
        earlier = await add_item(catalog, source="mail", event_id="m-0", commit=False)
        claims = await catalog.insert_stored_many(
            [
                new_item("m-0"),
                new_item("m-1", subjects=["cust-1"], purposes=[purpose("legal", 1825)]),
                new_item("m-1", subjects=["cust-2"]),
                new_item("m-2", attributes={"desk": "fx"}),
            ]
        )
        assert [c.created for c in claims] == [False, True, False, True]
        assert claims[0].item_id == earlier
        assert claims[0].status == ItemStatus.PENDING
        assert claims[1].item_id == claims[2].item_id
        record = await catalog.get(claims[1].item_id)
        assert record is not None
        assert record.subject_ids == {"cust-1"}
        assert [p.name for p in record.purposes] == ["legal"]
        again = await catalog.insert_stored_many([new_item("m-2"), new_item("m-3")])
        assert (again[0].item_id, again[0].created) == (claims[3].item_id, False)
        assert again[1].created

    async def test_claim_many_claims_each_key_once_and_commits_in_one_go(
        self, catalog: SqlCatalog
    ) -> None:
        earlier = await add_item(catalog, source="mail", event_id="c-0", commit=False)
        done = await add_item(catalog, source="mail", event_id="c-9")
        claims = await catalog.claim_many(
            [
                new_item("c-0"),
                new_item("c-1", subjects=["cust-1"], purposes=[purpose("legal", 1825)]),
                new_item("c-2", attributes={"desk": "fx"}),
                new_item("c-9"),
            ]
        )
        assert [(c.created, c.status) for c in claims] == [
            (False, ItemStatus.PENDING),
            (True, ItemStatus.PENDING),
            (True, ItemStatus.PENDING),
            (False, ItemStatus.STORED),
        ]
        assert (claims[0].item_id, claims[3].item_id) == (earlier, done)
        pending = await catalog.get(claims[1].item_id, include_pending=True)
        assert pending is not None
        assert pending.subject_ids == {"cust-1"}
        assert pending.purposes == ()  # purposes come with the commit
        won = await catalog.commit_claimed_many(
            [
                ClaimCommit(c.item_id, stored_content(f"s{i}"), [purpose("legal")], [], True)
                for i, c in enumerate(claims[:3])
            ]
            + [ClaimCommit(done, stored_content("again"), [], [], True)]
        )
        assert won == [True, True, True, False]
        for claim in claims[:3]:
            record = await catalog.get(claim.item_id)
            assert record is not None
            assert [p.name for p in record.purposes] == ["legal"]
        again = await catalog.claim_many([new_item("c-1")])
        assert (again[0].item_id, again[0].status) == (claims[1].item_id, ItemStatus.STORED)
        assert await catalog.claim_many([]) == []

    async def test_commit_claimed_many_writes_each_won_claim_as_its_own(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id, other_hold = await _hold(db), await _hold(db, "cust-9")
        first = await add_item(catalog, commit=False, event_id="k-1")
        second = await add_item(catalog, commit=False, event_id="k-2")
        done = await add_item(catalog, event_id="k-3")
        async with db.begin() as conn:  # a hold placed while the claim was pending
            await conn.execute(insert(hold_items).values(hold_id=hold_id, item_id=second))
        retain = T0 + timedelta(days=30)
        won = await catalog.commit_claimed_many(
            [
                ClaimCommit(first, stored_content("one"), [purpose("quality")], [], True, retain),
                ClaimCommit(
                    second,
                    stored_content("two"),
                    [purpose("legal", 1825, worm=True), purpose("training")],
                    [hold_id, other_hold],
                    False,
                ),
                ClaimCommit(first, stored_content("late"), [purpose("training")], [], True),
                ClaimCommit(done, stored_content("again"), [], [], True),
            ]
        )
        assert won == [True, True, False, False]
        one, two = await catalog.get(first), await catalog.get(second)
        assert one is not None
        assert two is not None
        assert one.stored == stored_content("one")
        assert [p.name for p in one.purposes] == ["quality"]
        assert one.s3_retain_until == retain
        assert one.s3_synced
        assert one.hold_ids == ()
        assert two.stored == stored_content("two")
        assert [p.name for p in two.purposes] == ["legal", "training"]
        assert two.s3_retain_until is None
        assert not two.s3_synced
        assert sorted(two.hold_ids) == sorted([hold_id, other_hold])
        untouched = await catalog.get(done)
        assert untouched is not None
        assert untouched.stored != stored_content("again")
        assert await catalog.pending_claims() == 0

    async def test_insert_stored_many_racing_itself_stores_each_item_once(
        self, catalog: SqlCatalog
    ) -> None:
        batch = [new_item(f"m-{n}") for n in range(6)]
        results = await asyncio.gather(*(catalog.insert_stored_many(batch) for _ in range(4)))
        for position in range(len(batch)):
            claims = [result[position] for result in results]
            assert sum(c.created for c in claims) == 1
            assert len({c.item_id for c in claims}) == 1
        page = await catalog.list(ItemQuery(limit=100))
        assert len(page.items) == len(batch)

    async def test_insert_stored_many_covers_with_holds(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id = await _hold(db)
        (claim,) = await catalog.insert_stored_many([new_item("m-1", hold_ids=[hold_id])])
        record = await catalog.get(claim.item_id)
        assert record is not None
        assert record.hold_ids == (hold_id,)

    async def test_filters_all_apply(self, db: Database, catalog: SqlCatalog) -> None:
        hit = await add_item(
            catalog,
            item_type="email",
            subjects=["cust-1"],
            staff=["agent-1"],
            attributes={"desk": "fx", "team": "a"},
            purposes=[purpose("training", 30)],
            occurred_at=T0 + timedelta(hours=1),
        )
        await add_item(catalog, item_type="chat", subjects=["cust-1"])
        await add_item(catalog, item_type="email", subjects=["cust-2"], occurred_at=T0)
        await add_item(catalog, item_type="email", attributes={"desk": "rates"})
        await add_item(catalog, subjects=["cust-1"], commit=False)
        assert await _ids(catalog, ItemQuery(type="email", subject_id="cust-1")) == [hit]
        assert await _ids(catalog, ItemQuery(staff_id="agent-1")) == [hit]
        assert await _ids(catalog, ItemQuery(attributes={"desk": "fx", "team": "a"})) == [hit]
        assert await _ids(catalog, ItemQuery(attributes={"desk": "fx", "team": "b"})) == []
        assert await _ids(catalog, ItemQuery(purpose="training")) == [hit]
        expiry = T0 + timedelta(days=30)
        assert await _ids(catalog, ItemQuery(purpose="training", unexpired_at=expiry)) == []
        window = ItemQuery(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2))
        assert await _ids(catalog, window) == [hit]
        assert await _ids(catalog, ItemQuery(until=T0 + timedelta(hours=1), type="email")) != []
        await SqlSubjectStore(db).set_restricted("cust-1", restricted=True, at=T0)
        assert hit not in await _ids(catalog, ItemQuery(exclude_restricted=True, limit=100))
        record = await catalog.get(hit)
        assert record is not None
        assert record.restricted

    async def test_pages_walk_every_item_once_newest_first(self, catalog: SqlCatalog) -> None:
        # Several items share each time: the cursor must break ties by item id.
        made = [
            await add_item(catalog, occurred_at=T0 + timedelta(minutes=n // 3)) for n in range(11)
        ]
        seen: list[tuple[object, str]] = []
        query = ItemQuery(limit=4)
        while True:
            page = await catalog.list(query)
            seen += [(r.occurred_at, r.item_id) for r in page.items]
            if page.next_cursor is None:
                break
            query = ItemQuery(limit=4, cursor=page.next_cursor)
        assert sorted(i for _, i in seen) == sorted(made)
        assert seen == sorted(seen, reverse=True)

    async def test_times_come_back_aware_in_utc(self, catalog: SqlCatalog) -> None:
        local = T0.astimezone(timezone(timedelta(hours=2)))
        item_id = await add_item(catalog, occurred_at=local)
        record = await catalog.get(item_id)
        assert record is not None
        assert record.occurred_at == T0
        assert record.occurred_at.utcoffset() == timedelta(0)

    async def test_naive_times_are_refused(self, catalog: SqlCatalog) -> None:
        with pytest.raises(Exception, match="naive datetime"):
            await add_item(catalog, occurred_at=T0.replace(tzinfo=None))

    async def test_contract_bounds_and_unicode_survive(self, catalog: SqlCatalog) -> None:
        event_id, source = "e" * 200, "s" * 100  # SPEC section 3: the longest allowed
        address = ("ü" * 63 + "@").ljust(320, "x")
        item_id = await add_item(
            catalog,
            source=source,
            event_id=event_id,
            addresses=[address],
            subjects=["ß" * 200],
            attributes={"équipe": "北京 desk"},
        )
        record = await catalog.get(item_id)
        assert record is not None
        assert (record.source, record.event_id) == (source, event_id)
        assert address in record.addresses
        assert record.subject_ids == {"ß" * 200}
        assert await _ids(catalog, ItemQuery(subject_id="ß" * 200)) == [item_id]
        assert await _ids(catalog, ItemQuery(attributes={"équipe": "北京 desk"})) == [item_id]

    async def test_set_purposes_replaces_them_and_marks_the_item_unsynced(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        item_id = await add_item(catalog, purposes=[purpose("quality"), purpose("training")])
        await mark_all_synced(db)
        legal = purpose("legal", 1825, worm=True)
        await catalog.set_purposes(item_id, [legal], policy_version="v2")
        record = await catalog.get(item_id)
        assert record is not None
        assert record.purposes == (legal,)
        assert record.policy_version == "v2"
        assert await unsynced(db) == {item_id}
        await catalog.set_purposes(item_id, [])
        record = await catalog.get(item_id)
        assert record is not None
        assert (record.purposes, record.policy_version) == ((), "v2")

    async def test_cover_adds_holds_once_and_syncs_only_objects(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id = await _hold(db)
        with_object = await add_item(catalog, stored=stored_content("o"))
        metadata_only = await add_item(catalog)
        await catalog.cover(with_object, [hold_id], has_object=True)
        await catalog.cover(with_object, [hold_id], has_object=True)
        await catalog.cover(metadata_only, [hold_id], has_object=False)
        assert await unsynced(db) == {with_object}
        record = await catalog.get(with_object)
        assert record is not None
        assert record.hold_ids == (hold_id,)
        assert await catalog.active_hold_criteria() == [
            (hold_id, "m-1", {"subject_ids": ["nobody"]})
        ]

    async def test_object_lock_state_is_recorded(self, catalog: SqlCatalog) -> None:
        item_id = await add_item(catalog, stored=stored_content("o"))
        until = T0 + timedelta(days=1825)
        await catalog.set_s3_state(item_id, legal_hold=True, retain_until=until, synced=False)
        record = await catalog.get(item_id)
        assert record is not None
        assert (record.s3_legal_hold, record.s3_retain_until, record.s3_synced) == (
            True,
            until,
            False,
        )

    async def test_destroyed_items_leave_only_a_tombstone(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id = await _hold(db)
        item_id = await add_item(
            catalog,
            source="pbx",
            event_id="call-9",
            subjects=["cust-1"],
            attributes={"desk": "fx"},
            stored=stored_content("d"),
            purposes=[purpose("quality")],
            hold_ids=[hold_id],
        )
        at = T0 + timedelta(days=91)
        # A hold in force forbids it (ItemHeldError); released, its coverage goes too.
        await SqlHoldStore(db).release(hold_id, by="legal-user", at=at)
        assert await catalog.mark_destroyed(item_id, reason="retention expired", at=at)
        assert not await catalog.mark_destroyed(item_id, reason="again", at=at)
        assert await catalog.get(item_id) is None
        gone = await catalog.get(item_id, include_pending=True)
        assert gone is not None
        assert gone.status == ItemStatus.DESTROYED
        assert (gone.source, gone.event_id, gone.event, gone.stored) == ("", "", {}, None)
        assert (gone.purposes, gone.hold_ids) == ((), ())
        assert await _ids(catalog, ItemQuery(subject_id="cust-1")) == []
        assert await catalog.tombstone(item_id) == {
            "item_id": item_id,
            "type": "call_recording",
            "destroyed_at": at.isoformat(),
            "reason": "retention expired",
            "policy_version": "v1",
        }
        assert await catalog.tombstone("no-such-item") is None
        # A republished event never brings the item back.
        again = await catalog.claim(
            source="pbx",
            event_id="call-9",
            item_type="call_recording",
            occurred_at=T0,
            ingested_at=at,
            policy_version="v1",
            event={},
            parties=[],
            attributes={},
        )
        assert (again.item_id, again.status, again.created) == (
            item_id,
            ItemStatus.DESTROYED,
            False,
        )

    async def test_a_batch_destroys_all_but_the_held_in_one_go(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        hold_id = await _hold(db, subject="cust-held")
        held = await add_item(
            catalog, subjects=["cust-held"], stored=stored_content("h"), hold_ids=[hold_id]
        )
        free = [
            await add_item(catalog, subjects=[f"cust-{i}"], stored=stored_content(f"f{i}"))
            for i in range(3)
        ]
        earlier = await add_item(catalog, stored=stored_content("e"))
        assert await catalog.mark_destroyed(earlier, reason="erasure", at=T0)
        at = T0 + timedelta(days=1)
        reasons = {i: f"reason-{n}" for n, i in enumerate([*free, held, earlier, "no-such-item"])}
        outcome = await catalog.mark_destroyed_many(reasons, at=at)
        assert outcome.destroyed == tuple(sorted(free))
        assert dict(outcome.held) == {held: (hold_id, "m-1")}
        assert [r.item_id for r in await catalog.get_many([*free, held])] == [held]
        for n, item_id in enumerate(free):
            tombstone = await catalog.tombstone(item_id)
            assert tombstone is not None
            assert (tombstone["reason"], tombstone["destroyed_at"]) == (
                f"reason-{n}",
                at.isoformat(),
            )
            assert await _ids(catalog, ItemQuery(subject_id=f"cust-{n}")) == []
        # The earlier destruction keeps its own tombstone.
        assert (await catalog.tombstone(earlier) or {})["reason"] == "erasure"
        assert await catalog.mark_destroyed_many({}, at=at) == Destruction((), {})
        # One item alone: a hold is an error, a second destruction a no.
        with pytest.raises(ItemHeldError):
            await catalog.mark_destroyed(held, reason="again", at=at)
        assert not await catalog.mark_destroyed(free[0], reason="again", at=at)

    async def test_an_abandoned_claim_can_be_claimed_afresh(self, catalog: SqlCatalog) -> None:
        first = await add_item(catalog, source="pbx", event_id="bad", subjects=["s"], commit=False)
        await catalog.abandon(first)
        assert await catalog.get(first, include_pending=True) is None
        second = await add_item(catalog, source="pbx", event_id="bad", commit=False)
        assert second != first

    async def test_standing_consents_are_the_granted_ones(
        self, db: Database, catalog: SqlCatalog
    ) -> None:
        subjects = SqlSubjectStore(db)
        await subjects.set_consent("cust-1", "marketing", granted=True, at=T0, source="crm")
        await subjects.set_consent("cust-1", "profiling", granted=False, at=T0, source="crm")
        assert await catalog.standing_consents(["cust-1", "cust-2"]) == {
            "cust-1": frozenset({"marketing"}),
            "cust-2": frozenset(),
        }
        assert await catalog.standing_consents([]) == {}

    async def test_errors_never_show_bound_values(self, db: Database) -> None:
        query = text("SELECT * FROM no_such_table WHERE subject_id = :subject")
        async with db.connect() as conn:
            with pytest.raises(CatalogError) as caught:
                await conn.execute(query, {"subject": "cust-42-personal"})
        assert not caught.value.retriable
        assert "cust-42-personal" not in str(caught.value)
        assert "cust-42-personal" not in str(caught.value.__cause__)
