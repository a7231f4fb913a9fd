"""Lifting a restriction with an effective_at: announced first, in force until then."""

from __future__ import annotations

from datetime import timedelta

from storage.sql.notices import SqlNotices
from tests.unit.api.conftest import NOW, Harness


async def test_a_lifting_later_keeps_the_restriction_until_then(harness: Harness) -> None:
    item = await harness.add_item(subject_id="cust-l")
    outbox = SqlNotices(harness.storage.db)
    later = NOW + timedelta(hours=1)
    async with harness.client("privacy") as privacy, harness.client("qa") as qa:

        async def qa_status() -> int:
            return (await qa.get(f"/v1/items/{item}", params={"purpose": "quality"})).status_code

        assert (
            await privacy.post("/v1/subjects/cust-l/restriction", json={"restricted": True})
        ).status_code == 200
        lifting = await privacy.post(
            "/v1/subjects/cust-l/restriction",
            json={"restricted": False, "effective_at": later.isoformat()},
        )
        assert lifting.status_code == 200, lifting.text
        assert lifting.json()["restricted"] is True
        assert lifting.json()["lifting_at"] == later.isoformat()
        assert await qa_status() == 404
        waiting = await outbox.unpublished()
        assert [(n.action, n.body["effective_at"]) for n in waiting] == [
            ("restriction_lifting", later.isoformat())
        ]
        rights = harness.app.state.services.rights
        assert await rights.run_due_liftings(later) == 0  # the notice is not out yet
        await outbox.mark_published([n.notice_id for n in waiting])
        assert await rights.run_due_liftings(later - timedelta(seconds=1)) == 0
        assert await qa_status() == 404
        assert await rights.run_due_liftings(later) == 1
        assert await qa_status() == 200


async def test_a_lifting_without_a_time_is_announced_and_immediate(harness: Harness) -> None:
    item = await harness.add_item(subject_id="cust-m")
    await harness.restrict("cust-m")
    async with harness.client("privacy") as privacy, harness.client("qa") as qa:
        lifted = await privacy.post("/v1/subjects/cust-m/restriction", json={"restricted": False})
        assert lifted.json()["restricted"] is False
        assert lifted.json()["lifting_at"] is None
        shown = await qa.get(f"/v1/items/{item}", params={"purpose": "quality"})
        assert shown.status_code == 200
        refused = await privacy.post(
            "/v1/subjects/cust-m/restriction",
            json={"restricted": True, "effective_at": NOW.isoformat()},
        )
    assert refused.status_code == 422
    assert "effective_at" in refused.text
    notices = await SqlNotices(harness.storage.db).unpublished()
    assert [n.body["effective_at"] for n in notices] == [NOW.isoformat()]


async def test_a_new_restriction_cancels_a_lifting_to_come(harness: Harness) -> None:
    await harness.add_item(subject_id="cust-n")
    outbox = SqlNotices(harness.storage.db)
    later = NOW + timedelta(hours=1)
    async with harness.client("privacy") as privacy:
        await privacy.post("/v1/subjects/cust-n/restriction", json={"restricted": True})
        await privacy.post(
            "/v1/subjects/cust-n/restriction",
            json={"restricted": False, "effective_at": later.isoformat()},
        )
        assert await outbox.pending_lifting("cust-n") == later
        await privacy.post("/v1/subjects/cust-n/restriction", json={"restricted": True})
    assert await outbox.pending_lifting("cust-n") is None
