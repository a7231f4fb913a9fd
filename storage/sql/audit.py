"""SqlAuditLog: the tamper-evident audit trail, a hash chain in the catalog.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering any entry breaks every later link. Sequence numbers are assigned by the writer as
last+1 while it holds the head row, so appenders take turns; an entry is appended inside the
transaction of the change it records (`transaction()`), so neither commits without the other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.errors import CatalogConflictError
from storage.models import AuditDraft, AuditEntry, ChainVerdict
from storage.sql.database import Database
from storage.sql.schema import audit, audit_head

GENESIS_HASH = "0" * 64
_MAX_RACES = 50


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    item_id: str | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 of an entry's canonical JSON form."""
    body = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "item_id": item_id,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode("ascii")).hexdigest()


class SqlAuditLog:
    """Appends to, reads and verifies the audit chain."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """A unit of work: the catalog changes and audit entries inside commit together."""
        return self._db.transaction()

    async def append(
        self,
        *,
        actor: str,
        action: str,
        at: datetime,
        item_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry at the head of the chain.

        Inside `transaction()` the entry commits (or rolls back) with the change it records.
        """
        (entry,) = await self.append_many(
            [AuditDraft(actor=actor, action=action, at=at, item_id=item_id, details=details)]
        )
        return entry

    async def append_many(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append entries in order, one after the other, with one head update for them all.

        Inside `transaction()` they commit (or roll back) with the changes they record.
        """
        if not drafts:
            return []
        clean = [
            AuditDraft(
                actor=d.actor,
                action=d.action,
                # Hashed in UTC, as the catalog hands it back, so verification is exact.
                at=d.at.astimezone(UTC),
                item_id=d.item_id,
                details=json.loads(json.dumps(dict(d.details or {}), default=str)),
            )
            for d in drafts
        ]
        for _ in range(_MAX_RACES):
            try:
                async with self._db.begin() as conn:
                    return await _append_in(conn, clean)
            except CatalogConflictError:
                continue  # only the very first entry of a catalog can race (no head row)
        raise RuntimeError("audit append lost too many races; the catalog is overloaded")

    async def query(
        self,
        *,
        item_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first."""
        stmt = select(audit).where(audit.c.seq > after_seq)
        if item_id:
            stmt = stmt.where(audit.c.item_id == item_id)
        if actor:
            stmt = stmt.where(audit.c.actor == actor)
        if action:
            stmt = stmt.where(audit.c.action == action)
        if since:
            stmt = stmt.where(audit.c.at >= since)
        stmt = stmt.order_by(audit.c.seq).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_entry(r) for r in rows]

    async def verify(self, *, batch: int = 1000) -> ChainVerdict:
        """Recompute every link; report the first broken one."""
        prev, expected_seq, count = GENESIS_HASH, 1, 0
        after = 0
        while True:
            async with self._db.connect() as conn:
                rows = (
                    await conn.execute(
                        select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(batch)
                    )
                ).all()
            if not rows:
                return await self._check_head(count, prev, expected_seq)
            for row in rows:
                entry = _entry(row)
                digest = entry_hash(
                    seq=entry.seq,
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    item_id=entry.item_id,
                    details=entry.details,
                    prev_hash=entry.prev_hash,
                )
                if entry.seq != expected_seq or entry.prev_hash != prev or digest != entry.hash:
                    return ChainVerdict(
                        ok=False, entries=count, head=prev, first_broken_seq=expected_seq
                    )
                prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
                after = entry.seq

    async def _check_head(self, count: int, prev: str, next_seq: int) -> ChainVerdict:
        async with self._db.connect() as conn:
            head = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
        expected_seq, expected_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        if expected_seq != next_seq - 1 or expected_hash != prev:
            # The newest entries were removed (or the head was forged).
            return ChainVerdict(ok=False, entries=count, head=prev, first_broken_seq=next_seq)
        return ChainVerdict(ok=True, entries=count, head=prev)

    async def unpublished(self, limit: int = 500) -> list[AuditEntry]:
        """Entries not yet sent to the audit topic, oldest first (the outbox)."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(audit)
                    .where(audit.c.published.is_(False))
                    .order_by(audit.c.seq)
                    .limit(limit)
                )
            ).all()
        return [_entry(r) for r in rows]

    async def mark_published(self, seqs: Sequence[int]) -> None:
        """Record that entries reached the audit topic."""
        if not seqs:
            return
        async with self._db.begin() as conn:
            await conn.execute(update(audit).where(audit.c.seq.in_(seqs)).values(published=True))


async def _append_in(conn: AsyncConnection, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
    """Append inside the caller's transaction, holding the head row until it commits.

    Writing the head row first locks it (a row lock on PostgreSQL, the write lock on
    SQLite), so appenders take turns and seq last+1 is never taken twice.
    """
    await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq))
    last = (
        await conn.execute(select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1))
    ).first()
    first = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS_HASH
    entries: list[AuditEntry] = []
    for seq, draft in enumerate(drafts, start=first):
        details = dict(draft.details or {})
        digest = entry_hash(
            seq=seq,
            at=draft.at,
            actor=draft.actor,
            action=draft.action,
            item_id=draft.item_id,
            details=details,
            prev_hash=prev,
        )
        entry = AuditEntry(
            seq, draft.at, draft.actor, draft.action, draft.item_id, details, prev, digest
        )
        entries.append(entry)
        prev = digest
    await conn.execute(
        insert(audit),
        [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "item_id": e.item_id,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
                "published": False,
            }
            for e in entries
        ],
    )
    head = entries[-1]
    moved = await conn.execute(
        update(audit_head)
        .where(audit_head.c.id == 1, audit_head.c.seq == first - 1)
        .values(seq=head.seq, hash=head.hash)
    )
    if moved.rowcount == 0:
        # First entry ever (no head yet): two first appenders both insert id 1, one fails.
        await conn.execute(insert(audit_head).values(id=1, seq=head.seq, hash=head.hash))
    return entries


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        item_id=row.item_id,
        details=dict(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
