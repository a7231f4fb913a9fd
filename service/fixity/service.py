"""Integrity passes: every stored object read back and authenticated, and the bucket checked.

A pass has two phases. ``objects``: every stored item's committed object version is read
back and decrypted segment by segment (each segment's AES-GCM tag authenticates it), and the
plaintext's size and sha256 are compared with the catalog's; the object key must be the
item's. An object that is gone is *missing*; one that fails any check is *mismatched*.
``orphans``: the bucket is listed, and every version no stored or pending item owns is
*orphaned*. Last, the bucket's versioning and Object Lock configuration are checked against
what keepline and the policy need (a bucket that lost its lock configuration after a restart
is a known MinIO failure).

A pass is resumable: its state is saved every few seconds (phase, the last item id or object
key done, the counts), so one interrupted by a crash or a lost lease carries on after its
cursor. It is throttled: reads are paced to ``max_bytes_s`` and done one object at a time, so
it never starves ingest. The result is audited (``fixity.completed``) and recorded for
``GET /v1/fixity/latest``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from service.fixity.models import (
    FIXITY_LEASE,
    MAX_PROBLEMS,
    BucketVerdict,
    Finding,
    Problem,
    RunFixity,
)
from service.fixity.pacing import KeyBatches, Sleep, Throttle
from storage.errors import (
    IntegrityError,
    KeyNotFoundError,
    LeaseUnavailableError,
    ObjectNotFoundError,
    StorageError,
)
from storage.models import OBJECT_PREFIX, ItemRecord, ItemStatus, Renew, object_key_for
from storage.ports import (
    AuditLog,
    Catalog,
    FixityLog,
    FixityPass,
    Leases,
    ObjectStore,
    PolicyStore,
    Vault,
)

log = logging.getLogger(__name__)

OnResult = Callable[[FixityPass], None]
_SAVE_EVERY_S: Final = 5.0
_PAGE: Final = 200
_LIST_BATCH: Final = 500


class FixityService:
    """Runs integrity passes and reports the latest; see the module docstring."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: ObjectStore,
        vault: Vault,
        policies: PolicyStore,
        passes: FixityLog,
        audit: AuditLog,
        clock: Callable[[], datetime],
        max_bytes_s: int = 32 << 20,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._vault = vault
        self._policies = policies
        self._passes = passes
        self._audit = audit
        self._clock = clock
        self._max_bytes_s = max_bytes_s
        self._sleep = sleep

    async def latest(self) -> FixityPass | None:
        """The newest finished pass, if any."""
        return await self._passes.latest()

    async def due(self, interval_s: float) -> bool:
        """Whether a pass should run now: one is unfinished, or none finished within interval."""
        if await self._passes.unfinished() is not None:
            return True
        latest = await self._passes.latest()
        return latest is None or _recent(latest, self._clock(), interval_s) is False

    async def run(
        self, request: RunFixity, *, keep_going: Renew | None = None
    ) -> FixityPass | None:
        """Run a pass, or resume the one interrupted; None if one finished too recently.

        Args:
            request: Who runs it, and whether a recent pass makes a new one unnecessary.
            keep_going: Called every few seconds (e.g. to renew a lease); False stops the
                pass, saved to be resumed.

        Returns:
            The pass as it stands: finished, or (stopped by ``keep_going``) to be resumed.

        Raises:
            StorageError: The object store or the catalog failed in a way waiting may mend
                (``retriable``); the pass is saved up to its last checkpoint.
        """
        state = await self._passes.unfinished()
        if state is None:
            latest = await self._passes.latest()
            within_s = request.not_within_s
            if (
                within_s is not None
                and latest is not None
                and _recent(latest, self._clock(), within_s)
            ):
                return None
            state = FixityPass(pass_id=str(uuid.uuid4()), started_at=self._clock())
            await self._passes.save(state)
            log.info("fixity pass %s started", state.pass_id)
        else:
            log.info("fixity pass %s resumed after %r", state.pass_id, state.cursor)
        run = _Run(
            catalog=self._catalog,
            store=self._store,
            passes=self._passes,
            check=self.check,
            throttle=Throttle(self._max_bytes_s, sleep=self._sleep),
            state=state,
            keep_going=keep_going,
        )
        if state.phase == "objects" and not await run.objects():
            return run.state
        if state.phase != "done" and not await run.orphans():
            return run.state
        return await self._finish(run.state, request)

    async def _finish(self, state: FixityPass, request: RunFixity) -> FixityPass:
        policy = await self._policies.active()
        required = any(p.worm for p in policy.purposes.values())
        protection = await asyncio.to_thread(self._store.protection)
        verdict = BucketVerdict(protection, required)
        done = replace(
            state, phase="done", cursor="", bucket=verdict.to_json(), finished_at=self._clock()
        )
        await self._passes.save(done)
        await self._audit.append(
            actor=request.actor,
            action="fixity.completed",
            at=done.finished_at or self._clock(),
            details={
                "pass_id": done.pass_id,
                "objects_checked": done.objects_checked,
                "bytes_checked": done.bytes_checked,
                "mismatched": done.mismatched,
                "missing": done.missing,
                "orphaned": done.orphaned,
                "bucket": done.bucket,
                "problems": [
                    {"kind": p["kind"], "item_id": p["item_id"], "object_key": p["object_key"]}
                    for p in done.problems[:50]
                ],
            },
        )
        log.info(
            "fixity pass %s: %d objects checked, %d mismatched, %d missing, %d orphaned, "
            "versioning %s, object lock %s",
            done.pass_id,
            done.objects_checked,
            done.mismatched,
            done.missing,
            done.orphaned,
            protection.versioning,
            "on" if protection.object_lock else "off",
        )
        return done

    async def check(self, record: ItemRecord) -> tuple[int, Problem | None]:
        """Read one item's object back; (plaintext bytes authenticated, what is wrong)."""
        stored = record.stored
        assert stored is not None
        key, version = stored.object_key, stored.version_id

        def mismatched(detail: str) -> Problem:
            return Problem(Finding.MISMATCHED, key, version, record.item_id, detail)

        if key != object_key_for(record.item_id):
            return 0, mismatched("the object key is not the item's")
        digest = hashlib.sha256()
        size = 0
        end = max(stored.content.size_bytes - 1, 0)
        try:
            async for piece in self._vault.open(
                item_id=record.item_id, stored=stored, start=0, end=end
            ):
                digest.update(piece)
                size += len(piece)
        except ObjectNotFoundError:
            return 0, Problem(Finding.MISSING, key, version, record.item_id, "no such version")
        except KeyNotFoundError as err:
            return size, mismatched(f"its key-encryption key {err.key_id} is not in the key ring")
        except IntegrityError as err:
            where = f" at segment {err.segment}" if err.segment is not None else ""
            return size, mismatched(f"failed authentication{where}")
        detail = None
        if size != stored.content.size_bytes:
            detail = f"{size} bytes, the catalog says {stored.content.size_bytes}"
        elif digest.hexdigest() != stored.content.sha256:
            detail = "sha256 differs from the catalog's"
        return size, mismatched(detail) if detail else None


def _recent(latest: FixityPass, now: datetime, within_s: float) -> bool:
    finished = latest.finished_at or latest.started_at
    return now - finished < timedelta(seconds=within_s)


class _Run:
    """One run of a pass: its state, checkpoints and pace."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: ObjectStore,
        passes: FixityLog,
        check: Callable[[ItemRecord], Awaitable[tuple[int, Problem | None]]],
        throttle: Throttle,
        state: FixityPass,
        keep_going: Renew | None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._passes = passes
        self._check = check
        self._throttle = throttle
        self.state = state
        self._keep_going = keep_going
        self._saved_at = time.monotonic()

    def _found(self, problem: Problem) -> None:
        counts = {
            Finding.MISMATCHED: "mismatched",
            Finding.MISSING: "missing",
            Finding.ORPHANED: "orphaned",
        }
        field = counts[problem.finding]
        problems = self.state.problems
        if len(problems) < MAX_PROBLEMS:
            problems = (*problems, problem.to_json())
        self.state = replace(
            self.state, problems=problems, **{field: getattr(self.state, field) + 1}
        )
        log.warning(
            "fixity: %s object %s (item %s): %s",
            problem.finding.value,
            problem.object_key,
            problem.item_id,
            problem.detail,
        )

    async def _checkpoint(self, *, force: bool = False) -> bool:
        """Save the state every few seconds; False when the pass must stop."""
        if not force and time.monotonic() - self._saved_at < _SAVE_EVERY_S:
            return True
        await self._passes.save(self.state)
        self._saved_at = time.monotonic()
        if self._keep_going is not None and not await self._keep_going():
            log.info("fixity pass %s stopped; it resumes later", self.state.pass_id)
            return False
        return True

    async def objects(self) -> bool:
        """Check every stored item's object after the cursor; False if stopped."""
        catalog = self._catalog
        while page := await catalog.stored_objects(after_item_id=self.state.cursor, limit=_PAGE):
            for owner in page:
                record = await catalog.get(owner.item_id)
                if record is not None and record.stored is not None:
                    size, problem = await self._check(record)
                    self.state = replace(
                        self.state,
                        objects_checked=self.state.objects_checked + 1,
                        bytes_checked=self.state.bytes_checked + size,
                    )
                    if problem is not None and await self._still_stored(record):
                        self._found(problem)
                    await self._throttle.spend(record.stored.ciphertext_size_bytes)
                self.state = replace(self.state, cursor=owner.item_id)
                if not await self._checkpoint():
                    return False
        self.state = replace(self.state, phase="orphans", cursor="")
        return await self._checkpoint(force=True)

    async def _still_stored(self, record: ItemRecord) -> bool:
        """Whether the item still names the object checked (not destroyed meanwhile)."""
        now = await self._catalog.get(record.item_id)
        return (
            now is not None
            and now.stored is not None
            and record.stored is not None
            and now.stored.version_id == record.stored.version_id
        )

    async def orphans(self) -> bool:
        """Find object versions no catalog row owns, after the cursor key; False if stopped."""
        store, catalog = self._store, self._catalog
        batches = KeyBatches(store.list_versions(OBJECT_PREFIX), _LIST_BATCH, self.state.cursor)
        while batch := await asyncio.to_thread(batches.take):
            owners = await catalog.object_owners([key for key, _ in batch])
            for key, versions in batch:
                owner = owners.get(key)
                for version in versions:
                    if owner is not None and owner.status is ItemStatus.PENDING:
                        continue  # an upload under way: ingest commits or drops it
                    if (
                        owner is not None
                        and owner.status is ItemStatus.STORED
                        and owner.version_id == version.version_id
                    ):
                        continue
                    self._found(
                        Problem(
                            Finding.ORPHANED,
                            key,
                            version.version_id,
                            owner.item_id if owner is not None else None,
                            "no catalog row owns this version",
                        )
                    )
            self.state = replace(self.state, cursor=batch[-1][0])
            if not await self._checkpoint():
                return False
        return await self._checkpoint(force=True)


async def fixity_forever(
    service: FixityService,
    leases: Leases,
    *,
    interval_s: float,
    holder: str,
    clock: Callable[[], datetime],
    lease_ttl_s: float = 120.0,
    check_s: float = 60.0,
    on_result: OnResult | None = None,
) -> None:
    """Run a pass every interval_s, on whichever process holds the fixity lease then.

    Every check_s each process reports the latest finished pass (``on_result``, e.g. its
    metrics) and, when a pass is due or one was interrupted, tries to take the lease and run
    or resume it.
    """
    while True:
        try:
            latest = await service.latest()
            if latest is not None and on_result is not None:
                on_result(latest)
            if await service.due(interval_s):
                async with leases.holding(FIXITY_LEASE, holder, ttl_s=lease_ttl_s, clock=clock) as (
                    renew
                ):
                    done = await service.run(RunFixity(not_within_s=interval_s), keep_going=renew)
                if done is not None and done.finished_at is not None and on_result is not None:
                    on_result(done)
        except LeaseUnavailableError as err:
            log.debug("fixity pass skipped: %s", err)
        except StorageError as err:
            log.warning("fixity pass paused, resumed at the next check (%s)", err)
        await asyncio.sleep(min(check_s, interval_s))
