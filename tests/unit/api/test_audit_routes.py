"""GET /v1/audit and /v1/audit/verify on a real catalog."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update

from storage.sql.schema import audit
from tests.unit.api.conftest import NOW, Harness


async def _seed(harness: Harness) -> None:
    for n in range(5):
        await harness.storage.audit.append(
            actor="alice" if n % 2 == 0 else "bob",
            action="content.read" if n < 3 else "hold.placed",
            at=NOW + timedelta(minutes=n),
            item_id=f"item-{n % 2}",
            details={"n": n},
        )


async def test_entries_are_filtered_and_paged_in_chain_order(harness: Harness) -> None:
    await _seed(harness)
    async with harness.client("auditor") as http:

        async def seqs(**params: str) -> list[int]:
            response = await http.get("/v1/audit", params=params)
            assert response.status_code == 200, response.text
            return [e["seq"] for e in response.json()["entries"]]

        assert await seqs() == [1, 2, 3, 4, 5]
        assert await seqs(actor="bob") == [2, 4]
        assert await seqs(action="hold.placed") == [4, 5]
        assert await seqs(item_id="item-0") == [1, 3, 5]
        assert await seqs(since=(NOW + timedelta(minutes=3)).isoformat()) == [4, 5]
        page = (await http.get("/v1/audit", params={"limit": 2})).json()
        assert [e["seq"] for e in page["entries"]] == [1, 2]
        assert page["next_after"] == 2
        rest = (await http.get("/v1/audit", params={"after": 2, "limit": 10})).json()
        assert [e["seq"] for e in rest["entries"]] == [3, 4, 5]
        assert rest["next_after"] is None
        entry = page["entries"][1]
        assert set(entry) == {
            "seq",
            "at",
            "actor",
            "action",
            "item_id",
            "details",
            "prev_hash",
            "hash",
        }
        assert entry["prev_hash"] == page["entries"][0]["hash"]
        naive = await http.get("/v1/audit", params={"since": "2026-01-01T00:00:00"})
        assert (naive.status_code, naive.json()["field"]) == (422, "since")


async def test_verify_reports_the_first_edited_entry(harness: Harness) -> None:
    await _seed(harness)
    async with harness.client("auditor") as http:
        ok = (await http.get("/v1/audit/verify")).json()
        assert ok["ok"] is True
        assert ok["entries"] == 5
        assert ok["first_broken_seq"] is None
        last = (await http.get("/v1/audit", params={"after": 4})).json()["entries"][0]
        assert ok["head"] == last["hash"]
        async with harness.storage.db.begin() as conn:
            await conn.execute(update(audit).where(audit.c.seq == 3).values(actor="mallory"))
        broken = (await http.get("/v1/audit/verify")).json()
    assert broken["ok"] is False
    assert broken["first_broken_seq"] == 3
    assert broken["entries"] == 2


async def test_verify_reports_a_deleted_entry(harness: Harness) -> None:
    await _seed(harness)
    async with harness.storage.db.begin() as conn:
        await conn.execute(delete(audit).where(audit.c.seq == 2))
    async with harness.client("auditor") as http:
        verdict = (await http.get("/v1/audit/verify")).json()
    assert (verdict["ok"], verdict["first_broken_seq"]) == (False, 2)


async def test_an_empty_chain_verifies(harness: Harness) -> None:
    async with harness.client("auditor") as http:
        verdict = (await http.get("/v1/audit/verify")).json()
    assert verdict == {
        "ok": True,
        "entries": 0,
        "head": "0" * 64,
        "first_broken_seq": None,
        "checkpoints": 0,
        "checkpoint_broken_seq": None,
    }
