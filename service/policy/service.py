"""PolicyService: a new policy version planned over every stored item, and applied.

The plan is `policies.plan_policy_change` over every stored item, with each item's standing
consents, objections and the purposes subject requests removed. Applying it activates the
version (audited as ``policy.changed``), then rewrites each changed item's purposes with
the version that decided them, and brings its object's lock state and tags in line. The
caller holds the sweeper lease meanwhile, so no sweep judges an item halfway through; an
interrupted run is finished by running it again (changed items plan no further change).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policies.models import Policy
from policies.outcomes import PolicyChange
from policies.retention import plan_policy_change
from service.facts import item_facts
from service.retention.locks import ObjectLockSync
from service.retention.service import SWEEP_LEASE, purpose_rows, purpose_tags
from storage.errors import LeaseUnavailableError
from storage.models import ItemQuery, Renew
from storage.ports import AuditLog, Catalog, ObjectStore, PolicyStore, SubjectStore

_PAGE = 200


@dataclass(slots=True)
class ApplyReport:
    """What applying (or planning) a policy version did to stored items."""

    version: str
    previous_version: str
    dry_run: bool
    activated: bool = False
    examined: int = 0
    changes: list[PolicyChange] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts as JSON values."""
        return {
            "version": self.version,
            "previous_version": self.previous_version,
            "dry_run": self.dry_run,
            "activated": self.activated,
            "items_examined": self.examined,
            "items_changed": len(self.changes),
            "purposes_added": sum(len(c.added) for c in self.changes),
            "purposes_removed": sum(len(c.removed) for c in self.changes),
            "expiries_moved": sum(len(c.moved) for c in self.changes),
        }


class PolicyService:
    """Plans and applies policy versions to stored items."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        policies: PolicyStore,
        subjects: SubjectStore,
        audit: AuditLog,
        lock_sync: ObjectLockSync,
        store: ObjectStore,
        clock: Callable[[], datetime],
    ) -> None:
        self._catalog = catalog
        self._policies = policies
        self._subjects = subjects
        self._audit = audit
        self._lock_sync = lock_sync
        self._store = store
        self._clock = clock

    async def apply(
        self,
        new: Policy,
        *,
        dry_run: bool,
        actor: str,
        via: str,
        progress: Callable[[int, int], None] | None = None,
        keep_going: Renew | None = None,
    ) -> ApplyReport:
        """Plan, and unless dry_run apply, a policy version to every stored item.

        Raises:
            LeaseUnavailableError: keep_going said the sweeper lease was lost.
        """
        old = await self._policies.active(refresh=True)
        report = ApplyReport(version=new.version, previous_version=old.version, dry_run=dry_run)
        at = self._clock()
        if not dry_run:
            async with self._audit.transaction():
                report.activated = await self._policies.activate(new, by=actor, at=at)
                if report.activated:
                    await self._audit.append(
                        actor=actor,
                        action="policy.changed",
                        at=at,
                        details={
                            "version": new.version,
                            "previous_version": old.version,
                            "via": via,
                        },
                    )
        subjects = self._subjects
        cursor: tuple[datetime, str] | None = None
        while True:
            page = await self._catalog.list(ItemQuery(limit=_PAGE, cursor=cursor))
            removed = await subjects.removed_purposes(r.item_id for r in page.items)
            people = {s for r in page.items for s in r.subject_ids}
            consents = await self._catalog.standing_consents(people)
            objections = await subjects.objections(people)
            facts = [item_facts(r, removed.get(r.item_id, frozenset())) for r in page.items]
            changes = list(
                plan_policy_change(facts, old, new, consents, at, objections_for=objections)
            )
            report.examined += len(page.items)
            report.changes.extend(changes)
            if not dry_run:
                for change in changes:
                    await self._apply_one(change, new.version, at)
            if progress is not None:
                progress(report.examined, report.examined + (_PAGE if page.next_cursor else 0))
            if page.next_cursor is None:
                break
            if keep_going is not None and not await keep_going():
                raise LeaseUnavailableError(SWEEP_LEASE, None, None)
            cursor = page.next_cursor
        if not dry_run:
            await self._audit.append(
                actor=actor, action="policy.applied", at=at, details=report.summary()
            )
        return report

    async def _apply_one(self, change: PolicyChange, version: str, at: datetime) -> None:
        await self._catalog.set_purposes(
            change.item_id, purpose_rows(change.purposes), policy_version=version
        )
        record = await self._catalog.get(change.item_id)
        if record is None:
            return
        await self._lock_sync.sync(record, at)
        if record.stored is not None:
            tags = purpose_tags(record.type, [p.name for p in record.purposes])
            await asyncio.to_thread(
                self._store.set_tags, record.stored.object_key, record.stored.version_id, tags
            )
