"""Items for the catalog contracts: claimed, committed, with parties and purposes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage.models import ContentInfo, NewItem, PartyRow, PurposeRow, StoredContent
from storage.sql.audit import GENESIS_HASH, entry_hash
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database, must_utc
from storage.sql.schema import audit, audit_head, hold_items, items

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def parties(
    *, subjects: Sequence[str] = (), staff: Sequence[str] = (), addresses: Sequence[str] = ()
) -> list[PartyRow]:
    """One party per address, subject and staff member, in that order."""
    rows = [PartyRow(a, None, None) for a in addresses]
    rows += [PartyRow(f"sub-{s}", s, None) for s in subjects]
    rows += [PartyRow(f"staff-{s}", None, s) for s in staff]
    return rows


def event_of(
    item_type: str, rows: Sequence[PartyRow], attributes: Mapping[str, str]
) -> dict[str, Any]:
    """The event as the catalog keeps it (what ingest stores: parties and attributes)."""
    return {
        "type": item_type,
        "parties": [
            {"address": p.address, "subject_id": p.subject_id, "staff_id": p.staff_id} for p in rows
        ],
        "attributes": dict(attributes),
    }


def purpose(name: str, days: int = 90, *, worm: bool = False) -> PurposeRow:
    """A purpose expiring `days` after T0."""
    return PurposeRow(name, "legitimate_interests", T0 + timedelta(days=days), worm)


def stored_content(tag: str = "a", *, key_id: str = "kek-1") -> StoredContent:
    """What the vault reports for an uploaded object."""
    return StoredContent(
        object_key=f"items/{tag}/object",
        version_id=f"v-{tag}",
        ciphertext_size_bytes=4242,
        segment_size_bytes=1024,
        key_id=key_id,
        wrapped_key=f"{key_id}:wrapped-{tag}",
        content=ContentInfo(4096, "ab" * 32, "audio/wav"),
    )


async def add_item(
    catalog: SqlCatalog,
    *,
    item_type: str = "call_recording",
    subjects: Sequence[str] = (),
    staff: Sequence[str] = (),
    addresses: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    occurred_at: datetime = T0,
    source: str = "test",
    event_id: str | None = None,
    commit: bool = True,
    stored: StoredContent | None = None,
    purposes: Sequence[PurposeRow] = (),
    hold_ids: Sequence[str] = (),
) -> str:
    """Claim an item and (unless `commit` is False) commit it stored; return its id."""
    attributes = dict(attributes or {})
    rows = parties(subjects=subjects, staff=staff, addresses=addresses)
    claim = await catalog.claim(
        source=source,
        event_id=event_id or uuid.uuid4().hex,
        item_type=item_type,
        occurred_at=occurred_at,
        ingested_at=occurred_at,
        policy_version="v1",
        event=event_of(item_type, rows, attributes),
        parties=rows,
        attributes=attributes,
    )
    assert claim.created
    if commit:
        await catalog.commit_stored(
            claim.item_id, stored=stored, purposes=purposes, hold_ids=hold_ids, s3_synced=True
        )
    return claim.item_id


def new_item(
    event_id: str,
    *,
    item_type: str = "email",
    subjects: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    purposes: Sequence[PurposeRow] = (),
    hold_ids: Sequence[str] = (),
    occurred_at: datetime = T0,
) -> NewItem:
    """A metadata-only item for insert_stored_many."""
    rows = parties(subjects=subjects)
    attributes = dict(attributes or {})
    return NewItem(
        source="mail",
        event_id=event_id,
        item_type=item_type,
        occurred_at=occurred_at,
        ingested_at=occurred_at,
        policy_version="v1",
        event=event_of(item_type, rows, attributes),
        parties=rows,
        attributes=attributes,
        purposes=purposes,
        hold_ids=hold_ids,
    )


async def covered(db: Database, hold_id: str) -> set[str]:
    """The items a hold's coverage rows name."""
    async with db.connect() as conn:
        rows = await conn.execute(
            select(hold_items.c.item_id).where(hold_items.c.hold_id == hold_id)
        )
        return {r.item_id for r in rows}


async def unsynced(db: Database) -> set[str]:
    """The items whose object lock state is still to be brought in line."""
    async with db.connect() as conn:
        rows = await conn.execute(select(items.c.item_id).where(items.c.s3_synced.is_(False)))
        return {r.item_id for r in rows}


async def mark_all_synced(db: Database) -> None:
    """As if ObjectLockSync had run for every item."""
    async with db.begin() as conn:
        await conn.execute(items.update().values(s3_synced=True))


async def rewrite_whole_chain(db: Database, *, actor: str) -> None:
    """What someone with write access does: edit entries, recompute every hash and the head."""
    async with db.begin() as conn:
        rows = (await conn.execute(select(audit).order_by(audit.c.seq))).all()
        prev = GENESIS_HASH
        for row in rows:
            digest = entry_hash(
                seq=row.seq,
                at=must_utc(row.at),
                actor=actor,
                action=row.action,
                item_id=row.item_id,
                details=dict(row.details),
                prev_hash=prev,
            )
            await conn.execute(
                update(audit)
                .where(audit.c.seq == row.seq)
                .values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest
        await conn.execute(update(audit_head).values(hash=prev))
