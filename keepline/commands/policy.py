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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from keepline.commands import add_lease_options, lease_wait_s, policy_api
from keepline.commands.sweep import LEASE_TTL_S, now, opened, progress_bar
from policies.errors import PolicyFileUnreadableError, PolicyValidationError
from storage.errors import LeaseUnavailableError

if TYPE_CHECKING:
    from policies.outcomes import PolicyChange
    from service.policy.service import ApplyReport

ACTOR = "keepline-cli"


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


async def _run(path: Path, *, dry_run: bool, wait_s: float, progress: Any) -> ApplyReport:
    from policies.policy_file import load_policy
    from service.retention.service import SWEEP_LEASE, default_holder

    new = load_policy(path)
    async with opened(write=not dry_run) as root:
        if dry_run:
            return await root.policy.apply(
                new, dry_run=True, actor=ACTOR, via="cli", progress=progress
            )
        async with root.leases.holding(
            SWEEP_LEASE, default_holder(), ttl_s=LEASE_TTL_S, clock=now, wait_s=wait_s
        ) as renew:
            return await root.policy.apply(
                new, dry_run=False, actor=ACTOR, via="cli", progress=progress, keep_going=renew
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
            _run(Path(args.file), dry_run=args.dry_run, wait_s=lease_wait_s(args), progress=bar)
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
    # show, diff and apply --api: the same commands over the HTTP API
    policy_api.extend(actions, apply, run)
