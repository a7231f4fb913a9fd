"""`keepline reconcile [--dry-run] [--force]`: the object store and the catalog, made to agree.

The rules are the maintenance use case's (`service.maintenance.reconcile`); this command
parses arguments and prints. Orphans are listed only with --dry-run; from a bucket whose
marker names another catalog nothing is removed, and above --max-orphan-share of orphans
nothing is removed without --force (exit 3 for both). Orphans younger than
--min-orphan-age-h are left for a later run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from keepline.commands.sweep import ProgressBar, now
from service.maintenance.reconcile import (
    DEFAULT_MAX_ORPHAN_SHARE,
    DEFAULT_MIN_ORPHAN_AGE,
    ReconcileProgress,
    ReconcileReport,
    reconcile,
)
from storage.errors import StorageError

if TYPE_CHECKING:
    from storage.settings import StorageSettings


async def reconcile_configured(
    settings: StorageSettings,
    *,
    dry_run: bool,
    stale_after: timedelta,
    force: bool = False,
    max_orphan_share: float = DEFAULT_MAX_ORPHAN_SHARE,
    min_orphan_age: timedelta = DEFAULT_MIN_ORPHAN_AGE,
    progress: ReconcileProgress | None = None,
) -> ReconcileReport:
    """Reconcile the configured bucket with the configured catalog (never marks the bucket)."""
    from keepline.root import build
    from storage.objects.marker import read_marker

    root = build(settings)
    try:
        await root.storage.db.create_schema()
        catalog_instance = await root.storage.instance.instance_id(at=now())
        bucket_instance = await asyncio.to_thread(read_marker, root.storage.store)
        return await reconcile(
            root.storage.catalog,
            root.storage.store,
            root.storage.audit,
            dry_run=dry_run,
            stale_before=now() - stale_after,
            force=force,
            max_orphan_share=max_orphan_share,
            at=now(),
            catalog_instance=catalog_instance,
            bucket_instance=bucket_instance,
            min_orphan_age=min_orphan_age,
            progress=progress,
        )
    finally:
        await root.close()


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


class ReconcileBars:
    """What `--progress` draws on stderr: versions scanned, then a bar of removals."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._removing: ProgressBar | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        """Redraw for one phase's (done, total)."""
        if phase == "scanning":
            self._stream.write(f"\rscanning the bucket: {done} object versions")
            self._stream.flush()
            return
        if self._removing is None:
            self._stream.write("\n")
            self._removing = ProgressBar("removing orphans", self._stream, min_total=0)
        self._removing(done, total)

    def close(self) -> None:
        """End the line drawn last."""
        if self._removing is not None:
            self._removing.close()
        else:
            self._stream.write("\n")
            self._stream.flush()


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline reconcile`: 0 when the two agree (or were made to)."""
    from storage.settings import StorageSettings

    wanted = sys.stderr.isatty() if args.progress is None else args.progress
    bars = ReconcileBars(sys.stderr) if wanted else None
    try:
        report = asyncio.run(
            reconcile_configured(
                StorageSettings(),
                dry_run=args.dry_run,
                stale_after=timedelta(minutes=args.stale_after_min),
                force=args.force,
                max_orphan_share=args.max_orphan_share,
                min_orphan_age=timedelta(hours=args.min_orphan_age_h),
                progress=bars,
            )
        )
    except StorageError as err:
        sys.stderr.write(f"keepline reconcile: {err}\n")
        return 2
    finally:
        if bars is not None:
            bars.close()
    print_report(report, as_json=args.json)
    if report.refused is not None:
        sys.stderr.write(f"keepline reconcile: {report.refused}\n")
        return 3
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
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show versions scanned and a bar of removals on stderr (default: on a terminal)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="remove orphans even when they are more than --max-orphan-share of all versions",
    )
    parser.add_argument(
        "--max-orphan-share",
        type=float,
        default=DEFAULT_MAX_ORPHAN_SHARE,
        help="above this share of orphans nothing is removed without --force (default 0.1)",
    )
    parser.add_argument(
        "--min-orphan-age-h",
        type=float,
        default=DEFAULT_MIN_ORPHAN_AGE.total_seconds() / 3600,
        help="an orphan written less than this long ago is left for a later run (default 1)",
    )
    parser.add_argument(
        "--stale-after-min",
        type=float,
        default=10.0,
        help="a pending claim no attempt touched for this long is reported (default 10)",
    )
    parser.set_defaults(func=run)
