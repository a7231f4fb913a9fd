"""`keepline policy apply FILE [--dry-run]`: what a new policy version changes for stored items.

The plan is `policies.plan_policy_change` over every stored item, with each item's standing
consents, objections and the purposes subject requests removed. Applying it activates the
version (audited as ``policy.changed``), then rewrites each changed item's purposes with
the version that decided them, and brings its object's lock state and tags in line. It
holds the sweeper lease meanwhile, so no sweep judges an item halfway through; an
interrupted run is finished by running it again (changed items plan no further change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from keepline.commands import add_lease_options
from keepline.commands.sweep import LEASE_TTL_S, now, opened_storage, progress_bar
from policies.errors import PolicyFileUnreadableError, PolicyValidationError
from policies.models import Policy
from policies.outcomes import PolicyChange
from policies.policy_file import load_policy
from policies.retention import plan_policy_change
from service.facts import item_facts
from service.retention.service import SWEEP_LEASE, default_holder, purpose_rows, purpose_tags
from storage.models import ItemQuery
from storage.runtime import StorageRuntime
from storage.sql_leases import LeaseUnavailableError, Renew, SqlLeases
from storage.sql_subjects import SqlSubjectStore

ACTOR = "keepline-cli"
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


def change_json(change: PolicyChange) -> dict[str, Any]:
    """One item's change as JSON values."""
    return {
        "item_id": change.item_id,
        "added": [{"name": s.name, "expires_at": s.expires_at.isoformat()} for s in change.added],
        "removed": [s.name for s in change.removed],
        "moved": [
            {
                "name": m.name,
                "from": m.old_expires_at.isoformat(),
                "to": m.new_expires_at.isoformat(),
            }
            for m in change.moved
        ],
        "restated": list(change.restated),
    }


def change_line(change: PolicyChange) -> str:
    """One item's change as a line of text: +added -removed ~moved."""
    parts = [f"+{s.name}(until {s.expires_at.isoformat()})" for s in change.added]
    parts += [f"-{s.name}" for s in change.removed]
    parts += [
        f"~{m.name}({m.old_expires_at.isoformat()} -> {m.new_expires_at.isoformat()})"
        for m in change.moved
    ]
    parts += [f"*{name}(basis or worm restated)" for name in change.restated]
    return f"{change.item_id} {' '.join(parts)}"


async def apply_policy(
    runtime: StorageRuntime,
    new: Policy,
    *,
    dry_run: bool,
    clock: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
    keep_going: Renew | None = None,
) -> ApplyReport:
    """Plan, and unless dry_run apply, a policy version to every stored item."""
    old = await runtime.policies.active(refresh=True)
    report = ApplyReport(version=new.version, previous_version=old.version, dry_run=dry_run)
    at = clock()
    if not dry_run:
        report.activated = await runtime.policies.activate(new, by=ACTOR, at=at)
        if report.activated:
            await runtime.audit.append(
                actor=ACTOR,
                action="policy.changed",
                at=at,
                details={"version": new.version, "previous_version": old.version, "via": "cli"},
            )
    subjects = SqlSubjectStore(runtime.db)
    cursor: tuple[datetime, str] | None = None
    while True:
        page = await runtime.catalog.list(ItemQuery(limit=_PAGE, cursor=cursor))
        removed = await subjects.removed_purposes(r.item_id for r in page.items)
        people = {s for r in page.items for s in r.subject_ids}
        consents = await runtime.catalog.standing_consents(people)
        objections = await subjects.objections(people)
        facts = [item_facts(r, removed.get(r.item_id, frozenset())) for r in page.items]
        changes = list(plan_policy_change(facts, old, new, consents, at, objections_for=objections))
        report.examined += len(page.items)
        report.changes.extend(changes)
        if not dry_run:
            for change in changes:
                await _apply_one(runtime, change, new.version, at)
        if progress is not None:
            progress(report.examined, report.examined + (_PAGE if page.next_cursor else 0))
        if page.next_cursor is None:
            break
        if keep_going is not None and not await keep_going():
            raise LeaseUnavailableError(SWEEP_LEASE, None, None)
        cursor = page.next_cursor
    if not dry_run:
        await runtime.audit.append(
            actor=ACTOR, action="policy.applied", at=at, details=report.summary()
        )
    return report


async def _apply_one(
    runtime: StorageRuntime, change: PolicyChange, version: str, at: datetime
) -> None:
    await runtime.catalog.set_purposes(
        change.item_id, purpose_rows(change.purposes), policy_version=version
    )
    record = await runtime.catalog.get(change.item_id)
    if record is None:
        return
    await runtime.lock_sync.sync(record, at)
    if record.stored is not None:
        tags = purpose_tags(record.type, [p.name for p in record.purposes])
        await asyncio.to_thread(
            runtime.store.set_tags, record.stored.object_key, record.stored.version_id, tags
        )


async def _run(path: Path, *, dry_run: bool, wait_s: float, progress: Any) -> ApplyReport:
    new = load_policy(path)
    async with opened_storage(write=not dry_run) as runtime:
        if dry_run:
            return await apply_policy(runtime, new, dry_run=True, clock=now, progress=progress)
        leases = SqlLeases(runtime.db)
        async with leases.holding(
            SWEEP_LEASE, default_holder(), ttl_s=LEASE_TTL_S, clock=now, wait_s=wait_s
        ) as renew:
            return await apply_policy(
                runtime, new, dry_run=False, clock=now, progress=progress, keep_going=renew
            )


def print_report(report: ApplyReport, *, as_json: bool, out: TextIO) -> None:
    """Each changed item, then the summary."""
    for change in report.changes:
        out.write((json.dumps(change_json(change)) if as_json else change_line(change)) + "\n")
    summary = report.summary()
    if as_json:
        out.write(json.dumps({"summary": summary}) + "\n")
        return
    verb = "would change" if report.dry_run else "changed"
    out.write(
        f"policy {report.previous_version} -> {report.version}: {verb} "
        f"{summary['items_changed']} of {summary['items_examined']} stored items "
        f"(+{summary['purposes_added']} -{summary['purposes_removed']} "
        f"~{summary['expiries_moved']})\n"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline policy apply`."""
    bar = progress_bar("planning" if args.dry_run else "applying", args.progress, sys.stderr)
    try:
        report = asyncio.run(
            _run(Path(args.file), dry_run=args.dry_run, wait_s=args.wait_s, progress=bar)
        )
    except (PolicyValidationError, PolicyFileUnreadableError) as err:
        sys.stderr.write(f"keepline policy apply: {err}\n")
        return 2
    except LeaseUnavailableError as err:
        sys.stderr.write(f"keepline policy apply: {err}; try again later or raise --wait-s\n")
        return 3
    finally:
        if bar is not None:
            bar.close()
    print_report(report, as_json=args.json, out=sys.stdout)
    return 0


def add_parser(sub: Any) -> None:
    """Register `keepline policy apply` on the subcommand parsers."""
    parser = sub.add_parser("policy", help="policy versions")
    actions = parser.add_subparsers(dest="policy_command", required=True)
    apply = actions.add_parser(
        "apply", help="activate a policy file and re-decide stored items' purposes"
    )
    apply.add_argument("file", help="the policy YAML (SPEC section 4)")
    apply.add_argument("--dry-run", action="store_true", help="only report what would change")
    add_lease_options(apply)
    apply.set_defaults(func=run)
