"""Row building shared by the catalog's writes: one place that turns records into rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from policies.holds import fold_address
from storage.models import Claim, ItemStatus, NewItem, PartyRow, PurposeRow, StoredContent
from storage.sql.schema import hold_items, item_attributes, item_parties, item_purposes, items


def content_values(stored: StoredContent | None) -> dict[str, Any]:
    """The item columns that describe its encrypted object (none for metadata only)."""
    if stored is None:
        return {}
    return {
        "object_key": stored.object_key,
        "object_version_id": stored.version_id,
        "ciphertext_size_bytes": stored.ciphertext_size_bytes,
        "segment_size_bytes": stored.segment_size_bytes,
        "key_id": stored.key_id,
        "wrapped_key": stored.wrapped_key,
        "content_size_bytes": stored.content.size_bytes,
        "content_sha256": stored.content.sha256,
        "content_type": stored.content.content_type,
    }


def party_rows(item_id: str, parties: Sequence[PartyRow]) -> list[dict[str, Any]]:
    """Rows of item_parties (with the folded address a hold compares)."""
    return [
        {
            "item_id": item_id,
            "address": p.address,
            "address_folded": None if p.address is None else fold_address(p.address),
            "subject_id": p.subject_id,
            "staff_id": p.staff_id,
        }
        for p in parties
    ]


def purpose_rows(item_id: str, purposes: Sequence[PurposeRow]) -> list[dict[str, Any]]:
    """Rows of item_purposes."""
    return [
        {
            "item_id": item_id,
            "name": p.name,
            "basis": p.basis,
            "expires_at": p.expires_at,
            "worm": p.worm,
        }
        for p in purposes
    ]


async def replace_purposes(
    conn: AsyncConnection, item_id: str, purposes: Sequence[PurposeRow]
) -> None:
    """Make the item's purposes exactly these."""
    await conn.execute(delete(item_purposes).where(item_purposes.c.item_id == item_id))
    if purposes:
        await conn.execute(insert(item_purposes), purpose_rows(item_id, purposes))


async def add_holds(conn: AsyncConnection, item_id: str, hold_ids: Iterable[str]) -> None:
    """Record that these holds cover the item (those already recorded are kept once)."""
    # A hold placed while the item was pending may have listed it already.
    have = set(
        (
            await conn.execute(select(hold_items.c.hold_id).where(hold_items.c.item_id == item_id))
        ).scalars()
    )
    rows = [{"hold_id": h, "item_id": item_id} for h in dict.fromkeys(hold_ids) if h not in have]
    if rows:
        await conn.execute(insert(hold_items), rows)


async def taken_keys(
    conn: AsyncConnection, keys: Sequence[str]
) -> dict[str, tuple[str, ItemStatus]]:
    """Which of these idempotency keys are taken, by which item in which state."""
    if not keys:
        return {}
    rows = await conn.execute(
        select(items.c.idem_key, items.c.item_id, items.c.status).where(
            items.c.idem_key.in_(list(set(keys)))
        )
    )
    return {r.idem_key: (r.item_id, ItemStatus(r.status)) for r in rows}


async def insert_new_items(
    conn: AsyncConnection,
    entries: Sequence[NewItem],
    keys: Sequence[str],
    taken: dict[str, tuple[str, ItemStatus]],
    *,
    status: ItemStatus = ItemStatus.STORED,
) -> list[Claim]:
    """Insert the entries whose key is not taken (marking it taken); a claim for each.

    Inserted as stored (metadata only: nothing to upload) or as pending claims.
    """
    claims: list[Claim] = []
    rows: list[dict[str, Any]] = []
    parties: list[dict[str, Any]] = []
    attributes: list[dict[str, Any]] = []
    purposes: list[dict[str, Any]] = []
    holds_rows: list[dict[str, Any]] = []
    for entry, key in zip(entries, keys, strict=True):
        if key in taken:
            item_id, holder = taken[key]
            claims.append(Claim(item_id=item_id, status=holder, created=False))
            continue
        item_id = str(uuid.uuid4())
        taken[key] = (item_id, status)
        claims.append(Claim(item_id=item_id, status=status, created=True))
        rows.append(
            {
                "item_id": item_id,
                "idem_key": key,
                "source": entry.source,
                "event_id": entry.event_id,
                "type": entry.item_type,
                "status": status.value,
                "occurred_at": entry.occurred_at,
                "ingested_at": entry.ingested_at,
                "policy_version": entry.policy_version,
                "event": dict(entry.event),
                "s3_legal_hold": False,
                "s3_synced": True,
                "submitted_by": entry.submitted_by,
                "event_sha256": entry.event_sha256,
            }
        )
        parties.extend(party_rows(item_id, entry.parties))
        attributes.extend(
            {"item_id": item_id, "key": k, "value": v} for k, v in entry.attributes.items()
        )
        purposes.extend(purpose_rows(item_id, entry.purposes))
        holds_rows.extend({"hold_id": h, "item_id": item_id} for h in entry.hold_ids)
    for table, values in (
        (items, rows),
        (item_parties, parties),
        (item_attributes, attributes),
        (item_purposes, purposes),
        (hold_items, holds_rows),
    ):
        if values:
            await conn.execute(insert(table), values)
    return claims
