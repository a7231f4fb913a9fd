"""ObjectLockSync puts on the object exactly the WORM date the policy engine decides."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from policies.retention import worm_retain_until
from service.facts import item_facts
from service.retention.locks import ObjectLockSync
from storage.models import ContentInfo, ItemRecord, ItemStatus, PurposeRow, StoredContent

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class RecordingStore:
    def __init__(self) -> None:
        self.retention: list[datetime] = []
        self.holds: list[bool] = []

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        self.retention.append(until)

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        self.holds.append(on)


class RecordingCatalog:
    def __init__(self) -> None:
        self.states: list[dict[str, Any]] = []

    async def set_s3_state(self, item_id: str, **state: Any) -> None:
        self.states.append(state)


def _record(purposes: list[tuple[int, bool]], retained_days: int | None) -> ItemRecord:
    return ItemRecord(
        item_id="item-1",
        source="pbx-1",
        event_id="e-1",
        type="call_recording",
        status=ItemStatus.STORED,
        occurred_at=NOW - timedelta(days=30),
        ingested_at=NOW - timedelta(days=30),
        policy_version="v1",
        event={"parties": []},
        stored=StoredContent(
            "items/it/item-1", "v1", 100, 64, "k1", "w", ContentInfo(80, "ab", "a/b")
        ),
        purposes=tuple(
            PurposeRow(f"p{n}", "legal_obligation", NOW + timedelta(days=days), worm)
            for n, (days, worm) in enumerate(purposes)
        ),
        s3_retain_until=None if retained_days is None else NOW + timedelta(days=retained_days),
    )


@given(
    purposes=st.lists(st.tuples(st.integers(-40, 400), st.booleans()), max_size=5),
    retained_days=st.none() | st.integers(-40, 400),
)
def test_the_retention_set_is_the_policy_engines_worm_date_and_never_shortened(
    purposes: list[tuple[int, bool]], retained_days: int | None
) -> None:
    record = _record(purposes, retained_days)
    store, catalog = RecordingStore(), RecordingCatalog()
    asyncio.run(ObjectLockSync(catalog, store).sync(record, NOW))  # type: ignore[arg-type]  # fakes of the two ports

    decided = worm_retain_until(item_facts(record), NOW)
    held = record.s3_retain_until
    if decided is not None and (held is None or decided > held):
        assert store.retention == [decided]
        assert catalog.states[-1]["retain_until"] == decided
    else:
        assert store.retention == []
        assert catalog.states[-1]["retain_until"] == held
