"""SqlReviewStore's contract, and what the retention explanation reads of subject requests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.explanation import Removal
from policies.review import ReviewState
from storage.errors import ReviewNotPendingError
from storage.models import PurposeRow
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.reviews import SqlReviewStore
from storage.sql.subjects import SqlSubjectStore
from tests.catalog_contract.support import T0, add_item


class ReviewStoreContract:
    """What the sweeper, the review routes and the explanation rely on."""

    @pytest.fixture
    def reviews(self, db: Database) -> SqlReviewStore:
        return SqlReviewStore(db)

    async def test_one_open_review_per_item_then_a_decision(
        self, db: Database, reviews: SqlReviewStore
    ) -> None:
        item_id = await add_item(SqlCatalog(db), subjects=["cust-1"])
        assert await reviews.current(item_id) is None
        opened = await reviews.open(item_id, purposes=["legal"], at=T0)
        assert opened is not None
        assert (opened.state, opened.purposes) == (ReviewState.PENDING, ("legal",))
        assert await reviews.open(item_id, purposes=["legal"], at=T0) is None
        assert await reviews.open_states([item_id, "other"]) == {item_id: ReviewState.PENDING}

        decided = await reviews.decide(
            item_id,
            state=ReviewState.EXTENDED,
            by="alice",
            at=T0 + timedelta(hours=1),
            justification="still needed",
            extend_by="P1Y",
            expires_at=T0 + timedelta(days=365),
        )
        assert (decided.state, decided.decided_by, decided.justification) == (
            ReviewState.EXTENDED,
            "alice",
            "still needed",
        )
        assert (decided.extend_by, decided.expires_at) == ("P1Y", T0 + timedelta(days=365))
        assert decided.decided_at == T0 + timedelta(hours=1)
        assert await reviews.open_states([item_id]) == {}
        with pytest.raises(ReviewNotPendingError, match="extended"):
            await reviews.decide(
                item_id, state=ReviewState.DESTROY, by="bob", at=T0, justification="x"
            )
        # Extended is closed: a later expiry opens a new review.
        again = await reviews.open(item_id, purposes=["legal"], at=T0 + timedelta(days=366))
        assert again is not None
        current = await reviews.current(item_id)
        assert current is not None
        assert current.review_id == again.review_id

    async def test_no_review_opens_for_a_purpose_extended_past_the_pass(
        self, db: Database, reviews: SqlReviewStore
    ) -> None:
        # A sweep read the item due, then a reviewer extended it: the late pass opens nothing.
        extended = PurposeRow("legal", "legal_obligation", T0 + timedelta(days=365))
        item_id = await add_item(SqlCatalog(db), purposes=[extended])
        assert await reviews.open(item_id, purposes=["legal"], at=T0) is None
        assert await reviews.current(item_id) is None
        # Once that expiry has passed, the next pass opens its review.
        later = await reviews.open(item_id, purposes=["legal"], at=T0 + timedelta(days=366))
        assert later is not None
        assert later.state is ReviewState.PENDING

    async def test_no_review_no_decision(self, db: Database, reviews: SqlReviewStore) -> None:
        item_id = await add_item(SqlCatalog(db))
        with pytest.raises(ReviewNotPendingError, match="no review"):
            await reviews.decide(
                item_id, state=ReviewState.DESTROY, by="bob", at=T0, justification="x"
            )

    async def test_the_queue_lists_stored_items_oldest_first_in_pages(
        self, db: Database, reviews: SqlReviewStore
    ) -> None:
        catalog = SqlCatalog(db)
        ids = [await add_item(catalog) for _ in range(3)]
        for minutes, item_id in zip((2, 0, 1), ids, strict=True):
            await reviews.open(item_id, purposes=["legal"], at=T0 + timedelta(minutes=minutes))
        queue = await reviews.list(state=ReviewState.PENDING)
        assert [r.item_id for r in queue] == [ids[1], ids[2], ids[0]]
        first = await reviews.list(state=ReviewState.PENDING, limit=1)
        rest = await reviews.list(
            state=ReviewState.PENDING, after=(first[0].opened_at, first[0].review_id)
        )
        assert [r.item_id for r in first + rest] == [r.item_id for r in queue]
        await reviews.decide(ids[0], state=ReviewState.DESTROY, by="a", at=T0, justification="x")
        assert [r.item_id for r in await reviews.list(state=ReviewState.DESTROY)] == [ids[0]]
        await catalog.mark_destroyed(ids[0], reason="review_destroy", at=T0)
        assert await reviews.list(state=ReviewState.DESTROY) == []

    async def test_removals_and_a_queued_erasure_are_read_back(self, db: Database) -> None:
        item_id = await add_item(SqlCatalog(db), subjects=["cust-1"])
        subjects = SqlSubjectStore(db)
        assert await subjects.removals(item_id) == []
        assert await subjects.erasure_pending(item_id) is False
        await subjects.record_removed(item_id, ["quality"], reason="objection", at=T0)
        await subjects.record_removed(
            item_id, ["marketing"], reason="withdrawal", at=T0 - timedelta(days=1)
        )
        assert await subjects.removals(item_id) == [
            Removal(name="marketing", reason="withdrawal", removed_at=T0 - timedelta(days=1)),
            Removal(name="quality", reason="objection", removed_at=T0),
        ]
        await subjects.open_erasure("r1", subject_id="cust-1", requested_by="p", at=T0)
        await subjects.close_erasure("r1", outcome={}, deferred_item_ids=[item_id], at=T0)
        assert await subjects.erasure_pending(item_id) is True
        await subjects.finish_deferred("r1", item_id, at=T0)
        assert await subjects.erasure_pending(item_id) is False
