"""SqlHoldStore: legal holds and the items each one covers (``hold_items``), in the catalog.

Coverage is materialised: placing a hold records a ``hold_items`` row for every stored item
its criteria match, and items ingested later get theirs at ingest (`service.ingest.service`). The
candidates are found in SQL (types, dates, parties, attributes) and each one is confirmed by
`policies.hold_covers`, the one definition of what a hold covers. Every newly covered or
uncovered item is marked ``s3_synced = False`` in the same transaction, so its S3 legal-hold
flag is brought in line by `ObjectLockSync` now or, after a crash, by the sweeper's repair.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from policies.holds import hold_covers
from policies.models import ArtefactType, Hold, HoldCriteria, ItemFacts
from storage.errors import CatalogConflictError, HoldAlreadyReleasedError, HoldNotFoundError
from storage.models import HoldRecord, ItemStatus
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import hold_items, holds, item_attributes, item_parties, items

_BATCH = 500
#: The non-ASCII letters whose casefold is ASCII (ß to "ss", the Kelvin sign to "k", ...).
FOLD_TO_ASCII = "\u00df\u017f\u1e9e\u212a\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"


def _facts(row: Any) -> ItemFacts:
    event: Mapping[str, Any] = row.event or {}
    parties = event.get("parties") or []
    return ItemFacts(
        item_id=row.item_id,
        type=ArtefactType(row.type),
        occurred_at=must_utc(row.occurred_at),
        attributes=dict(event.get("attributes") or {}),
        subject_ids=frozenset(p["subject_id"] for p in parties if p.get("subject_id")),
        addresses=frozenset(p["address"] for p in parties if p.get("address")),
        staff_ids=frozenset(p["staff_id"] for p in parties if p.get("staff_id")),
    )


def _party_clause(column: Any, values: Iterable[str]) -> Any:
    return exists().where(item_parties.c.item_id == items.c.item_id, column.in_(sorted(values)))


def _address_clause(lowered: set[str]) -> Any:
    """Parties whose address may casefold to one of these ASCII addresses.

    SQL lower() folds ASCII letters on every backend, but an address can also casefold to
    ASCII through a non-ASCII letter ("STRAßE" to "strasse"): those addresses are candidates
    too, and hold_covers decides.
    """
    address = item_parties.c.address
    return exists().where(
        item_parties.c.item_id == items.c.item_id,
        or_(
            func.lower(address).in_(sorted(lowered)),
            *(address.contains(letter, autoescape=True) for letter in FOLD_TO_ASCII),
        ),
    )


def candidates(criteria: HoldCriteria) -> Select[Any]:
    """Stored items that may match the criteria (a superset; confirm with hold_covers)."""
    stmt = select(items.c.item_id, items.c.type, items.c.occurred_at, items.c.event).where(
        items.c.status == ItemStatus.STORED.value
    )
    if criteria.types:
        stmt = stmt.where(items.c.type.in_(sorted(str(t) for t in criteria.types)))
    if criteria.since is not None:
        stmt = stmt.where(items.c.occurred_at >= criteria.since)
    if criteria.until is not None:
        stmt = stmt.where(items.c.occurred_at < criteria.until)
    if criteria.subject_ids:
        stmt = stmt.where(_party_clause(item_parties.c.subject_id, criteria.subject_ids))
    if criteria.staff_ids:
        stmt = stmt.where(_party_clause(item_parties.c.staff_id, criteria.staff_ids))
    if criteria.addresses and all(a.isascii() for a in criteria.addresses):
        # SQL lower() folds ASCII only; other addresses are left to hold_covers' casefold,
        # since a narrower SQL filter could miss an item the hold must cover.
        stmt = stmt.where(_address_clause({a.lower() for a in criteria.addresses}))
    for key, values in criteria.attributes.items():
        stmt = stmt.where(
            exists().where(
                item_attributes.c.item_id == items.c.item_id,
                item_attributes.c.key == key,
                item_attributes.c.value.in_(sorted(values)),
            )
        )
    return stmt


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
    ) -> tuple[HoldRecord, list[str]]:
        """Place a hold and cover every stored item it matches.

        The hold row is committed first, so items ingested from then on see it; coverage of
        stored items follows in batches (a crash in between is completed by `cover`).

        Returns:
            The hold with its count, and the ids of the items it newly covers.
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

    async def cover(self, hold_id: str, criteria: HoldCriteria) -> list[str]:
        """Cover every matching stored item the hold does not cover yet (idempotent).

        Returns:
            The ids of the items newly covered; each is marked for S3 flag sync.
        """
        not_covered = ~exists().where(
            hold_items.c.hold_id == hold_id, hold_items.c.item_id == items.c.item_id
        )
        newly: list[str] = []
        async for batch in self._matching(candidates(criteria).where(not_covered), criteria):
            ids = [facts.item_id for facts in batch]
            try:
                async with self._db.begin() as conn:
                    await self._insert_coverage(conn, hold_id, ids)
            except CatalogConflictError:
                # Another writer covered some of them meanwhile; take the rest one by one.
                ids = [i for i in ids if await self._cover_one(hold_id, i)]
            newly.extend(ids)
        return newly

    async def preview(self, criteria: HoldCriteria) -> int:
        """How many stored items a hold with these criteria would cover now."""
        count = 0
        async for batch in self._matching(candidates(criteria), criteria):
            count += len(batch)
        return count

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

    async def _matching(
        self, stmt: Select[Any], criteria: HoldCriteria
    ) -> AsyncIterator[list[ItemFacts]]:
        """Batches of candidate items that hold_covers confirms, in item_id order."""
        after = ""
        while True:
            async with self._db.connect() as conn:
                rows = (
                    await conn.execute(
                        stmt.where(items.c.item_id > after)
                        .order_by(items.c.item_id)
                        .limit(self._batch)
                    )
                ).all()
            if not rows:
                return
            after = rows[-1].item_id
            confirmed = [f for f in map(_facts, rows) if hold_covers(criteria, f)]
            if confirmed:
                yield confirmed

    async def _insert_coverage(self, conn: AsyncConnection, hold_id: str, ids: list[str]) -> None:
        await conn.execute(insert(hold_items), [{"hold_id": hold_id, "item_id": i} for i in ids])
        await conn.execute(update(items).where(items.c.item_id.in_(ids)).values(s3_synced=False))

    async def _cover_one(self, hold_id: str, item_id: str) -> bool:
        try:
            async with self._db.begin() as conn:
                await self._insert_coverage(conn, hold_id, [item_id])
        except CatalogConflictError:
            return False
        return True

    async def _select(self, where: Any) -> list[HoldRecord]:
        live = select(func.count()).where(
            hold_items.c.hold_id == holds.c.hold_id,
            hold_items.c.item_id == items.c.item_id,
            items.c.status == ItemStatus.STORED.value,
        )
        stmt = select(holds, live.scalar_subquery().label("matched")).order_by(
            holds.c.created_at.desc(), holds.c.hold_id
        )
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
            )
            for r in rows
        ]
