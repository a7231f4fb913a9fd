"""`keepline sweep [--dry-run]`: one retention pass now, or the list of what it would do."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from keepline.commands import add_lease_options, lease_wait_s
from storage.errors import LeaseUnavailableError

if TYPE_CHECKING:
    from keepline.root import Keepline
    from policies.explanation import Explanation
    from service.retention.service import SweepEntry, SweepReport

#: Below this many items a progress bar is not worth drawing.
PROGRESS_FROM_ITEMS = 200
LEASE_TTL_S = 30.0


def now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn in place."""

    def __init__(
        self, label: str, stream: TextIO, *, width: int = 30, min_total: int = PROGRESS_FROM_ITEMS
    ) -> None:
        self._label = label
        self._stream = stream
        self._width = width
        self._min_total = min_total
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Redraw for done of total items."""
        if total < self._min_total and not self._drawn:
            return
        filled = self._width * done // max(total, 1)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r{self._label} [{bar}] {done}/{total}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def progress_bar(label: str, flag: bool | None, stream: TextIO) -> ProgressBar | None:
    """The bar --progress asks for; by default one on a terminal, for large runs only."""
    if flag is None:
        return ProgressBar(label, stream) if stream.isatty() else None
    return ProgressBar(label, stream, min_total=0) if flag else None


@asynccontextmanager
async def opened(*, write: bool) -> AsyncIterator[Keepline]:
    """Keepline's services with the schema upgraded and the configured policy active.

    Args:
        write: Whether the command will change things (then the bucket is ensured too).
    """
    from keepline.root import build, configured_policy
    from storage.settings import StorageSettings

    root = build(StorageSettings(), clock=now)
    try:
        policy = configured_policy()
        if write:
            await root.prepare(policy)
        else:
            await root.storage.db.create_schema()
            await root.activate_configured(policy)
        yield root
    finally:
        await root.close()


def explanation_lines(explanation: Explanation) -> list[str]:
    """Why an item goes, as indented lines under its entry: purposes, holds, dates."""
    purposes = [
        f"{p.name} ({p.basis.value if p.basis else 'no basis'}) {p.state.value} "
        + (
            p.removed_at.isoformat()
            if p.removed_at is not None
            else (p.expires_at.isoformat() if p.expires_at else "")
        )
        for p in explanation.purposes
    ]
    holds = [f"{h.hold_id} ({h.matter})" for h in explanation.holds]
    due = explanation.destroy_after
    lines = [
        f"    purposes: {'; '.join(purposes) if purposes else 'none'}",
        f"    holds: {', '.join(holds) if holds else 'none'}",
        f"    erasure pending: {'yes' if explanation.erasure_pending else 'no'}",
        f"    destroy after: {due.isoformat() if due else 'not while held or in review'}",
    ]
    if explanation.review is not None:
        lines.append(f"    review: {explanation.review.state}")
    if explanation.worm_until is not None:
        lines.append(f"    worm until: {explanation.worm_until.isoformat()}")
    return lines


def _entry_line(entry: SweepEntry) -> str:
    if entry.action.value == "destroy":
        line = f"destroy {entry.item_id} {entry.type} reason={entry.reason}"
        if entry.explanation is not None:
            line = "\n".join([line, *explanation_lines(entry.explanation)])
        return line
    if entry.action.value == "review":
        return f"review  {entry.item_id} {entry.type} reason={entry.reason}"
    holds = f" holds={','.join(entry.holds)}" if entry.holds else ""
    return f"drop    {entry.item_id} {entry.type} expired={','.join(entry.expired_purposes)}{holds}"


def _entry_json(entry: SweepEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": entry.item_id,
        "type": entry.type,
        "action": entry.action.value,
        "reason": entry.reason,
        "expired_purposes": list(entry.expired_purposes),
        "holds": list(entry.holds),
    }
    if entry.explanation is not None:
        from api.presenters import retention_json

        body["explanation"] = retention_json(entry.explanation)
    return body


def print_report(report: SweepReport, *, as_json: bool, out: TextIO) -> None:
    """Every planned entry (dry run), then the summary."""
    for entry in report.entries:
        out.write((json.dumps(_entry_json(entry)) if as_json else _entry_line(entry)) + "\n")
    summary = report.to_json()
    if as_json:
        out.write(json.dumps({"summary": summary}) + "\n")
    else:
        verb = "would destroy" if report.dry_run else "destroyed"
        out.write(
            f"{verb} {report.destroyed} items; expired purposes dropped from "
            f"{report.purposes_dropped}; {report.kept} kept; {report.failed} failed; "
            f"{report.reviews_opened} sent to disposition review\n"
        )


async def sweep_once(
    *, dry_run: bool, wait_s: float, progress: Callable[[int, int], None] | None
) -> SweepReport:
    """One pass; a real one holds the sweeper lease, waiting up to wait_s for it.

    Raises:
        LeaseUnavailableError: Another process kept the lease for wait_s.
    """
    from service.retention.service import SWEEP_LEASE, default_holder

    async with opened(write=not dry_run) as root:
        sweeper = root.sweeper(actor="keepline-cli")
        if dry_run:
            return await sweeper.sweep(dry_run=True, progress=progress)
        async with root.leases.holding(
            SWEEP_LEASE, default_holder(), ttl_s=LEASE_TTL_S, clock=now, wait_s=wait_s
        ) as renew:
            return await sweeper.sweep(progress=progress, keep_going=renew)


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline sweep`."""
    bar = progress_bar("sweeping", args.progress, sys.stderr)
    try:
        report = asyncio.run(
            sweep_once(dry_run=args.dry_run, wait_s=lease_wait_s(args), progress=bar)
        )
    except LeaseUnavailableError as err:
        sys.stderr.write(f"keepline sweep: {err}; try again later or raise --wait-s\n")
        return 3
    finally:
        if bar is not None:
            bar.close()
    print_report(report, as_json=args.json, out=sys.stdout)
    return 1 if report.failed else 0


def add_parser(sub: Any) -> None:
    """Register `keepline sweep` on the subcommand parsers."""
    parser = sub.add_parser(
        "sweep", help="run one retention sweep now (--dry-run: list what it would do)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="change nothing; list items that would go"
    )
    add_lease_options(parser)
    parser.set_defaults(func=run)
