"""`keepline reconcile [--dry-run]`: the object store and the catalog, made to agree.

An object version is an orphan when no catalog row owns it: its key names no item, or a
destroyed one, or it is not the version its stored item committed (an upload whose attempt
died, or lost to another attempt). Orphans are removed (listed only with --dry-run). Stored
items whose committed version is missing are reported: that is data loss to investigate,
never something to repair by guessing. Versions of items still pending (a claim whose event
will be redelivered) are left alone; ingest resumes them. A pending claim that no attempt
has touched for `--stale-after-min` minutes has no worker on it: its event was never
delivered again, so it is reported (and the command fails) until the event is republished.

Everything is read in batches, so memory grows only with the number of stored items checked
(one id each), never with object sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from storage.errors import StorageError
from storage.models import ItemStatus
from storage.ports import ObjectVersion
from storage.runtime import build_storage
from storage.service import OBJECT_PREFIX
from storage.settings import StorageSettings
from storage.sql_catalog import SqlCatalog


class VersionedStore(Protocol):
    """What reconciliation needs of an object store."""

    def list_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version under prefix, the versions of one key together."""
        ...

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        """Remove the given versions for good."""
        ...


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
        }


async def reconcile(
    catalog: SqlCatalog,
    store: VersionedStore,
    *,
    dry_run: bool,
    stale_before: datetime | None = None,
    batch_keys: int = 500,
) -> ReconcileReport:
    """Find (and unless dry_run remove) orphaned versions; report missing objects.

    Pending claims no attempt has touched since stale_before are reported as stale.
    """
    report = ReconcileReport(dry_run=dry_run)
    committed: set[str] = set()
    batches = _KeyBatches(store.list_versions(OBJECT_PREFIX), batch_keys)
    while batch := await asyncio.to_thread(batches.take):
        owners = await catalog.object_owners([key for key, _ in batch])
        orphans: list[ObjectVersion] = []
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
                else:
                    orphans.append(version)
        report.orphans.extend(orphans)
        if orphans and not dry_run:
            try:
                await asyncio.to_thread(store.delete_versions, orphans, bypass_governance=True)
                report.removed += len(orphans)
            except StorageError:
                report.failed += await _one_by_one(store, orphans, report)
    after = ""
    while page := await catalog.stored_objects(after_item_id=after):
        report.missing.extend(
            MissingObject(row.item_id, row.object_key, row.version_id)
            for row in page
            if row.item_id not in committed
        )
        after = page[-1].item_id
    report.pending_claims = await catalog.pending_claims()
    if stale_before is not None:
        report.stale_claims, report.stale = await catalog.stale_claims(
            attempted_before=stale_before
        )
    return report


async def _one_by_one(
    store: VersionedStore, orphans: list[ObjectVersion], report: ReconcileReport
) -> int:
    """Retry a refused batch version by version; returns how many still failed."""
    failed = 0
    for version in orphans:
        try:
            await asyncio.to_thread(store.delete_versions, [version], bypass_governance=True)
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


async def reconcile_configured(
    settings: StorageSettings, *, dry_run: bool, stale_after: timedelta
) -> ReconcileReport:
    """Reconcile the configured bucket with the configured catalog."""
    runtime = build_storage(settings)
    try:
        await runtime.db.create_schema()
        return await reconcile(
            runtime.catalog,
            runtime.store,
            dry_run=dry_run,
            stale_before=datetime.now(UTC) - stale_after,
        )
    finally:
        await runtime.close()


def print_report(report: ReconcileReport, *, as_json: bool) -> None:
    """Each orphan and missing object, then the counts (object names hold no personal data)."""
    verb = "would remove" if report.dry_run else "orphan"
    if as_json:
        body = {
            "summary": report.summary(),
            "orphans": [{"key": v.key, "version_id": v.version_id} for v in report.orphans],
            "missing": [
                {"item_id": m.item_id, "key": m.object_key, "version_id": m.version_id}
                for m in report.missing
            ],
            "stale_claims": [
                {"item_id": item_id, "last_attempt_at": at.isoformat()}
                for item_id, at in report.stale
            ],
        }
        sys.stdout.write(json.dumps(body) + "\n")
        return
    for version in report.orphans:
        sys.stdout.write(f"{verb} {version.key} version={version.version_id}\n")
    for missing in report.missing:
        sys.stdout.write(
            f"missing item {missing.item_id}: {missing.object_key} version={missing.version_id}\n"
        )
    for item_id, at in report.stale:
        sys.stdout.write(
            f"stale claim {item_id}: no attempt since {at.isoformat()}; its event was not "
            "delivered again: republish it (source and event_id are in the catalog)\n"
        )
    counts = report.summary()
    sys.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()) + "\n")


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline reconcile`: 0 when the two agree (or were made to)."""
    try:
        report = asyncio.run(
            reconcile_configured(
                StorageSettings(),
                dry_run=args.dry_run,
                stale_after=timedelta(minutes=args.stale_after_min),
            )
        )
    except StorageError as err:
        sys.stderr.write(f"keepline reconcile: {err}\n")
        return 2
    print_report(report, as_json=args.json)
    return 1 if report.failed or report.missing or report.stale_claims else 0


def add_parser(sub: Any) -> None:
    """Register `keepline reconcile` on the subcommand parsers."""
    parser = sub.add_parser(
        "reconcile",
        help="remove object versions no catalog row owns; report items whose object is missing",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="change nothing; list what would be removed"
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument(
        "--stale-after-min",
        type=float,
        default=10.0,
        help="a pending claim no attempt touched for this long is reported (default 10)",
    )
    parser.set_defaults(func=run)
