"""SqlSubjectStore's contract: consent, objection, restriction, removed purposes, erasures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.models import ALL_PURPOSES, Change
from storage.sql.database import Database
from storage.sql.subjects import SqlSubjectStore
from tests.catalog_contract.support import T0


class SubjectStoreContract:
    """What subject rights and the consent topic rely on from the catalog."""

    @pytest.fixture
    def subjects(self, db: Database) -> SqlSubjectStore:
        return SqlSubjectStore(db)

    async def test_the_latest_consent_decision_wins(self, subjects: SqlSubjectStore) -> None:
        grant = await subjects.set_consent("c1", "marketing", granted=True, at=T0, source="crm")
        again = await subjects.set_consent("c1", "marketing", granted=True, at=T0, source="api")
        # An older event processed later still wins: event times are not compared.
        earlier = T0 - timedelta(days=1)
        withdraw = await subjects.set_consent(
            "c1", "marketing", granted=False, at=earlier, source="crm"
        )
        assert (grant, again, withdraw) == (Change.CHANGED, Change.UNCHANGED, Change.CHANGED)
        state = await subjects.state("c1")
        assert state.consents == {"marketing": False}
        assert state.as_record() == {
            "subject_id": "c1",
            "restricted": False,
            "consents": {"marketing": False},
            "objections": [],
        }

    async def test_concurrent_first_decisions_leave_one_row(
        self, subjects: SqlSubjectStore
    ) -> None:
        changes = await asyncio.gather(
            *(
                subjects.set_consent("c1", "training", granted=True, at=T0, source=f"s{n}")
                for n in range(6)
            )
        )
        assert Change.CHANGED in changes
        assert (await subjects.state("c1")).consents == {"training": True}

    async def test_restriction_and_its_lifting(self, subjects: SqlSubjectStore) -> None:
        assert await subjects.set_restricted("c1", restricted=False, at=T0) == Change.UNCHANGED
        assert not await subjects.is_restricted("c1")
        assert await subjects.set_restricted("c1", restricted=True, at=T0) == Change.CHANGED
        assert await subjects.set_restricted("c1", restricted=True, at=T0) == Change.UNCHANGED
        assert await subjects.is_restricted("c1")
        assert await subjects.set_restricted("c1", restricted=False, at=T0) == Change.CHANGED
        assert not (await subjects.state("c1")).restricted

    async def test_an_event_never_lifts_the_privacy_teams_restriction(
        self, subjects: SqlSubjectStore
    ) -> None:
        assert await subjects.set_restricted("c1", restricted=True, at=T0) == Change.CHANGED
        lift = subjects.set_restricted
        assert await lift("c1", restricted=False, at=T0, by="crm") == Change.KEPT
        assert await subjects.is_restricted("c1")
        # Restricting again from the CRM does not make it the CRM's to lift.
        assert await lift("c1", restricted=True, at=T0, by="crm") == Change.UNCHANGED
        assert await lift("c1", restricted=False, at=T0, by="crm") == Change.KEPT
        assert await lift("c1", restricted=False, at=T0, by="api") == Change.CHANGED
        # What the CRM set, the CRM lifts (and another system does not).
        assert await lift("c2", restricted=True, at=T0, by="crm") == Change.CHANGED
        assert await lift("c2", restricted=False, at=T0, by="helpdesk") == Change.KEPT
        assert await lift("c2", restricted=False, at=T0, by="crm") == Change.CHANGED
        assert not await subjects.is_restricted("c2")

    async def test_concurrent_restrictions_record_one_change(
        self, subjects: SqlSubjectStore
    ) -> None:
        changes = await asyncio.gather(
            *(subjects.set_restricted("c1", restricted=True, at=T0) for _ in range(6))
        )
        assert Change.CHANGED in changes
        assert await subjects.is_restricted("c1")

    async def test_objections_stand_and_star_means_every_purpose(
        self, db: Database, subjects: SqlSubjectStore
    ) -> None:
        assert await subjects.add_objection("c1", "training", at=T0) == Change.CHANGED
        assert await subjects.add_objection("c1", "training", at=T0) == Change.UNCHANGED
        await subjects.add_objection("c1", "quality", at=T0)
        await subjects.add_objection("c2", ALL_PURPOSES, at=T0)
        await subjects.add_objection("c2", "training", at=T0)
        found = await subjects.objections(["c1", "c2", "c3"])
        assert found == {"c1": frozenset({"training", "quality"}), "c2": None}
        assert await subjects.objections(["c3"]) == {}
        assert await subjects.objections([]) == {}
        assert (await subjects.state("c2")).objections == {ALL_PURPOSES, "training"}

    async def test_concurrent_objections_record_one_change(self, subjects: SqlSubjectStore) -> None:
        changes = await asyncio.gather(
            *(subjects.add_objection("c1", "training", at=T0) for _ in range(6))
        )
        assert changes.count(Change.CHANGED) == 1

    async def test_removed_purposes_accumulate(self, subjects: SqlSubjectStore) -> None:
        await subjects.record_removed("i1", ["marketing"], reason="withdrawal", at=T0)
        await subjects.record_removed("i1", ["marketing", "training"], reason="objection", at=T0)
        await subjects.record_removed("i2", [], reason="erasure", at=T0)
        assert await subjects.removed_purposes(["i1", "i2"]) == {
            "i1": frozenset({"marketing", "training"}),
            "i2": frozenset(),
        }
        assert await subjects.removed_purposes([]) == {}

    async def test_an_erasure_request_is_recorded_before_and_after(
        self, subjects: SqlSubjectStore
    ) -> None:
        await subjects.open_erasure("r1", subject_id="c1", requested_by="dpo", at=T0)
        assert await subjects.erasure_request("r1") == {
            "request_id": "r1",
            "subject_id": "c1",
            "requested_by": "dpo",
            "requested_at": T0.isoformat(),
            "outcome": {"state": "in_progress"},
        }
        outcome = {"state": "done", "erased": 3, "deferred": ["i2"]}
        await subjects.close_erasure("r1", outcome=outcome, deferred_item_ids=["i2"], at=T0)
        recorded = await subjects.erasure_request("r1")
        assert recorded is not None
        assert recorded["outcome"] == outcome
        assert await subjects.erasure_request("r404") is None

    async def test_an_erasure_stands_and_names_the_latest_request(
        self, subjects: SqlSubjectStore
    ) -> None:
        assert await subjects.standing_erasures(["c1", "c2"]) == {}
        await subjects.open_erasure("r1", subject_id="c1", requested_by="dpo", at=T0)
        later = T0 + timedelta(hours=1)
        await subjects.open_erasure("r2", subject_id="c1", requested_by="dpo", at=later)
        assert await subjects.standing_erasures(["c1", "c2"]) == {"c1": "r2"}
        assert await subjects.standing_erasures([]) == {}
        await subjects.defer_erasure("r2", "i9", at=later)
        await subjects.defer_erasure("r2", "i9", at=later)  # again: still one entry
        assert [(d.request_id, d.item_id) for d in await subjects.pending_deferred()] == [
            ("r2", "i9")
        ]

    async def test_the_deferred_queue_pages_oldest_first_and_drains(
        self, subjects: SqlSubjectStore
    ) -> None:
        later = T0 + timedelta(hours=1)
        for request_id, at in (("r2", later), ("r1", T0), ("r3", T0)):
            await subjects.open_erasure(request_id, subject_id="c1", requested_by="dpo", at=at)
            await subjects.close_erasure(
                request_id, outcome={}, deferred_item_ids=["i2", "i1"], at=at
            )
        expected = [
            (T0, "r1", "i1"),
            (T0, "r1", "i2"),
            (T0, "r3", "i1"),
            (T0, "r3", "i2"),
            (later, "r2", "i1"),
            (later, "r2", "i2"),
        ]
        seen, after = [], None
        while page := await subjects.pending_deferred(after=after, limit=2):
            seen += [(d.queued_at, d.request_id, d.item_id) for d in page]
            after = page[-1]
        assert seen == expected
        await subjects.finish_deferred("r1", "i1", at=later)
        await subjects.finish_deferred("r2", "i2", at=later)
        left = [(d.request_id, d.item_id) for d in await subjects.pending_deferred()]
        assert left == [("r1", "i2"), ("r3", "i1"), ("r3", "i2"), ("r2", "i1")]
