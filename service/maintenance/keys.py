"""Key rotation: a new key-encryption key, every data key re-wrapped, unused versions retired.

Rotation adds a KEK version to the key ring and makes it current; re-wrapping then moves
every item's wrapped data key in the catalog to it, in batches, without reading or writing a
single object. A running `keepline serve` reloads the key ring file and wraps new items with
the new version at once. Items that a running worker wrapped with the old version while the
re-wrap was under way are caught by further passes, until a pass finds none.

Every rotation is audited (`key.rotated`) and so is every re-wrap (`key.rewrapped`), each
with the current key's id and how many data keys were re-wrapped: never key material.

Retiring removes a version that wraps nothing any more from the key ring file, so a copy of
an old catalog (a backup, a disk) holds no data key that the current ring can unwrap. It is
refused while any catalog row is wrapped by that version (or does not say by which), and
while uploads are under way (a pending claim attempted recently may be sealing with it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.models import RewrappedKey, WrappedKey
from storage.ports import AuditLog, Catalog, KeyRing

#: Who the audit trail names for rotations, re-wraps and retirements.
ACTOR = "keepline-keys"
#: Passes over the catalog a re-wrap makes at most (each catches keys wrapped meanwhile).
MAX_PASSES = 5

#: Told (done, total) after each batch a re-wrap stores.
RewrapProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RewrapReport:
    """What a re-wrap did."""

    key_id: str
    rewrapped: int
    left: int
    passes: int


@dataclass(frozen=True, slots=True)
class RetireReport:
    """What a retirement did: the versions retired, and why each other one was kept."""

    retired: tuple[str, ...]
    kept: dict[str, str]


async def rewrap_all(
    catalog: Catalog,
    keyring: KeyRing,
    *,
    batch_size: int = 500,
    progress: RewrapProgress | None = None,
    audit: AuditLog | None = None,
    at: datetime | None = None,
) -> RewrapReport:
    """Re-wrap every data key not under the current KEK with it, batch by batch.

    Args:
        catalog: The catalog holding the wrapped keys.
        keyring: The key ring; its current version is the target.
        batch_size: Rows per read and per write transaction.
        progress: Called with (done, total) after each batch.
        audit: Where the re-wrap is recorded (`key.rewrapped`), dated ``at``.
        at: When the re-wrap happens (default now).

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
    report = RewrapReport(key_id=target, rewrapped=done, left=left, passes=passes)
    if audit is not None:
        await audit.append(
            actor=ACTOR,
            action="key.rewrapped",
            at=at or datetime.now(UTC),
            details={"key_id": target, "rewrapped": done, "left": left},
        )
    return report


async def rotate_and_rewrap(
    catalog: Catalog,
    keyring: KeyRing,
    audit: AuditLog,
    *,
    rotate: bool,
    batch_size: int = 500,
    progress: RewrapProgress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RewrapReport:
    """Optionally add a KEK version, then re-wrap every data key with the current one.

    A rotation is audited once the re-wrap is done (`key.rotated`: the new key id, the key
    it replaced, how many data keys were re-wrapped and how many are left; ``left`` is None
    when the re-wrap failed, which `keepline keys rewrap` resumes); a re-wrap alone is
    audited as `key.rewrapped`.
    """
    if not rotate:
        return await rewrap_all(
            catalog, keyring, batch_size=batch_size, progress=progress, audit=audit, at=clock()
        )
    previous = keyring.current_key_id()
    new = await asyncio.to_thread(keyring.rotate)
    moved = 0

    def track(done: int, total: int) -> None:
        nonlocal moved
        moved = done
        if progress is not None:
            progress(done, total)

    async def rotated(rewrapped: int, left: int | None) -> None:
        details = {"key_id": new, "previous_key_id": previous, "rewrapped": rewrapped}
        await audit.append(
            actor=ACTOR, action="key.rotated", at=clock(), details={**details, "left": left}
        )

    try:
        report = await rewrap_all(catalog, keyring, batch_size=batch_size, progress=track)
    except Exception:
        await rotated(moved, None)  # the new key is current: say so, and what moved
        raise
    await rotated(report.rewrapped, report.left)
    return report


async def retire_unused(
    catalog: Catalog,
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
                    actor=ACTOR,
                    action="key.retired",
                    at=at or datetime.now(UTC),
                    details={"key_id": key_id, "current": current},
                )
    return RetireReport(retired=tuple(retired), kept=kept)
