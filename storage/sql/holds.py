"""SqlHoldStore: legal holds and the items each one covers (``hold_items``), in the catalog.

Coverage is materialised: placing a hold records a ``hold_items`` row for every stored item
its criteria match, in one ``INSERT ... SELECT``, and items ingested later get theirs at
ingest (`service.ingest.service`, through `policies.hold_covers`). The SQL filter here is
exactly `policies.hold_covers` (types, dates, parties, attributes; addresses compared by
their folded form, `policies.holds.fold_address`, kept beside each party), and a property
test on both dialects holds the two to the same answer. Every newly covered item with an
object whose S3 legal-hold flag is not set yet is marked ``s3_synced = False`` in the same
transaction, so its flag is brought in line by `ObjectLockSync` in the background or, after a
crash, by the sweeper's repair; ``flags_pending`` counts what is still to do.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, select, update
from sqlalchemy.sql import ColumnElement, Select

from policies.holds import fold_address
from policies.models import Hold, HoldCriteria
from storage.errors import CatalogConflictError, HoldAlreadyReleasedError, HoldNotFoundError
from storage.models import HoldRecord, ItemStatus
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import hold_items, holds, item_attributes, item_parties, items

_BATCH = 500
#: Attempts of the covering statement when a concurrent ingest covered an item meanwhile.
_COVER_ATTEMPTS = 5


def _party(column: Any, values: list[str]) -> ColumnElement[bool]:
    return exists().where(item_parties.c.item_id == items.c.item_id, column.in_(values))


def matching(criteria: HoldCriteria) -> ColumnElement[bool]:
    """Stored items the criteria cover: every criterion given, any value within one."""
    clauses: list[ColumnElement[bool]] = [items.c.status == ItemStatus.STORED.value]
    if criteria.types:
        clauses.append(items.c.type.in_(sorted(str(t) for t in criteria.types)))
    if criteria.since is not None:
        clauses.append(items.c.occurred_at >= criteria.since)
    if criteria.until is not None:
        clauses.append(items.c.occurred_at < criteria.until)
    if criteria.subject_ids:
        clauses.append(_party(item_parties.c.subject_id, sorted(criteria.subject_ids)))
    if criteria.staff_ids:
        clauses.append(_party(item_parties.c.staff_id, sorted(criteria.staff_ids)))
    if criteria.addresses:
        folded = sorted({fold_address(a) for a in criteria.addresses})
        clauses.append(_party(item_parties.c.address_folded, folded))
    for key, values in sorted(criteria.attributes.items()):
        clauses.append(
            exists().where(
                item_attributes.c.item_id == items.c.item_id,
                item_attributes.c.key == key,
                item_attributes.c.value.in_(sorted(values)),
            )
        )
    return and_(*clauses)


def _flag_pending(hold_id: Any) -> Select[Any]:
    """Items of a hold whose object has not been brought in line with the catalog yet."""
    return select(func.count()).where(
        hold_items.c.hold_id == hold_id,
        hold_items.c.item_id == items.c.item_id,
        items.c.status == ItemStatus.STORED.value,
        items.c.s3_synced.is_(False),
    )


class SqlHoldStore:
    """Legal holds: place with coverage, list with counts, get, preview, release."""

    def __init__(self, db: Database, *, batch_size: int = _BATCH) -> None:
        self._db = db
        self._batch = batch_size

    async def create(
        self,
        *,
        matter: str,
        description: str,
        criteria: HoldCriteria,
        created_by: str,
        created_at: datetime,
        hold_id: str | None = None,
    ) -> tuple[HoldRecord, int]:
        """Place a hold and cover every stored item it matches.

        The hold row is committed first, so items ingested from then on see it; coverage of
        stored items follows in batches (a crash in between is completed by `cover`).

        Returns:
            The hold with its count, and how many items it newly covers.
        """
        hold_id = hold_id or str(uuid.uuid4())
        async with self._db.begin() as conn:
            await conn.execute(
                insert(holds).values(
                    hold_id=hold_id,
                    matter=matter,
                    description=description,
                    criteria=criteria.to_json(),
                    created_by=created_by,
                    created_at=created_at,
                )
            )
        covered = await self.cover(hold_id, criteria)
        record = await self.get(hold_id)
        assert record is not None
        return record, covered

    async def cover(self, hold_id: str, criteria: HoldCriteria) -> int:
        """Cover every matching stored item the hold does not cover yet (idempotent).

        Two set-based statements in one transaction. The first updates every item about to
        be covered: it marks those with an object not yet flagged for S3 flag sync, and,
        above all, takes each item's row lock, which `SqlCatalog.mark_destroyed` takes too:
        a destruction deciding at the same moment waits for this coverage and then sees it
        (or has committed first, and the item is no longer stored here). The second records
        the coverage.

        Returns:
            How many items were newly covered.
        """
        not_covered = ~exists().where(
            hold_items.c.hold_id == hold_id, hold_items.c.item_id == items.c.item_id
        )
        wanted = and_(matching(criteria), not_covered)
        needs_flag = and_(items.c.object_key.is_not(None), items.c.s3_legal_hold.is_(False))
        lock_and_mark = (
            update(items)
            .where(wanted)
            .values(s3_synced=case((needs_flag, False), else_=items.c.s3_synced))
        )
        record = insert(hold_items).from_select(
            ["hold_id", "item_id"], select(literal(hold_id), items.c.item_id).where(wanted)
        )
        for attempt in range(_COVER_ATTEMPTS):
            try:
                async with self._db.begin() as conn:
                    await conn.execute(lock_and_mark)
                    done = await conn.execute(record)
                    return max(done.rowcount, 0)
            except CatalogConflictError:
                # An ingest covered one of them meanwhile (at ingest); the next try skips it.
                if attempt == _COVER_ATTEMPTS - 1:
                    raise
        return 0

    async def preview(self, criteria: HoldCriteria) -> int:
        """How many stored items a hold with these criteria would cover now."""
        async with self._db.connect() as conn:
            found = await conn.execute(select(func.count()).where(matching(criteria)))
            return int(found.scalar_one())

    async def get(self, hold_id: str) -> HoldRecord | None:
        """One hold with its current count, or None."""
        found = await self._select(holds.c.hold_id == hold_id)
        return found[0] if found else None

    async def list_all(self, *, active_only: bool = False) -> list[HoldRecord]:
        """Every hold (newest first) with its current count."""
        return await self._select(holds.c.released_at.is_(None) if active_only else None)

    async def active(self) -> list[Hold]:
        """The policy engine's view of every unreleased hold (criteria only, no counts)."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(holds.c.hold_id, holds.c.matter, holds.c.criteria)
                    .where(holds.c.released_at.is_(None))
                    .order_by(holds.c.hold_id)
                )
            ).all()
        return [
            Hold(hold_id=r.hold_id, matter=r.matter, criteria=HoldCriteria.from_json(r.criteria))
            for r in rows
        ]

    async def release(
        self, hold_id: str, *, by: str, at: datetime, reason: str | None = None
    ) -> tuple[HoldRecord, list[str]]:
        """Release a hold; reason (optional) says why and is shown with the hold.

        Returns:
            The released hold, and the ids of the items it covered that no other active hold
            covers: they resume normal retention and are marked for S3 flag sync.

        Raises:
            HoldNotFoundError: No such hold.
            HoldAlreadyReleasedError: It was released before.
        """
        other = hold_items.alias("other")
        still_held = exists().where(
            other.c.item_id == hold_items.c.item_id,
            other.c.hold_id != hold_id,
            other.c.hold_id.in_(select(holds.c.hold_id).where(holds.c.released_at.is_(None))),
        )
        async with self._db.begin() as conn:
            row = (
                await conn.execute(select(holds.c.released_at).where(holds.c.hold_id == hold_id))
            ).first()
            if row is None:
                raise HoldNotFoundError(hold_id)
            if row.released_at is not None:
                raise HoldAlreadyReleasedError(hold_id, must_utc(row.released_at))
            done = await conn.execute(
                update(holds)
                .where(holds.c.hold_id == hold_id, holds.c.released_at.is_(None))
                .values(released_at=at, released_by=by, release_reason=reason)
            )
            if done.rowcount != 1:  # released by a concurrent request since the read above
                raise HoldAlreadyReleasedError(hold_id, at)
            freed = list(
                (
                    await conn.execute(
                        select(hold_items.c.item_id)
                        .where(hold_items.c.hold_id == hold_id, ~still_held)
                        .order_by(hold_items.c.item_id)
                    )
                ).scalars()
            )
            for start in range(0, len(freed), self._batch):
                await conn.execute(
                    update(items)
                    .where(items.c.item_id.in_(freed[start : start + self._batch]))
                    .values(s3_synced=False)
                )
        record = await self.get(hold_id)
        assert record is not None
        return record, freed

    async def _select(self, where: Any) -> list[HoldRecord]:
        live = select(func.count()).where(
            hold_items.c.hold_id == holds.c.hold_id,
            hold_items.c.item_id == items.c.item_id,
            items.c.status == ItemStatus.STORED.value,
        )
        stmt = select(
            holds,
            live.scalar_subquery().label("matched"),
            _flag_pending(holds.c.hold_id).scalar_subquery().label("flags_pending"),
        ).order_by(holds.c.created_at.desc(), holds.c.hold_id)
        if where is not None:
            stmt = stmt.where(where)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            HoldRecord(
                hold_id=r.hold_id,
                matter=r.matter,
                description=r.description or "",
                criteria=HoldCriteria.from_json(r.criteria),
                created_by=r.created_by,
                created_at=must_utc(r.created_at),
                released_at=as_utc(r.released_at),
                released_by=r.released_by,
                matched=int(r.matched),
                release_reason=r.release_reason,
                flags_pending=int(r.flags_pending),
            )
            for r in rows
        ]
