"""SqlDisclosureRegister: the register of disclosures to third parties, in the catalog.

Each entry keeps, beside who received what and why, one ``disclosure_items`` row per item and
subject the item was linked to when it was disclosed. The register therefore still names the
recipients of a subject's data after the items are erased, and a rectification that links an
item to another subject adds that subject to the earlier disclosures of the item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import DisclosureRecord, ItemStatus
from storage.sql.database import Database, must_utc
from storage.sql.schema import disclosure_items, disclosures, hold_items, item_parties, items

_CHUNK = 500


class SqlDisclosureRegister:
    """Enters disclosures with their items and subjects, and lists them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, entry: DisclosureRecord, *, item_ids: Sequence[str] = ()
    ) -> DisclosureRecord:
        """Enter a disclosure of these items (or, with ``entry.hold_id``, of the hold's items).

        The items and their subjects are read in the same transaction as the entry is
        written, so the register holds exactly what the catalog linked at that moment.
        """
        async with self._db.begin() as conn:
            await conn.execute(
                insert(disclosures).values(
                    disclosure_id=entry.disclosure_id,
                    recipient=entry.recipient,
                    legal_basis=entry.legal_basis,
                    reference=entry.reference,
                    hold_id=entry.hold_id,
                    disclosed_at=entry.disclosed_at,
                    recorded_by=entry.recorded_by,
                    recorded_at=entry.recorded_at,
                )
            )
            if entry.hold_id is not None:
                wanted = [
                    row.item_id
                    for row in await conn.execute(
                        select(hold_items.c.item_id)
                        .join(items, items.c.item_id == hold_items.c.item_id)
                        .where(
                            hold_items.c.hold_id == entry.hold_id,
                            items.c.status == ItemStatus.STORED.value,
                        )
                        .order_by(hold_items.c.item_id)
                    )
                ]
            else:
                wanted = sorted(set(item_ids))
            for start in range(0, len(wanted), _CHUNK):
                await self._insert_items(conn, entry.disclosure_id, wanted[start : start + _CHUNK])
        return DisclosureRecord(**{**_fields(entry), "item_ids": tuple(wanted)})

    async def _insert_items(
        self, conn: AsyncConnection, disclosure_id: str, chunk: Sequence[str]
    ) -> None:
        linked: dict[str, set[str]] = {item_id: set() for item_id in chunk}
        for row in await conn.execute(
            select(item_parties.c.item_id, item_parties.c.subject_id).where(
                item_parties.c.item_id.in_(chunk), item_parties.c.subject_id.is_not(None)
            )
        ):
            linked[row.item_id].add(row.subject_id)
        none: list[str | None] = [None]
        rows = [
            {"disclosure_id": disclosure_id, "item_id": item_id, "subject_id": subject}
            for item_id in chunk
            for subject in (sorted(linked[item_id]) or none)
        ]
        if rows:
            await conn.execute(insert(disclosure_items), rows)

    async def list(
        self,
        *,
        subject_id: str | None = None,
        since: datetime | None = None,
        item_ids: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> list[DisclosureRecord]:
        """Entries disclosed at or after since, newest first.

        With subject_id, only entries that held that subject's items, each listing only
        those items; with item_ids, only entries that held one of them, listing those.
        """
        stmt = select(disclosures)
        wanted = None if item_ids is None else sorted(set(item_ids))
        scope = disclosure_items.c.disclosure_id == disclosures.c.disclosure_id
        if subject_id is not None:
            scope = scope & (disclosure_items.c.subject_id == subject_id)
        if wanted is not None:
            scope = scope & disclosure_items.c.item_id.in_(wanted)
        if subject_id is not None or wanted is not None:
            stmt = stmt.where(select(literal(1)).where(scope).exists())
        if since is not None:
            stmt = stmt.where(disclosures.c.disclosed_at >= since)
        stmt = stmt.order_by(disclosures.c.disclosed_at.desc(), disclosures.c.disclosure_id)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt.limit(limit))).all()
            found: dict[str, set[str]] = {row.disclosure_id: set() for row in rows}
            ids = sorted(found)
            for start in range(0, len(ids), _CHUNK):
                query = select(disclosure_items.c.disclosure_id, disclosure_items.c.item_id).where(
                    disclosure_items.c.disclosure_id.in_(ids[start : start + _CHUNK])
                )
                if subject_id is not None:
                    query = query.where(disclosure_items.c.subject_id == subject_id)
                if wanted is not None:
                    query = query.where(disclosure_items.c.item_id.in_(wanted))
                for item in await conn.execute(query):
                    found[item.disclosure_id].add(item.item_id)
        return [_record(row, tuple(sorted(found[row.disclosure_id]))) for row in rows]

    async def link_subject(self, item_ids: Iterable[str], subject_id: str) -> int:
        """Record that earlier disclosures of these items also concerned subject_id."""
        wanted = sorted(set(item_ids))
        if not wanted:
            return 0
        async with self._db.begin() as conn:
            pairs: set[tuple[str, str]] = set()
            present: set[tuple[str, str]] = set()
            for row in await conn.execute(
                select(
                    disclosure_items.c.disclosure_id,
                    disclosure_items.c.item_id,
                    disclosure_items.c.subject_id,
                ).where(disclosure_items.c.item_id.in_(wanted))
            ):
                pairs.add((row.disclosure_id, row.item_id))
                if row.subject_id == subject_id:
                    present.add((row.disclosure_id, row.item_id))
            rows = [
                {"disclosure_id": d, "item_id": i, "subject_id": subject_id}
                for (d, i) in sorted(pairs)
                if (d, i) not in present
            ]
            if rows:
                await conn.execute(insert(disclosure_items), rows)
        return len(rows)


def _fields(entry: DisclosureRecord) -> dict[str, Any]:
    return {
        "disclosure_id": entry.disclosure_id,
        "recipient": entry.recipient,
        "legal_basis": entry.legal_basis,
        "reference": entry.reference,
        "hold_id": entry.hold_id,
        "disclosed_at": entry.disclosed_at,
        "recorded_by": entry.recorded_by,
        "recorded_at": entry.recorded_at,
    }


def _record(row: Any, item_ids: tuple[str, ...]) -> DisclosureRecord:
    return DisclosureRecord(
        disclosure_id=row.disclosure_id,
        recipient=row.recipient,
        legal_basis=row.legal_basis,
        reference=row.reference,
        hold_id=row.hold_id,
        disclosed_at=must_utc(row.disclosed_at),
        recorded_by=row.recorded_by,
        recorded_at=must_utc(row.recorded_at),
        item_ids=item_ids,
    )
