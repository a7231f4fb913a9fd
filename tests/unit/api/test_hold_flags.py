"""A hold answers once the catalog covers its items; the S3 flags follow, progress shown."""

from __future__ import annotations

from prometheus_client import generate_latest

from tests.unit.api.conftest import Harness


async def _flagged(harness: Harness, item_id: str) -> bool:
    record = await harness.storage.catalog.get(item_id)
    assert record is not None
    assert record.stored is not None
    on, _ = harness.storage.store.lock_state(record.stored.object_key, record.stored.version_id)
    return on


async def test_the_flags_follow_the_count_with_progress_in_the_hold_and_metrics(
    harness: Harness,
) -> None:
    held = [await harness.add_content(b"keep me %d" % n) for n in range(3)]
    async with harness.client("legal") as http:
        placed = await http.post(
            "/v1/holds", json={"matter": "m-flags", "criteria": {"subject_ids": ["cust-1"]}}
        )
        assert placed.status_code == 201, placed.text
        body = placed.json()
        assert body["matched"] == 3
        assert body["flags_pending"] == 3  # counted when the catalog committed
        await harness.root.holds.settle()
        shown = (await http.get(f"/v1/holds/{body['hold_id']}")).json()
    assert shown["flags_pending"] == 0
    assert [await _flagged(harness, i) for i in held] == [True, True, True]
    text = generate_latest(harness.registry).decode()
    assert "keepline_hold_flags_synced_total 3.0" in text
    assert "keepline_hold_flag_tasks 0.0" in text

    async with harness.client("legal") as http:
        released = await http.post(f"/v1/holds/{body['hold_id']}/release")
        assert released.status_code == 200, released.text
        await harness.root.holds.settle()
        after = (await http.get(f"/v1/holds/{body['hold_id']}")).json()
    assert after["flags_pending"] == 0
    assert [await _flagged(harness, i) for i in held] == [False, False, False]
    assert "keepline_hold_flags_synced_total 6.0" in generate_latest(harness.registry).decode()
