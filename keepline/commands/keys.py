"""`keepline keys rotate|rewrap`: a new key-encryption key, and every data key re-wrapped.

Rotation adds a KEK version to the key ring and makes it current; re-wrapping then moves
every item's wrapped data key in the catalog to it, in batches, without reading or writing a
single object. A running `keepline serve` reloads the key ring file and wraps new items with
the new version at once. Items that a running worker wrapped with the old version while the
re-wrap was under way are caught by further passes, until a pass finds none.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from storage.crypto.signing import FileSigner
from storage.errors import StorageError
from storage.models import WrappedKey
from storage.ports import KeyRing
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
