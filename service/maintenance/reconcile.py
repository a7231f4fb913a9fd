"""Reconciliation: the object store and the catalog made to agree, never by guessing.

An object version is an orphan when no catalog row owns it: its key names no item, or a
destroyed one, or it is not the version its stored item committed (an upload whose attempt
died, or lost to another attempt). Orphans are removed, each batch audited; stored items
whose committed version is missing are reported, never repaired by guessing. Versions of
items still pending are left alone (ingest resumes them). A pending claim that no attempt
has touched for long has no worker on it: it is reported until its event is republished.
Against an empty or a wrong catalog every object looks like an orphan, so nothing is removed
from a bucket whose marker does not name this catalog (whatever --force says), and above a
small share of orphans nothing is removed unless the operator forces it; each refusal is
audited (`reconcile.refused`, with why and the counts). An orphan younger
than the minimum age may be an upload whose claim is not yet visible: it is left alone. A
version under Object Lock retention or legal hold is never removed, and removal never
bypasses governance retention.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.errors import StorageError
from storage.models import OBJECT_PREFIX, ItemStatus
from storage.ports import AuditLog, Catalog, ObjectStore, ObjectVersion

#: Told (phase, done, total) as a reconciliation goes: "scanning", then "removing".
ReconcileProgress = Callable[[str, int, int], None]
#: Who the audit trail names for removals.
ACTOR = "keepline-reconcile"
#: Above this share of orphans among the versions scanned, removal needs --force.
DEFAULT_MAX_ORPHAN_SHARE = 0.10
#: An orphan written more recently than this is left for a later run.
DEFAULT_MIN_ORPHAN_AGE = timedelta(hours=1)
_REMOVE_BATCH = 500
#: Why a reconciliation refused to remove anything (the `reconcile.refused` audit entry).
FOREIGN_MARKER = "foreign_marker"
TOO_MANY_ORPHANS = "too_many_orphans"


@dataclass(frozen=True, slots=True)
class MissingObject:
    """A stored item whose committed object version is not in the store."""

    item_id: str
    object_key: str
    version_id: str | None


@dataclass(slots=True)
class ReconcileReport:
    """What a reconciliation found and did."""

    dry_run: bool
    versions_scanned: int = 0
    orphans: list[ObjectVersion] = field(default_factory=list)
    removed: int = 0
    failed: int = 0
    missing: list[MissingObject] = field(default_factory=list)
    pending_versions: int = 0
    pending_claims: int = 0
    refused: str | None = None
    young: int = 0
    locked: int = 0
    stale_claims: int = 0
    stale: list[tuple[str, datetime]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The counts, as printed at the end."""
        return {
            "dry_run": self.dry_run,
            "versions_scanned": self.versions_scanned,
            "orphans": len(self.orphans),
            "removed": self.removed,
            "failed": self.failed,
            "missing": len(self.missing),
            "pending_versions": self.pending_versions,
            "pending_claims": self.pending_claims,
            "stale_claims": self.stale_claims,
            "young": self.young,
            "locked": self.locked,
            "refused": self.refused is not None,
        }


async def reconcile(
    catalog: Catalog,
    store: ObjectStore,
    audit: AuditLog,
    *,
    dry_run: bool,
    stale_before: datetime | None = None,
    force: bool = False,
    max_orphan_share: float = DEFAULT_MAX_ORPHAN_SHARE,
    at: datetime,
    catalog_instance: str,
    bucket_instance: str | None,
    min_orphan_age: timedelta = DEFAULT_MIN_ORPHAN_AGE,
    batch_keys: int = 500,
    progress: ReconcileProgress | None = None,
) -> ReconcileReport:
    """Find (and unless dry_run remove) orphaned versions; report missing objects.

    Everything is scanned before anything is removed. When orphans are more than
    max_orphan_share of the versions scanned (a wrong or empty catalog makes every object
    an orphan), nothing is removed without force; when the bucket's marker (bucket_instance)
    does not name catalog_instance, nothing is removed at all. Orphans younger than
    min_orphan_age and versions under retention or legal hold are kept. Every removal is
    audited. Pending claims no attempt has touched since stale_before are reported as stale.
    ``progress`` hears (phase, done, total) as it goes: ``scanning`` (total: what is scanned
    so far) after each batch of keys, ``removing`` after each batch of removals.
    """
    report = ReconcileReport(dry_run=dry_run)
    committed = await _scan(
        catalog,
        store,
        report,
        at=at,
        min_orphan_age=min_orphan_age,
        batch_keys=batch_keys,
        progress=progress,
    )
    after = ""
    while page := await catalog.stored_objects(after_item_id=after):
        report.missing.extend(
            MissingObject(row.item_id, row.object_key, row.version_id)
            for row in page
            if row.item_id not in committed
        )
        after = page[-1].item_id
    if report.orphans and not dry_run:
        refusal = _refusal(
            report,
            catalog_instance=catalog_instance,
            bucket_instance=bucket_instance,
            force=force,
            max_orphan_share=max_orphan_share,
        )
        if refusal is not None:
            kind, report.refused = refusal
            await audit.append(
                actor=ACTOR,
                action="reconcile.refused",
                at=at,
                details={
                    "reason": kind,
                    "versions_scanned": report.versions_scanned,
                    "orphans": len(report.orphans),
                    "max_orphan_share": max_orphan_share,
                    "forced": force,
                },
            )
    if report.orphans and report.refused is None:
        report.orphans = await _unlocked(store, report.orphans, report, at=at)
    if report.orphans and report.refused is None and not dry_run:
        await _remove(store, audit, report, at=at, progress=progress)
    report.pending_claims = await catalog.pending_claims()
    if stale_before is not None:
        report.stale_claims, report.stale = await catalog.stale_claims(
            attempted_before=stale_before
        )
    return report


async def _scan(
    catalog: Catalog,
    store: ObjectStore,
    report: ReconcileReport,
    *,
    at: datetime,
    min_orphan_age: timedelta,
    batch_keys: int,
    progress: ReconcileProgress | None,
) -> set[str]:
    """Sort every listed version into the report; the items whose object is there."""
    committed: set[str] = set()
    batches = _KeyBatches(store.list_versions(OBJECT_PREFIX), batch_keys)
    while batch := await asyncio.to_thread(batches.take):
        owners = await catalog.object_owners([key for key, _ in batch])
        for key, versions in batch:
            owner = owners.get(key)
            for version in versions:
                report.versions_scanned += 1
                if owner is not None and owner.status is ItemStatus.PENDING:
                    report.pending_versions += 1
                elif (
                    owner is not None
                    and owner.status is ItemStatus.STORED
                    and owner.version_id == version.version_id
                ):
                    committed.add(owner.item_id)
                elif version.modified_at is not None and version.modified_at > at - min_orphan_age:
                    report.young += 1
                else:
                    report.orphans.append(version)
        if progress is not None:
            progress("scanning", report.versions_scanned, report.versions_scanned)
    return committed


async def _remove(
    store: ObjectStore,
    audit: AuditLog,
    report: ReconcileReport,
    *,
    at: datetime,
    progress: ReconcileProgress | None = None,
) -> None:
    """Remove the report's orphans in batches, never bypassing retention; audit each batch."""
    for start in range(0, len(report.orphans), _REMOVE_BATCH):
        chunk = report.orphans[start : start + _REMOVE_BATCH]
        removed_before = report.removed
        try:
            await asyncio.to_thread(store.delete_versions, chunk, bypass_governance=False)
            report.removed += len(chunk)
        except StorageError:
            report.failed += await _one_by_one(store, chunk, report)
        await audit.append(
            actor=ACTOR,
            action="object.orphans_removed",
            at=at,
            details={
                "removed": report.removed - removed_before,
                "versions": [{"key": v.key, "version_id": v.version_id} for v in chunk],
            },
        )
        if progress is not None:
            progress("removing", min(start + len(chunk), len(report.orphans)), len(report.orphans))


def _refusal(
    report: ReconcileReport,
    *,
    catalog_instance: str,
    bucket_instance: str | None,
    force: bool,
    max_orphan_share: float,
) -> tuple[str, str] | None:
    """Why nothing may be removed (kind, message), or None.

    The kind is ``foreign_marker`` (the bucket's marker names another catalog, or none) or
    ``too_many_orphans`` (above max_orphan_share, unforced).
    """
    if bucket_instance != catalog_instance:
        named = "no catalog" if bucket_instance is None else f"catalog {bucket_instance}"
        return FOREIGN_MARKER, (
            f"the bucket's marker names {named}, not this one ({catalog_instance}): its "
            "objects are not this catalog's to judge, and nothing was removed (--force does "
            "not change that). Check KEEPLINE_CATALOG_URL and KEEPLINE_S3_BUCKET; keepline "
            "serve marks an unmarked bucket when it starts"
        )
    share = len(report.orphans) / report.versions_scanned if report.versions_scanned else 0.0
    if share > max_orphan_share and not force:
        return TOO_MANY_ORPHANS, (
            f"{len(report.orphans)} of {report.versions_scanned} object versions "
            f"({share:.0%}) have no catalog row: more than {max_orphan_share:.0%}, as when "
            "keepline is pointed at an empty or another catalog; nothing was removed. Check "
            "KEEPLINE_CATALOG_URL and KEEPLINE_S3_BUCKET, then run again with --force"
        )
    return None


async def _unlocked(
    store: ObjectStore, orphans: list[ObjectVersion], report: ReconcileReport, *, at: datetime
) -> list[ObjectVersion]:
    """The orphans under neither legal hold nor retention; the others are counted as locked."""
    free: list[ObjectVersion] = []
    for version in orphans:
        held, until = await asyncio.to_thread(store.lock_state, version.key, version.version_id)
        if held or (until is not None and until > at):
            report.locked += 1
        else:
            free.append(version)
    return free


async def _one_by_one(
    store: ObjectStore, orphans: list[ObjectVersion], report: ReconcileReport
) -> int:
    """Retry a refused batch version by version; returns how many still failed."""
    failed = 0
    for version in orphans:
        try:
            await asyncio.to_thread(store.delete_versions, [version], bypass_governance=False)
        except StorageError:
            failed += 1
        else:
            report.removed += 1
    return failed


class _KeyBatches:
    """Cuts a listing into batches of whole keys (all of a key's versions in one batch)."""

    def __init__(self, listing: Iterator[ObjectVersion], limit: int) -> None:
        self._listing = listing
        self._limit = limit
        self._next: ObjectVersion | None = None

    def take(self) -> list[tuple[str, list[ObjectVersion]]]:
        """The next batch; empty at the end (blocking: run in a thread)."""
        batch: list[tuple[str, list[ObjectVersion]]] = []
        while True:
            version = self._next if self._next is not None else next(self._listing, None)
            self._next = None
            if version is None:
                return batch
            if batch and batch[-1][0] == version.key:
                batch[-1][1].append(version)
            elif len(batch) >= self._limit:
                self._next = version
                return batch
            else:
                batch.append((version.key, [version]))
