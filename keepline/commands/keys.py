"""`keepline keys rotate|rewrap|retire`: a new key-encryption key, every data key re-wrapped.

The rules are the maintenance use case's (`service.maintenance.keys`): rotation makes a new
KEK version current and re-wraps every data key with it (audited as `key.rotated`), a re-wrap
resumes one (`key.rewrapped`), and retiring removes versions that wrap nothing any more
(`key.retired`). This command parses, calls and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from storage.errors import StorageError

if TYPE_CHECKING:
    from service.maintenance.keys import RetireReport, RewrapProgress, RewrapReport
    from storage.settings import StorageSettings

__all__ = ["add_parser", "retire_configured", "rotate_and_rewrap"]


async def rotate_and_rewrap(
    settings: StorageSettings,
    *,
    rotate: bool,
    batch_size: int,
    progress: RewrapProgress | None = None,
) -> RewrapReport:
    """Optionally add a KEK version, then re-wrap every data key with the current one."""
    from service.maintenance.keys import rotate_and_rewrap as rotate_and_rewrap_with
    from storage.runtime import build_storage

    runtime = build_storage(settings)
    try:
        await runtime.db.create_schema()
        return await rotate_and_rewrap_with(
            runtime.catalog,
            runtime.keyring,
            runtime.audit,
            rotate=rotate,
            batch_size=batch_size,
            progress=progress,
        )
    finally:
        await runtime.close()


async def retire_configured(
    settings: StorageSettings, *, key_ids: Sequence[str], in_flight: timedelta
) -> RetireReport:
    """Retire unused KEK versions of the configured key ring."""
    from service.maintenance.keys import retire_unused
    from storage.runtime import build_storage

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
    from storage.settings import StorageSettings

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
    from storage.settings import StorageSettings

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
    from storage.crypto.signing import FileSigner
    from storage.settings import StorageSettings

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
