"""`keepline keys rotate|rewrap|retire`: a new key-encryption key, every data key re-wrapped.

Rotation adds a KEK version to the key ring and makes it current; re-wrapping then moves
every item's wrapped data key in the catalog to it, in batches, without reading or writing a
single object. A running `keepline serve` reloads the key ring file and wraps new items with
the new version at once. Items that a running worker wrapped with the old version while the
re-wrap was under way are caught by further passes, until a pass finds none.

Retiring removes a version that wraps nothing any more from the key ring file, so a copy of
an old catalog (a backup, a disk) holds no data key that the current ring can unwrap. It is
refused while any catalog row is wrapped by that version (or does not say by which), and
while uploads are under way (a pending claim attempted recently may be sealing with it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from storage.crypto.signing import FileSigner
from storage.errors import StorageError
from storage.models import WrappedKey
from storage.ports import AuditLog, KeyRing
from storage.runtime import build_storage
from storage.settings import StorageSettings
from storage.sql.catalog import SqlCatalog
from storage.sql.catalog_scans import RewrappedKey

MAX_PASSES = 5


@dataclass(frozen=True, slots=True)
class RewrapReport:
    """What a re-wrap did."""

    key_id: str
    rewrapped: int
    left: int
    passes: int


async def rewrap_all(
    catalog: SqlCatalog,
    keyring: KeyRing,
    *,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> RewrapReport:
    """Re-wrap every data key not under the current KEK with it, batch by batch.

    Args:
        catalog: The catalog holding the wrapped keys.
        keyring: The key ring; its current version is the target.
        batch_size: Rows per read and per write transaction.
        progress: Called with (done, total) after each batch.

    Returns:
        How many keys moved and how many are left under older versions (0 unless a worker
        kept wrapping with an older version during every pass).

    Raises:
        KeyNotFoundError: A row's KEK version is no longer in the key ring.
        UnwrapError: A row's wrapped key fails authentication (altered or misplaced).
    """
    target = keyring.current_key_id()
    total = await catalog.count_wrapped_keys(not_key_id=target)
    done = 0
    passes = 0
    while passes < MAX_PASSES:
        passes += 1
        moved_this_pass = 0
        after = ""
        while rows := await catalog.wrapped_keys(
            not_key_id=target, after_item_id=after, limit=batch_size
        ):
            updates = []
            for row in rows:
                new = keyring.rewrap(WrappedKey.from_str(row.wrapped_key), item_id=row.item_id)
                updates.append(RewrappedKey(row.item_id, row.wrapped_key, new.key_id, new.to_str()))
            moved = await catalog.replace_wrapped_keys(updates)
            done += moved
            moved_this_pass += moved
            after = rows[-1].item_id
            if progress is not None:
                progress(done, max(total, done))
        if moved_this_pass == 0:
            break
    left = await catalog.count_wrapped_keys(not_key_id=target)
    return RewrapReport(key_id=target, rewrapped=done, left=left, passes=passes)


async def rotate_and_rewrap(
    settings: StorageSettings,
    *,
    rotate: bool,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> RewrapReport:
    """Optionally add a KEK version, then re-wrap every data key with the current one."""
    runtime = build_storage(settings)
    try:
        await runtime.db.create_schema()
        keyring = runtime.keyring
        if rotate:
            await asyncio.to_thread(keyring.rotate)
        return await rewrap_all(runtime.catalog, keyring, batch_size=batch_size, progress=progress)
    finally:
        await runtime.close()


@dataclass(frozen=True, slots=True)
class RetireReport:
    """What a retirement did: the versions retired, and why each other one was kept."""

    retired: tuple[str, ...]
    kept: dict[str, str]


async def retire_unused(
    catalog: SqlCatalog,
    keyring: KeyRing,
    *,
    key_ids: Sequence[str],
    in_flight_after: datetime,
    audit: AuditLog | None = None,
    at: datetime | None = None,
) -> RetireReport:
    """Retire each named KEK version (all but the current when none is named) that wraps nothing.

    Args:
        catalog: The catalog holding the wrapped keys.
        keyring: The key ring to retire versions from.
        key_ids: The versions to retire; empty: every version but the current one.
        in_flight_after: A pending claim attempted after this may be sealing under an old
            version: nothing is retired while there is one.
        audit: Where each retirement is recorded (`key.retired`), dated ``at``.
        at: When the retirement happens (default now).
    """
    current = keyring.current_key_id()
    wanted = list(key_ids) or [k for k in keyring.key_ids() if k != current]
    in_flight = (await catalog.pending_claims()) - (
        await catalog.stale_claims(attempted_before=in_flight_after, limit=1)
    )[0]
    counts = await catalog.wrapped_key_counts()
    retired: list[str] = []
    kept: dict[str, str] = {}
    for key_id in wanted:
        if key_id == current:
            kept[key_id] = "it is the current key: rotate first"
        elif key_id not in keyring.key_ids():
            kept[key_id] = "it is not in the key ring"
        elif counts.get(key_id, 0) or counts.get(None, 0):
            wraps = counts.get(key_id, 0) + counts.get(None, 0)
            kept[key_id] = f"{wraps} data keys may still be wrapped by it: run keepline keys rewrap"
        elif in_flight:
            kept[key_id] = f"{in_flight} uploads are under way: try again when they are stored"
        else:
            await asyncio.to_thread(keyring.retire, key_id)
            retired.append(key_id)
            if audit is not None:
                await audit.append(
                    actor="keepline-keys",
                    action="key.retired",
                    at=at or datetime.now(UTC),
                    details={"key_id": key_id, "current": current},
                )
    return RetireReport(retired=tuple(retired), kept=kept)


async def retire_configured(
    settings: StorageSettings, *, key_ids: Sequence[str], in_flight: timedelta
) -> RetireReport:
    """Retire unused KEK versions of the configured key ring."""
    runtime = build_storage(settings)
    try:
        await runtime.db.create_schema()
        return await retire_unused(
            runtime.catalog,
            runtime.keyring,
            key_ids=key_ids,
            in_flight_after=datetime.now(UTC) - in_flight,
            audit=runtime.audit,
        )
    finally:
        await runtime.close()


def run_retire(args: argparse.Namespace) -> int:
    """Entry point of `keepline keys retire [KEY_ID ...]`: 0 when every named one went."""
    try:
        report = asyncio.run(
            retire_configured(
                StorageSettings(),
                key_ids=args.key_ids,
                in_flight=timedelta(minutes=args.in_flight_min),
            )
        )
    except StorageError as err:
        sys.stderr.write(f"keepline keys retire: {err}\n")
        return 2
    for key_id in report.retired:
        sys.stdout.write(f"retired key {key_id}\n")
    for key_id, why in report.kept.items():
        sys.stdout.write(f"kept key {key_id}: {why}\n")
    return 1 if report.kept and args.key_ids else 0


class _Progress:
    """`re-wrapped n/total` on one line, redrawn in place."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        self._stream.write(f"\rre-wrapped {done}/{total}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline keys rotate` and `keepline keys rewrap`."""
    progress = _Progress(sys.stderr)
    try:
        report = asyncio.run(
            rotate_and_rewrap(
                StorageSettings(),
                rotate=args.keys_action == "rotate",
                batch_size=args.batch_size,
                progress=progress,
            )
        )
    except StorageError as err:
        progress.close()
        sys.stderr.write(f"keepline keys {args.keys_action}: {err}\n")
        return 2
    progress.close()
    sys.stdout.write(
        f"current key {report.key_id}; {report.rewrapped} data keys re-wrapped; "
        f"{report.left} still under older keys\n"
    )
    return 0 if report.left == 0 else 1


def add_parser(sub: Any) -> None:
    """Register `keepline keys` on the subcommand parsers."""
    parser = sub.add_parser("keys", help="key-encryption keys: rotate, re-wrap data keys")
    actions = parser.add_subparsers(dest="keys_action", required=True)
    for name, text in (
        ("rotate", "add a new key version, make it current, re-wrap every data key with it"),
        ("rewrap", "re-wrap data keys still under older versions (resumes a rotation)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--batch-size", type=int, default=500, help="catalog rows per transaction"
        )
        action.set_defaults(func=run)
    retire = actions.add_parser(
        "retire",
        help="remove key versions that wrap no data key any more (default: every old one)",
    )
    retire.add_argument("key_ids", nargs="*", metavar="KEY_ID", help="versions to retire")
    retire.add_argument(
        "--in-flight-min",
        type=float,
        default=60.0,
        help="a pending claim attempted this recently may be sealing: wait (default 60)",
    )
    retire.set_defaults(func=run_retire)
    signing = actions.add_parser(
        "rotate-signing",
        help="add a new signing key and sign with it from now on (earlier ones still verify)",
    )
    signing.set_defaults(func=run_rotate_signing)


def run_rotate_signing(_args: argparse.Namespace) -> int:
    """Entry point of `keepline keys rotate-signing`."""
    signer = FileSigner(StorageSettings().resolved_signing_key_file())
    try:
        kid = signer.rotate()
    except StorageError as err:
        sys.stderr.write(f"keepline keys rotate-signing: {err}\n")
        return 2
    sys.stdout.write(
        f"signing with key {kid} from now on; {len(signer.public_keys()['keys'])} keys in "
        f"{signer.path}; publish the new set (GET /v1/signing-keys) to whoever verifies\n"
    )
    return 0
