"""SqlSubjectStore: consent, objection and restriction state per data subject, and erasures.

The latest decision processed wins: a partition of privacy.consent is read in order, and a
redelivered event (at-least-once) replays the same decisions in the same order. Event times
are not compared, since a CRM's clock must not be able to veto a decision the privacy team
takes through the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, literal, select, tuple_, update

from policies.explanation import Removal
from policies.subject_rights import API_RESTRICTION, RestrictionState, restriction_after
from storage.errors import CatalogConflictError
from storage.models import ALL_PURPOSES, Change, DeferredErasure, SubjectState
from storage.sql.database import Database, must_utc
from storage.sql.schema import (
    TS,
    consents,
    deferred_erasures,
    erasure_requests,
    item_removed_purposes,
    objections,
    subjects,
)


#: The objection row that stands for every legitimate-interests purpose.
class SqlSubjectStore:
    """What each data subject has granted, objected to or restricted; erasure bookkeeping."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- consent, objection, restriction ---------------------------------------------------

    async def set_consent(
        self, subject_id: str, purpose: str, *, granted: bool, at: datetime, source: str
    ) -> Change:
        """Record a grant or a withdrawal decided at ``at`` (the latest one processed wins)."""
        where = and_(consents.c.subject_id == subject_id, consents.c.purpose == purpose)
        for _ in range(2):
            async with self._db.begin() as conn:
                row = (await conn.execute(select(consents.c.granted).where(where))).first()
                if row is not None:
                    await conn.execute(
                        update(consents)
                        .where(where)
                        .values(granted=granted, updated_at=at, source=source)
                    )
                    return Change.UNCHANGED if bool(row.granted) == granted else Change.CHANGED
            try:
                async with self._db.begin() as conn:
                    await conn.execute(
                        insert(consents).values(
                            subject_id=subject_id,
                            purpose=purpose,
                            granted=granted,
                            updated_at=at,
                            source=source,
                        )
                    )
            except CatalogConflictError:
                continue  # another writer inserted it first: update that row instead
            return Change.CHANGED
        raise RuntimeError("consent row kept appearing and vanishing")  # pragma: no cover

    async def set_restricted(
        self, subject_id: str, *, restricted: bool, at: datetime, by: str = API_RESTRICTION
    ) -> Change:
        """Restrict processing of the subject's items, or lift the restriction.

        ``by`` is who asks (``api``, or an event's source); `restriction_after` decides, in
        the same transaction as the write: KEPT when it was not theirs to lift.
        """
        where = subjects.c.subject_id == subject_id
        for _ in range(2):
            async with self._db.begin() as conn:
                row = (
                    await conn.execute(
                        select(subjects.c.restricted, subjects.c.restricted_by)
                        .where(where)
                        .with_for_update()
                    )
                ).first()
                if row is not None:
                    current = RestrictionState(bool(row.restricted), row.restricted_by)
                    after = restriction_after(current, restricted=restricted, by=by)
                    await conn.execute(
                        update(subjects)
                        .where(where)
                        .values(
                            restricted=after.restricted,
                            restricted_by=after.restricted_by,
                            updated_at=at,
                        )
                    )
                    if after.restricted != restricted:
                        return Change.KEPT
                    return Change.UNCHANGED if current.restricted == restricted else Change.CHANGED
            try:
                async with self._db.begin() as conn:
                    await conn.execute(
                        insert(subjects).values(
                            subject_id=subject_id,
                            restricted=restricted,
                            restricted_by=by if restricted else None,
                            updated_at=at,
                        )
                    )
            except CatalogConflictError:
                continue
            # No row meant "not restricted": lifting a restriction never set changes nothing.
            return Change.CHANGED if restricted else Change.UNCHANGED
        raise RuntimeError("subject row kept appearing and vanishing")  # pragma: no cover

    async def add_objection(self, subject_id: str, purpose: str, *, at: datetime) -> Change:
        """Record an objection (``*``: every legitimate-interests purpose); it stands for good."""
        try:
            async with self._db.begin() as conn:
                found = (
                    await conn.execute(
                        select(objections.c.subject_id).where(
                            objections.c.subject_id == subject_id, objections.c.purpose == purpose
                        )
                    )
                ).first()
                if found is not None:
                    return Change.UNCHANGED
                await conn.execute(
                    insert(objections).values(subject_id=subject_id, purpose=purpose, created_at=at)
                )
        except CatalogConflictError:
            return Change.UNCHANGED  # recorded by a concurrent writer
        return Change.CHANGED

    async def is_restricted(self, subject_id: str) -> bool:
        """Whether the subject's items are restricted."""
        async with self._db.connect() as conn:
            value = (
                await conn.execute(
                    select(subjects.c.restricted).where(subjects.c.subject_id == subject_id)
                )
            ).scalar_one_or_none()
        return bool(value)

    async def objections(self, subject_ids: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Standing objections by subject, in the form `policies.purposes_at_ingest` takes.

        Returns:
            Only subjects that objected: the purposes they object to, or ``None`` when they
            object to every legitimate-interests purpose.
        """
        ids = sorted(set(subject_ids))
        if not ids:
            return {}
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(objections.c.subject_id, objections.c.purpose).where(
                        objections.c.subject_id.in_(ids)
                    )
                )
            ).all()
        named: dict[str, set[str]] = {}
        everything: set[str] = set()
        for row in rows:
            if row.purpose == ALL_PURPOSES:
                everything.add(row.subject_id)
            else:
                named.setdefault(row.subject_id, set()).add(row.purpose)
        found: dict[str, frozenset[str] | None] = {s: frozenset(p) for s, p in named.items()}
        found.update(dict.fromkeys(everything))
        return found

    async def state(self, subject_id: str) -> SubjectState:
        """Everything on file about the subject's choices."""
        async with self._db.connect() as conn:
            granted = {
                row.purpose: bool(row.granted)
                for row in await conn.execute(
                    select(consents.c.purpose, consents.c.granted).where(
                        consents.c.subject_id == subject_id
                    )
                )
            }
            objected = frozenset(
                row.purpose
                for row in await conn.execute(
                    select(objections.c.purpose).where(objections.c.subject_id == subject_id)
                )
            )
            restricted = (
                await conn.execute(
                    select(subjects.c.restricted).where(subjects.c.subject_id == subject_id)
                )
            ).scalar_one_or_none()
        return SubjectState(subject_id, bool(restricted), granted, objected)

    # -- purposes removed by a subject's request -------------------------------------------

    async def record_removed(
        self, item_id: str, names: Iterable[str], *, reason: str, at: datetime
    ) -> None:
        """Remember purposes a request took off an item, so a policy change never re-adds them."""
        wanted = sorted(set(names))
        if not wanted:
            return
        async with self._db.begin() as conn:
            present = {
                row.name
                for row in await conn.execute(
                    select(item_removed_purposes.c.name).where(
                        item_removed_purposes.c.item_id == item_id
                    )
                )
            }
            rows = [
                {"item_id": item_id, "name": name, "reason": reason, "removed_at": at}
                for name in wanted
                if name not in present
            ]
            if rows:
                await conn.execute(insert(item_removed_purposes), rows)

    async def removed_purposes(self, item_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each item, the purposes subject requests removed (for ItemFacts.removed_purposes)."""
        ids = sorted(set(item_ids))
        found: dict[str, set[str]] = {i: set() for i in ids}
        if not ids:
            return {}
        async with self._db.connect() as conn:
            for row in await conn.execute(
                select(item_removed_purposes.c.item_id, item_removed_purposes.c.name).where(
                    item_removed_purposes.c.item_id.in_(ids)
                )
            ):
                found[row.item_id].add(row.name)
        return {i: frozenset(names) for i, names in found.items()}

    # -- erasure requests and the deferred-erasure queue -----------------------------------

    async def open_erasure(
        self, request_id: str, *, subject_id: str, requested_by: str, at: datetime
    ) -> None:
        """Record that an erasure request was received, before anything is erased."""
        async with self._db.begin() as conn:
            await conn.execute(
                insert(erasure_requests).values(
                    request_id=request_id,
                    subject_id=subject_id,
                    requested_by=requested_by,
                    requested_at=at,
                    outcome={"state": "in_progress"},
                )
            )

    async def close_erasure(
        self,
        request_id: str,
        *,
        outcome: Mapping[str, Any],
        deferred_item_ids: Sequence[str],
        at: datetime,
    ) -> None:
        """Record a request's answer and queue the items only holds kept, in one transaction."""
        async with self._db.begin() as conn:
            await conn.execute(
                update(erasure_requests)
                .where(erasure_requests.c.request_id == request_id)
                .values(outcome=dict(outcome))
            )
            if deferred_item_ids:
                await conn.execute(
                    insert(deferred_erasures),
                    [
                        {"request_id": request_id, "item_id": item_id, "queued_at": at}
                        for item_id in deferred_item_ids
                    ],
                )

    async def standing_erasures(self, subject_ids: Iterable[str]) -> dict[str, str]:
        """For each subject with an erasure on file, the request id of its latest one."""
        wanted = sorted(set(subject_ids))
        if not wanted:
            return {}
        stmt = (
            select(erasure_requests.c.subject_id, erasure_requests.c.request_id)
            .where(erasure_requests.c.subject_id.in_(wanted))
            .order_by(erasure_requests.c.requested_at, erasure_requests.c.request_id)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {str(r.subject_id): str(r.request_id) for r in rows}  # the latest one wins

    async def defer_erasure(self, request_id: str, item_id: str, *, at: datetime) -> None:
        """Queue one more item of a request, kept only by holds (idempotent)."""
        async with self._db.begin() as conn:
            exists = (
                await conn.execute(
                    select(deferred_erasures.c.item_id).where(
                        deferred_erasures.c.request_id == request_id,
                        deferred_erasures.c.item_id == item_id,
                    )
                )
            ).first()
            if exists is None:
                await conn.execute(
                    insert(deferred_erasures).values(
                        request_id=request_id, item_id=item_id, queued_at=at
                    )
                )

    async def erasure_request(self, request_id: str) -> dict[str, Any] | None:
        """One erasure request as recorded: who asked, when, and the answer."""
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(erasure_requests).where(erasure_requests.c.request_id == request_id)
                )
            ).first()
        if row is None:
            return None
        return {
            "request_id": row.request_id,
            "subject_id": row.subject_id,
            "requested_by": row.requested_by,
            "requested_at": row.requested_at.isoformat(),
            "outcome": dict(row.outcome),
        }

    async def pending_deferred(
        self, *, after: DeferredErasure | None = None, limit: int = 500
    ) -> list[DeferredErasure]:
        """Queued erasures not yet carried out, oldest first; page on with ``after``."""
        stmt = select(deferred_erasures).where(deferred_erasures.c.done_at.is_(None))
        if after is not None:
            stmt = stmt.where(
                tuple_(
                    deferred_erasures.c.queued_at,
                    deferred_erasures.c.request_id,
                    deferred_erasures.c.item_id,
                )
                > tuple_(literal(after.queued_at, TS), after.request_id, after.item_id)
            )
        stmt = stmt.order_by(
            deferred_erasures.c.queued_at,
            deferred_erasures.c.request_id,
            deferred_erasures.c.item_id,
        ).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [DeferredErasure(r.request_id, r.item_id, r.queued_at) for r in rows]

    async def finish_deferred(self, request_id: str, item_id: str, *, at: datetime) -> None:
        """Take one item off the queue: erased, or no longer to be erased."""
        async with self._db.begin() as conn:
            await conn.execute(
                update(deferred_erasures)
                .where(
                    deferred_erasures.c.request_id == request_id,
                    deferred_erasures.c.item_id == item_id,
                )
                .values(done_at=at)
            )

    # -- what the retention explanation reads (GET /v1/items/{item_id}/retention) ---------

    async def removals(self, item_id: str) -> list[Removal]:
        """The purposes subject requests took off the item: name, reason and when."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        item_removed_purposes.c.name,
                        item_removed_purposes.c.reason,
                        item_removed_purposes.c.removed_at,
                    )
                    .where(item_removed_purposes.c.item_id == item_id)
                    .order_by(item_removed_purposes.c.removed_at, item_removed_purposes.c.name)
                )
            ).all()
        return [
            Removal(name=row.name, reason=row.reason, removed_at=must_utc(row.removed_at))
            for row in rows
        ]

    async def erasure_pending(self, item_id: str) -> bool:
        """Whether a queued erasure (kept back only by holds) names the item."""
        async with self._db.connect() as conn:
            found = (
                await conn.execute(
                    select(deferred_erasures.c.item_id)
                    .where(
                        deferred_erasures.c.item_id == item_id,
                        deferred_erasures.c.done_at.is_(None),
                    )
                    .limit(1)
                )
            ).first()
        return found is not None
