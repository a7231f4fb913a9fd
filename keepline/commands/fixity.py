"""`keepline fixity`: one integrity pass now (or the rest of an interrupted one).

Every stored object is read back and authenticated segment by segment against the catalog
(size, sha256, key), the bucket is listed for versions no catalog row owns, and its
versioning and Object Lock configuration are checked. The pass runs under the fixity lease,
so it never runs beside the background pass of `keepline serve`; it is throttled to
KEEPLINE_FIXITY_MAX_BYTES_S. Exit 0 when everything is as it should be, 1 naming what is not,
3 when another process holds the lease.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from keepline.commands.sweep import opened
from storage.errors import LeaseUnavailableError

if TYPE_CHECKING:
    from storage.ports import FixityPass

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_LEASE = 3


def now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


async def fixity_once(*, wait_s: float, max_bytes_s: int | None) -> FixityPass:
    """Run (or resume) a pass under the fixity lease, waiting up to wait_s for it.

    Raises:
        LeaseUnavailableError: Another process kept the lease for wait_s.
    """
    from service.fixity.models import FIXITY_LEASE, RunFixity
    from service.fixity.settings import FixitySettings
    from service.retention.service import default_holder

    settings = FixitySettings()
    if max_bytes_s is not None:
        settings = settings.model_copy(update={"fixity_max_bytes_s": max_bytes_s})
    async with opened(write=False) as root:
        service = root.fixity(settings)
        async with root.leases.holding(
            FIXITY_LEASE,
            default_holder(),
            ttl_s=settings.fixity_lease_ttl_s,
            clock=now,
            wait_s=wait_s,
        ) as renew:
            done = await service.run(RunFixity(actor="keepline-cli"), keep_going=renew)
    assert done is not None  # not_within_s unset: a pass always runs
    return done


def print_result(state: FixityPass, *, as_json: bool, out: TextIO) -> None:
    """Each problem, then the summary."""
    bucket: dict[str, Any] = state.bucket or {}
    if as_json:
        out.write(json.dumps({**_summary(state), "problems": list(state.problems)}) + "\n")
        return
    for problem in state.problems:
        item = f" item {problem['item_id']}" if problem.get("item_id") else ""
        out.write(f"{problem['kind']:<10} {problem['object_key']}{item}: {problem['detail']}\n")
    out.write(
        f"checked {state.objects_checked} objects ({state.bytes_checked} bytes): "
        f"{state.mismatched} mismatched, {state.missing} missing, {state.orphaned} orphaned; "
        f"bucket versioning {bucket.get('versioning')} "
        f"({'ok' if bucket.get('versioning_ok') else 'NOT as required: must be Enabled'}), "
        f"object lock {'on' if bucket.get('object_lock') else 'off'} "
        f"({'ok' if bucket.get('object_lock_ok') else 'NOT as required by a worm purpose'})\n"
    )


def _summary(state: FixityPass) -> dict[str, Any]:
    from service.fixity.models import pass_ok

    return {
        "pass_id": state.pass_id,
        "finished": state.finished_at is not None,
        "objects_checked": state.objects_checked,
        "bytes_checked": state.bytes_checked,
        "mismatched": state.mismatched,
        "missing": state.missing,
        "orphaned": state.orphaned,
        "bucket": state.bucket,
        "ok": pass_ok(state),
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline fixity`."""
    try:
        state = asyncio.run(fixity_once(wait_s=args.wait_s, max_bytes_s=args.max_bytes_s))
    except LeaseUnavailableError as err:
        sys.stderr.write(f"keepline fixity: {err}; a pass is running, try again later\n")
        return EXIT_LEASE
    print_result(state, as_json=args.json, out=sys.stdout)
    if state.finished_at is None:
        sys.stderr.write("keepline fixity: the pass lost its lease; it resumes on the next run\n")
        return EXIT_PROBLEMS
    from service.fixity.models import pass_ok

    return EXIT_OK if pass_ok(state) else EXIT_PROBLEMS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline fixity`."""
    parser = sub.add_parser(
        "fixity",
        help="check every object and the bucket against the catalog now",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument(
        "--wait-s", type=float, default=0.0, help="how long to wait for a running pass (seconds)"
    )
    parser.add_argument(
        "--max-bytes-s",
        type=int,
        default=None,
        help="read at most this many bytes per second (default KEEPLINE_FIXITY_MAX_BYTES_S)",
    )
    parser.set_defaults(func=run)
