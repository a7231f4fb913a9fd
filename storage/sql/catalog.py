"""SqlCatalog: the item index in SQLite or PostgreSQL."""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.errors import CatalogConflictError, ItemHeldError
from storage.models import (
    Claim,
    ClaimCommit,
    ContentInfo,
    Destruction,
    ItemPage,
    ItemQuery,
    ItemRecord,
    ItemStatus,
    NewItem,
    PartyRow,
    PurposeRow,
    S3State,
    StoredContent,
)
from storage.sql.catalog_rows import (
    add_holds,
    content_values,
    insert_new_items,
    party_rows,
    purpose_rows,
    replace_purposes,
    taken_keys,
)
from storage.sql.catalog_scans import CatalogScans
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import (
    TS,
    consents,
    hold_items,
    holds,
    item_attributes,
    item_parties,
    item_purposes,
    items,
    subjects,
    tombstones,
)

#: Ids per IN list when reading many items (well under every backend's parameter limit).
_IN_BATCH = 500


def idempotency_key(source: str, event_id: str) -> str:
    """The digest that makes (source, event_id) unique without keeping the ids forever."""
    return hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()


def _restricted_clause() -> Any:
    return exists().where(
        item_parties.c.item_id == items.c.item_id,
        item_parties.c.subject_id == subjects.c.subject_id,
        subjects.c.restricted.is_(True),
    )


class SqlCatalog(CatalogScans):
    """Items, their parties, attributes, purposes and hold coverage."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._statistics_at: float | None = None

    @property
    def db(self) -> Database:
        """The shared database."""
        return self._db

    async def claim(
        self,
        *,
        source: str,
        event_id: str,
        item_type: str,
        occurred_at: datetime,
        ingested_at: datetime,
        policy_version: str,
        event: Mapping[str, Any],
        parties: Sequence[PartyRow],
        attributes: Mapping[str, str],
        submitted_by: str | None = None,
        event_sha256: str | None = None,
    ) -> Claim:
        """Claim (source, event_id) for a new item, or return the item that already has it.

        event_sha256 is the event's fingerprint, kept so that a later event reusing the key
        with other content can be told from a redelivery (`event_fingerprint`).
        """
        item_id = str(uuid.uuid4())
        idem = idempotency_key(source, event_id)
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    insert(items).values(
                        item_id=item_id,
                        idem_key=idem,
                        source=source,
                        event_id=event_id,
                        type=item_type,
                        status=ItemStatus.PENDING.value,
                        occurred_at=occurred_at,
                        ingested_at=ingested_at,
                        policy_version=policy_version,
                        event=dict(event),
                        s3_legal_hold=False,
                        s3_synced=True,
                        # Named only when known, so rows of older callers look as they did.
                        **({"submitted_by": submitted_by} if submitted_by else {}),
                        **({"event_sha256": event_sha256} if event_sha256 else {}),
                    )
                )
                if parties:
                    await conn.execute(insert(item_parties), party_rows(item_id, parties))
                if attributes:
                    await conn.execute(
                        insert(item_attributes),
                        [{"item_id": item_id, "key": k, "value": v} for k, v in attributes.items()],
                    )
        except CatalogConflictError:
            async with self._db.begin() as conn:
                row = (
                    await conn.execute(
                        select(items.c.item_id, items.c.status).where(items.c.idem_key == idem)
                    )
                ).one()
                if row.status == ItemStatus.PENDING.value:
                    # This attempt is on it: a claim no attempt touches for long is stale.
                    await conn.execute(
                        update(items)
                        .where(items.c.item_id == row.item_id)
                        .where(items.c.status == ItemStatus.PENDING.value)
                        .values(ingested_at=ingested_at)
                    )
            return Claim(item_id=row.item_id, status=ItemStatus(row.status), created=False)
        return Claim(item_id=item_id, status=ItemStatus.PENDING, created=True)

    async def claim_many(self, entries: Sequence[NewItem]) -> builtins.list[Claim]:
        """Claim many events' keys in one transaction, as `claim` does each one.

        The entries' purposes and holds are not written (the commit writes them). A key
        already taken gives the item that has it, ``created`` False; a pending one has its
        ``ingested_at`` refreshed, as this attempt is on it.
        """
        if not entries:
            return []
        keys = [idempotency_key(e.source, e.event_id) for e in entries]
        bare = [replace(e, purposes=(), hold_ids=()) for e in entries]
        try:
            async with self._db.begin() as conn:
                taken = await taken_keys(conn, keys)
                claims = await insert_new_items(
                    conn, bare, keys, dict(taken), status=ItemStatus.PENDING
                )
                refreshed = [
                    (c.item_id, e.ingested_at)
                    for c, e in zip(claims, entries, strict=True)
                    if not c.created and c.status is ItemStatus.PENDING
                ]
                for item_id, ingested_at in refreshed:
                    await conn.execute(
                        update(items)
                        .where(items.c.item_id == item_id)
                        .where(items.c.status == ItemStatus.PENDING.value)
                        .values(ingested_at=ingested_at)
                    )
                return claims
        except CatalogConflictError:
            # Another writer took a key between our read and our insert: go one by one.
            return [await self._claim_entry(entry) for entry in entries]

    async def _claim_entry(self, entry: NewItem) -> Claim:
        return await self.claim(
            source=entry.source,
            event_id=entry.event_id,
            item_type=entry.item_type,
            occurred_at=entry.occurred_at,
            ingested_at=entry.ingested_at,
            policy_version=entry.policy_version,
            event=entry.event,
            parties=entry.parties,
            attributes=entry.attributes,
            submitted_by=entry.submitted_by,
            event_sha256=entry.event_sha256,
        )

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> builtins.list[bool]:
        """As `commit_claimed` for each, in one transaction: whether each claim was won.

        Set-based: the claims still pending are locked and read at once (PostgreSQL row
        locks in id order; SQLite takes its write lock first), then every won item is
        updated in one statement per shape, its purposes replaced and its holds added in
        one statement each, so a batch costs a handful of round trips whatever its size.
        """
        if not commits:
            return []
        async with self._db.transaction() as conn:
            pending: set[str] = set()
            for chunk in _chunks(sorted({c.item_id for c in commits})):
                rows = await conn.execute(
                    select(items.c.item_id)
                    .where(items.c.item_id.in_(chunk), items.c.status == ItemStatus.PENDING.value)
                    .order_by(items.c.item_id)
                    .with_for_update()
                )
                pending.update(rows.scalars())
            outcome: builtins.list[bool] = []
            for commit in commits:
                outcome.append(commit.item_id in pending)
                pending.discard(commit.item_id)  # the same claim twice: the first wins
            won = [c for c, w in zip(commits, outcome, strict=True) if w]
            if won:
                await _commit_rows(conn, won)
            return outcome

    async def commit_stored(
        self,
        item_id: str,
        *,
        stored: StoredContent | None,
        purposes: Sequence[PurposeRow],
        hold_ids: Iterable[str],
        s3_synced: bool,
    ) -> None:
        """Mark a claimed item stored, with its content, purposes and covering holds."""
        async with self._db.begin() as conn:
            await self._commit(
                conn,
                item_id,
                stored=stored,
                purposes=purposes,
                hold_ids=hold_ids,
                s3_synced=s3_synced,
                only=None,
            )

    async def commit_claimed(
        self,
        item_id: str,
        *,
        stored: StoredContent | None,
        purposes: Sequence[PurposeRow],
        hold_ids: Iterable[str],
        s3_synced: bool,
        s3_retain_until: datetime | None = None,
    ) -> bool:
        """As commit_stored, but only while the claim is still pending: False if it was not.

        Two attempts at one event (a worker that lost its partition and the one that got it)
        can both upload; the first to commit wins and the other must discard its upload.
        ``s3_retain_until`` records a retention the object was uploaded with.
        """
        commit = ClaimCommit(
            item_id=item_id,
            stored=stored,
            purposes=purposes,
            hold_ids=builtins.list(hold_ids),
            s3_synced=s3_synced,
            s3_retain_until=s3_retain_until,
        )
        (won,) = await self.commit_claimed_many([commit])
        return won

    async def _commit(
        self,
        conn: AsyncConnection,
        item_id: str,
        *,
        stored: StoredContent | None,
        purposes: Sequence[PurposeRow],
        hold_ids: Iterable[str],
        s3_synced: bool,
        only: ItemStatus | None,
        s3_retain_until: datetime | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": ItemStatus.STORED.value, "s3_synced": s3_synced}
        values.update(content_values(stored))
        if s3_retain_until is not None:
            values["s3_retain_until"] = must_utc(s3_retain_until)
        stmt = update(items).where(items.c.item_id == item_id).values(**values)
        if only is not None:
            stmt = stmt.where(items.c.status == only.value)
        if (await conn.execute(stmt)).rowcount != 1:
            return False
        await replace_purposes(conn, item_id, purposes)
        await add_holds(conn, item_id, hold_ids)
        return True

    async def insert_stored_many(self, entries: Sequence[NewItem]) -> builtins.list[Claim]:
        """Insert items that need no upload (metadata only) as stored, in one transaction.

        Batching many small events into one write is what lets a worker keep up with a
        topic of metadata-only e-mails. An entry whose (source, event_id) is already taken,
        by an earlier event or by an earlier entry of the same batch, is not inserted: its
        claim names the item that has the key, with ``created`` False.
        """
        keys = [idempotency_key(e.source, e.event_id) for e in entries]
        try:
            async with self._db.begin() as conn:
                return await insert_new_items(conn, entries, keys, await taken_keys(conn, keys))
        except CatalogConflictError:
            # Another writer took a key between our read and our insert: go one by one.
            claims = []
            for entry, key in zip(entries, keys, strict=True):
                claims.append(await self._insert_one(entry, key))
            return claims

    async def _insert_one(self, entry: NewItem, key: str) -> Claim:
        try:
            async with self._db.begin() as conn:
                return (
                    await insert_new_items(conn, [entry], [key], await taken_keys(conn, [key]))
                )[0]
        except CatalogConflictError:
            async with self._db.connect() as conn:
                item_id, status = (await taken_keys(conn, [key]))[key]
            return Claim(item_id=item_id, status=status, created=False)

    async def event_fingerprint(self, item_id: str) -> str | None:
        """The fingerprint of the event the item was claimed with; None if unknown or gone."""
        async with self._db.connect() as conn:
            found = await conn.execute(
                select(items.c.event_sha256).where(items.c.item_id == item_id)
            )
            fingerprint: str | None = found.scalar_one_or_none()
        return fingerprint

    async def abandon(self, item_id: str) -> None:
        """Drop a claim whose event turned out to be bad input, so a corrected one can reuse it."""
        async with self._db.begin() as conn:
            await conn.execute(
                delete(items).where(
                    items.c.item_id == item_id, items.c.status == ItemStatus.PENDING.value
                )
            )

    async def cover(self, item_id: str, hold_ids: Iterable[str], *, has_object: bool) -> None:
        """Record that these holds cover a stored item (a hold placed while it was pending).

        An item with an object is marked unsynced, so its S3 legal-hold flag follows.
        """
        async with self._db.begin() as conn:
            await add_holds(conn, item_id, hold_ids)
            if has_object:
                await conn.execute(
                    update(items).where(items.c.item_id == item_id).values(s3_synced=False)
                )

    async def get(self, item_id: str, *, include_pending: bool = False) -> ItemRecord | None:
        """One item, or None."""
        query = select(items).where(items.c.item_id == item_id)
        if not include_pending:
            query = query.where(items.c.status == ItemStatus.STORED.value)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            return (await self._hydrate(conn, [row]))[0]

    async def get_many(self, item_ids: Sequence[str]) -> builtins.list[ItemRecord]:
        """The stored items among these ids, in the order given (unknown ids left out)."""
        found: dict[str, ItemRecord] = {}
        async with self._db.connect() as conn:
            for chunk in _chunks(item_ids):
                rows = (
                    await conn.execute(
                        select(items).where(
                            items.c.item_id.in_(chunk), items.c.status == ItemStatus.STORED.value
                        )
                    )
                ).all()
                found.update((r.item_id, r) for r in await self._hydrate(conn, rows))
        return [found[i] for i in item_ids if i in found]

    async def list(self, query: ItemQuery) -> ItemPage:
        """Stored items matching every given filter, newest first."""
        stmt = select(items).where(items.c.status == ItemStatus.STORED.value)
        if query.type:
            stmt = stmt.where(items.c.type == query.type)
        if query.since:
            stmt = stmt.where(items.c.occurred_at >= query.since)
        if query.until:
            stmt = stmt.where(items.c.occurred_at < query.until)
        # A subject's or a staff member's items are few among all: found through the party
        # index first, then sorted, rather than by walking every item newest first.
        if query.subject_id:
            stmt = stmt.where(
                items.c.item_id.in_(
                    select(item_parties.c.item_id).where(
                        item_parties.c.subject_id == query.subject_id
                    )
                )
            )
        if query.staff_id:
            stmt = stmt.where(
                items.c.item_id.in_(
                    select(item_parties.c.item_id).where(item_parties.c.staff_id == query.staff_id)
                )
            )
        for key, value in query.attributes.items():
            stmt = stmt.where(
                exists().where(
                    item_attributes.c.item_id == items.c.item_id,
                    item_attributes.c.key == key,
                    item_attributes.c.value == value,
                )
            )
        if query.purpose:
            clause = [item_purposes.c.item_id == items.c.item_id]
            clause.append(item_purposes.c.name == query.purpose)
            if query.unexpired_at is not None:
                clause.append(item_purposes.c.expires_at > query.unexpired_at)
            stmt = stmt.where(exists().where(*clause))
        if query.exclude_restricted:
            stmt = stmt.where(~_restricted_clause())
        if query.cursor:
            at, last_id = query.cursor
            stmt = stmt.where(
                or_(
                    items.c.occurred_at < at,
                    and_(items.c.occurred_at == at, items.c.item_id < last_id),
                )
            )
        stmt = stmt.order_by(items.c.occurred_at.desc(), items.c.item_id.desc()).limit(
            query.limit + 1
        )
        async with self._db.connect() as conn:
            rows = list((await conn.execute(stmt)).all())
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            records = await self._hydrate(conn, rows)
        next_cursor = (records[-1].occurred_at, records[-1].item_id) if more and records else None
        return ItemPage(items=tuple(records), next_cursor=next_cursor)

    async def standing_consents(self, subject_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each subject, the purposes it has a standing grant for."""
        ids = list(subject_ids)
        if not ids:
            return {}
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(consents.c.subject_id, consents.c.purpose).where(
                        consents.c.subject_id.in_(ids), consents.c.granted.is_(True)
                    )
                )
            ).all()
        found: dict[str, set[str]] = {s: set() for s in ids}
        for row in rows:
            found[row.subject_id].add(row.purpose)
        return {s: frozenset(p) for s, p in found.items()}

    async def active_hold_criteria(self) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(hold_id, matter, criteria) of every unreleased hold."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(holds.c.hold_id, holds.c.matter, holds.c.criteria)
                    .where(holds.c.released_at.is_(None))
                    .order_by(holds.c.hold_id)
                )
            ).all()
        return [(r.hold_id, r.matter, dict(r.criteria)) for r in rows]

    async def set_purposes(
        self, item_id: str, purposes: Sequence[PurposeRow], *, policy_version: str | None = None
    ) -> None:
        """Replace an item's purposes (and, when given, the policy version that decided them).

        The object's lock state is marked unsynced: ObjectLockSync brings it in line.
        """
        async with self._db.begin() as conn:
            await replace_purposes(conn, item_id, purposes)
            values: dict[str, Any] = {"s3_synced": False}
            if policy_version is not None:
                values["policy_version"] = policy_version
            await conn.execute(update(items).where(items.c.item_id == item_id).values(**values))

    async def mark_destroyed(self, item_id: str, *, reason: str, at: datetime) -> bool:
        """Forget everything about an item but its tombstone; False if already destroyed.

        Raises:
            ItemHeldError: An active hold covers the item now; nothing changed.
        """
        outcome = await self.mark_destroyed_many({item_id: reason}, at=at)
        if item_id in outcome.held:
            hold_id, matter = outcome.held[item_id]
            raise ItemHeldError(item_id, hold_id, matter)
        return item_id in outcome.destroyed

    async def mark_destroyed_many(self, reasons: Mapping[str, str], *, at: datetime) -> Destruction:
        """Forget items but their tombstones, in one transaction; each with its reason.

        Holds are checked again inside this transaction: an item a hold covers now (placed
        after the caller decided) is left as it is and named in ``held``, whatever the
        caller read before. Items already destroyed or unknown are in neither list.

        The wrapped data key goes with the row's content fields (crypto-shredding), and with
        it any personal data: parties, attributes, the event, its source and id. The
        idempotency digest stays, so a republished event never brings the item back.
        """
        wanted = sorted(reasons)
        async with self._db.transaction() as conn:
            # The row locks (PostgreSQL, taken in id order; SQLite holds the write lock
            # already) order this against a hold covering the items, whose coverage also
            # updates the item rows (s3_synced): it waits for us, or we for it and then
            # see its coverage below.
            live: dict[str, Any] = {}
            for chunk in _chunks(wanted):
                rows = await conn.execute(
                    select(items.c.item_id, items.c.type, items.c.status, items.c.policy_version)
                    .where(items.c.item_id.in_(chunk))
                    .order_by(items.c.item_id)
                    .with_for_update()
                )
                live.update((r.item_id, r) for r in rows if r.status != ItemStatus.DESTROYED.value)
            held: dict[str, tuple[str, str]] = {}
            for chunk in _chunks(sorted(live)):
                rows = await conn.execute(
                    select(hold_items.c.item_id, holds.c.hold_id, holds.c.matter)
                    .join(holds, hold_items.c.hold_id == holds.c.hold_id)
                    .where(hold_items.c.item_id.in_(chunk), holds.c.released_at.is_(None))
                    .order_by(hold_items.c.item_id, holds.c.hold_id)
                )
                for r in rows:
                    held.setdefault(r.item_id, (r.hold_id, r.matter))
            doomed = [i for i in sorted(live) if i not in held]
            for chunk in _chunks(doomed):
                for table in (item_parties, item_attributes, item_purposes, hold_items):
                    await conn.execute(delete(table).where(table.c.item_id.in_(chunk)))
                await conn.execute(
                    update(items)
                    .where(items.c.item_id.in_(chunk))
                    .values(
                        status=ItemStatus.DESTROYED.value,
                        source=None,
                        event_id=None,
                        event={},
                        event_sha256=None,
                        object_key=None,
                        object_version_id=None,
                        wrapped_key=None,
                        key_id=None,
                        content_sha256=None,
                        content_type=None,
                        s3_legal_hold=False,
                        s3_retain_until=None,
                        s3_synced=True,
                    )
                )
                await conn.execute(
                    insert(tombstones),
                    [
                        {
                            "item_id": i,
                            "type": live[i].type,
                            "destroyed_at": at,
                            "reason": reasons[i],
                            "policy_version": live[i].policy_version,
                        }
                        for i in chunk
                    ],
                )
        return Destruction(destroyed=tuple(doomed), held=held)

    async def tombstone(self, item_id: str) -> dict[str, Any] | None:
        """The tombstone of a destroyed item."""
        async with self._db.connect() as conn:
            row = (
                await conn.execute(select(tombstones).where(tombstones.c.item_id == item_id))
            ).first()
        if row is None:
            return None
        return {
            "item_id": row.item_id,
            "type": row.type,
            "destroyed_at": row.destroyed_at.isoformat(),
            "reason": row.reason,
            "policy_version": row.policy_version,
        }

    async def set_s3_state(
        self, item_id: str, *, legal_hold: bool, retain_until: datetime | None, synced: bool
    ) -> None:
        """Record what the object store has been told about an item's object."""
        async with self._db.begin() as conn:
            await conn.execute(
                update(items)
                .where(items.c.item_id == item_id)
                .values(s3_legal_hold=legal_hold, s3_retain_until=retain_until, s3_synced=synced)
            )

    async def set_s3_states(self, states: Sequence[S3State]) -> None:
        """Record, in one transaction, what the object store has been told about objects."""
        if not states:
            return
        stmt = (
            update(items)
            .where(items.c.item_id == bindparam("b_item_id"))
            .values(
                s3_legal_hold=bindparam("b_legal_hold"),
                s3_retain_until=bindparam("b_retain_until", type_=TS),
                s3_synced=True,
            )
        )
        async with self._db.begin() as conn:
            await conn.execute(
                stmt,
                [
                    {
                        "b_item_id": s.item_id,
                        "b_legal_hold": s.legal_hold,
                        "b_retain_until": s.retain_until,
                    }
                    for s in states
                ],
            )

    async def relink_parties(
        self, item_id: str, *, event: Mapping[str, Any], parties: Sequence[PartyRow]
    ) -> bool:
        """Replace a stored item's parties (its event's and the searchable rows) at once.

        Only the links change: the object, its content and digest are left as they are.
        False if the item is not stored.
        """
        where = (items.c.item_id == item_id) & (items.c.status == ItemStatus.STORED.value)
        async with self._db.begin() as conn:
            done = await conn.execute(update(items).where(where).values(event=dict(event)))
            if done.rowcount != 1:
                return False
            await conn.execute(delete(item_parties).where(item_parties.c.item_id == item_id))
            if parties:
                await conn.execute(insert(item_parties), party_rows(item_id, parties))
        return True

    async def _hydrate(
        self, conn: AsyncConnection, rows: Sequence[Row[Any]]
    ) -> builtins.list[ItemRecord]:
        ids = [r.item_id for r in rows]
        if not ids:
            return []
        purposes: dict[str, builtins.list[PurposeRow]] = {i: [] for i in ids}
        for p in await conn.execute(
            select(item_purposes)
            .where(item_purposes.c.item_id.in_(ids))
            .order_by(item_purposes.c.name)
        ):
            purposes[p.item_id].append(
                PurposeRow(p.name, p.basis, must_utc(p.expires_at), bool(p.worm))
            )
        held: dict[str, builtins.list[str]] = {i: [] for i in ids}
        for h in await conn.execute(
            select(hold_items.c.item_id, hold_items.c.hold_id)
            .join(holds, holds.c.hold_id == hold_items.c.hold_id)
            .where(hold_items.c.item_id.in_(ids), holds.c.released_at.is_(None))
            .order_by(hold_items.c.hold_id)
        ):
            held[h.item_id].append(h.hold_id)
        restricted = {
            r.item_id
            for r in await conn.execute(
                select(item_parties.c.item_id)
                .join(subjects, subjects.c.subject_id == item_parties.c.subject_id)
                .where(item_parties.c.item_id.in_(ids), subjects.c.restricted.is_(True))
            )
        }
        return [
            _record(r, tuple(purposes[r.item_id]), tuple(held[r.item_id]), r.item_id in restricted)
            for r in rows
        ]


def _record(
    row: Row[Any], purposes: tuple[PurposeRow, ...], hold_ids: tuple[str, ...], restricted: bool
) -> ItemRecord:
    stored = None
    if row.wrapped_key is not None:
        stored = StoredContent(
            object_key=row.object_key,
            version_id=row.object_version_id,
            ciphertext_size_bytes=row.ciphertext_size_bytes,
            segment_size_bytes=row.segment_size_bytes,
            key_id=row.key_id,
            wrapped_key=row.wrapped_key,
            content=ContentInfo(row.content_size_bytes, row.content_sha256, row.content_type),
        )
    return ItemRecord(
        item_id=row.item_id,
        source=row.source or "",
        event_id=row.event_id or "",
        type=row.type,
        status=ItemStatus(row.status),
        occurred_at=must_utc(row.occurred_at),
        ingested_at=must_utc(row.ingested_at),
        policy_version=row.policy_version,
        event=dict(row.event),
        stored=stored,
        purposes=purposes,
        hold_ids=hold_ids,
        restricted=restricted,
        s3_legal_hold=bool(row.s3_legal_hold),
        s3_retain_until=as_utc(row.s3_retain_until),
        s3_synced=bool(row.s3_synced),
        submitted_by=row.submitted_by,
    )


async def _commit_rows(conn: AsyncConnection, won: Sequence[ClaimCommit]) -> None:
    """Mark the won claims stored with their content, purposes and holds (locked already)."""
    shapes: dict[tuple[str, ...], builtins.list[dict[str, Any]]] = {}
    for c in won:
        values: dict[str, Any] = {"status": ItemStatus.STORED.value, "s3_synced": c.s3_synced}
        values.update(content_values(c.stored))
        if c.s3_retain_until is not None:
            values["s3_retain_until"] = must_utc(c.s3_retain_until)
        shapes.setdefault(tuple(values), []).append(
            {"b_item_id": c.item_id, **{f"b_{k}": v for k, v in values.items()}}
        )
    for columns, rows in shapes.items():
        stmt = (
            update(items)
            .where(items.c.item_id == bindparam("b_item_id"))
            .values({column: bindparam(f"b_{column}") for column in columns})
        )
        await conn.execute(stmt, rows)
    ids = [c.item_id for c in won]
    for chunk in _chunks(ids):
        await conn.execute(delete(item_purposes).where(item_purposes.c.item_id.in_(chunk)))
    purposes = [row for c in won for row in purpose_rows(c.item_id, c.purposes)]
    if purposes:
        await conn.execute(insert(item_purposes), purposes)
    wanted = {(h, c.item_id) for c in won for h in c.hold_ids}
    if wanted:
        # A hold placed while an item was pending may have listed it already.
        have: set[tuple[str, str]] = set()
        for chunk in _chunks(sorted({item for _, item in wanted})):
            listed = await conn.execute(
                select(hold_items.c.hold_id, hold_items.c.item_id).where(
                    hold_items.c.item_id.in_(chunk)
                )
            )
            have.update((r.hold_id, r.item_id) for r in listed)
        fresh = sorted(wanted - have)
        if fresh:
            await conn.execute(insert(hold_items), [{"hold_id": h, "item_id": i} for h, i in fresh])


def _chunks(ids: Sequence[str], size: int = _IN_BATCH) -> Iterator[Sequence[str]]:
    """The ids in slices small enough for one IN list."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
