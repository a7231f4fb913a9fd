"""ProductionService: legal productions of a hold's items, built in the background.

A request records the production with the items its hold covers at that moment (queued) and
is audited; a builder in the API's process (``run_forever``) claims it, writes the zip
(`service.productions.archive`) straight into an encrypted upload through the vault, signs
its manifest with the current signing key, and marks it ready. Progress and the builder's
claim are recorded as it goes, so a restart finds a production that was being built and
builds it again, up to ``max_attempts`` times, then marks it failed.

The zip is sealed like every item's content (its own data key, wrapped in the catalog): it
holds the decrypted artefacts of a matter, and SPEC section 5 keeps content encrypted at rest.
A download decrypts it as it streams and is audited.

While a production is open (queued or running) its items are guarded: `ItemDestroyer`
refuses to destroy them, so a hold released meanwhile lets them go only once it finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from service.productions.archive import (
    LOADFILE_NAME,
    OBJECT_TAGS,
    LoadfileRow,
    ZipPipe,
    control_number,
    loadfile_bytes,
    native_name,
    object_key,
)
from service.productions.models import (
    ClaimLostError,
    ProductionContentError,
    ProductionNotFoundError,
    ProductionNotReadyError,
    ProductionRequest,
)
from service.signing.bundle import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleFile,
    Digest,
    manifest_bytes,
    signature_bytes,
)
from storage.errors import StorageError
from storage.models import ItemRecord, ItemStatus, ProductionRecord, ProductionStatus, StoredContent
from storage.ports import AuditLog, Catalog, ProductionStore, Signer, Vault

log = logging.getLogger(__name__)

#: The actor of what a builder does on its own (the audit entries of a finished production).
BUILDER_ACTOR = "keepline:production"
#: The manifest's ``kind``.
KIND = "production"
# Above this a zip member needs ZIP64 headers, which must be chosen before writing it.
_ZIP64_FROM_BYTES = 0x7FFFFFFF
_HEARTBEAT_S = 2.0


class ProductionService:
    """Requests, builds, reports and hands over legal productions."""

    def __init__(
        self,
        *,
        productions: ProductionStore,
        catalog: Catalog,
        vault: Vault,
        signer: Signer,
        audit: AuditLog,
        clock: Callable[[], datetime],
        claim_ttl_s: float = 60.0,
        max_attempts: int = 5,
        poll_s: float = 2.0,
    ) -> None:
        self._productions = productions
        self._catalog = catalog
        self._vault = vault
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._claim_ttl_s = claim_ttl_s
        self._max_attempts = max_attempts
        self._poll_s = poll_s
        self._wake: asyncio.Event | None = None

    async def request(self, request: ProductionRequest) -> ProductionRecord:
        """Queue a production of every item the hold covers now; audited.

        Raises:
            HoldNotFoundError: No such hold.
            HoldAlreadyReleasedError: The hold was released.
        """
        now = self._clock()
        record = await self._productions.create(
            str(uuid.uuid4()), hold_id=request.hold_id, requested_by=request.requested_by, at=now
        )
        await self._audit.append(
            actor=request.requested_by,
            action="production.requested",
            at=now,
            details={
                "production_id": record.production_id,
                "hold_id": record.hold_id,
                "matter": record.matter,
                "items": record.items_total,
            },
        )
        log.info("production %s of hold %s queued", record.production_id, record.hold_id)
        if self._wake is not None:
            self._wake.set()
        return record

    async def get(self, production_id: str) -> ProductionRecord:
        """One production with its progress.

        Raises:
            ProductionNotFoundError: No such production.
        """
        record = await self._productions.get(production_id)
        if record is None:
            raise ProductionNotFoundError(production_id)
        return record

    async def download(
        self, production_id: str, *, actor: str
    ) -> tuple[ProductionRecord, AsyncIterator[bytes]]:
        """The production and its zip's bytes; the download is audited before any is read.

        Raises:
            ProductionNotFoundError: No such production.
            ProductionNotReadyError: It is not ready (still being built, or failed).
        """
        record = await self.get(production_id)
        if record.status is not ProductionStatus.READY or record.stored is None:
            raise ProductionNotReadyError(production_id, record.status)
        stored = record.stored
        await self._audit.append(
            actor=actor,
            action="production.downloaded",
            at=self._clock(),
            details={
                "production_id": production_id,
                "hold_id": record.hold_id,
                "matter": record.matter,
                "items": record.items_total,
                "sha256": stored.content.sha256,
            },
        )
        size = stored.content.size_bytes
        chunks = self._vault.open(
            item_id=production_id, stored=stored, start=0, end=max(size - 1, 0)
        )
        return record, chunks

    async def run_forever(self, holder: str) -> None:
        """Build whatever is queued, then wait for a request (or poll_s) and look again."""
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            await self.run_pending(holder)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def run_pending(self, holder: str) -> int:
        """Build every production waiting for a builder, one at a time; how many got ready."""
        built = 0
        while True:
            record = await self._productions.claim(
                holder, now=self._clock(), ttl_s=self._claim_ttl_s, max_attempts=self._max_attempts
            )
            if record is None:
                return built
            try:
                await self._build(record, holder)
            except asyncio.CancelledError:
                with contextlib.suppress(StorageError):
                    await self._productions.release_claim(record.production_id, holder)
                raise
            except (StorageError, ClaimLostError) as err:
                if err.retriable:
                    # Left to the claim's expiry, then built again (an outage, a lost claim).
                    log.warning(
                        "production %s interrupted (%s); it will be built again",
                        record.production_id,
                        type(err).__name__,
                    )
                    return built
                await self._failed(record, holder, f"{type(err).__name__}: {err}")
            except Exception as err:  # the edge of a background job: record it, carry on
                log.exception("production %s failed", record.production_id)
                await self._failed(record, holder, type(err).__name__)
            else:
                built += 1

    async def _failed(self, record: ProductionRecord, holder: str, error: str) -> None:
        at = self._clock()
        if await self._productions.fail(record.production_id, holder, error=error, at=at):
            await self._audit.append(
                actor=BUILDER_ACTOR,
                action="production.failed",
                at=at,
                details={
                    "production_id": record.production_id,
                    "hold_id": record.hold_id,
                    "error": error,
                },
            )

    async def _build(self, record: ProductionRecord, holder: str) -> None:
        started = time.monotonic()
        pipe = ZipPipe()
        loop = asyncio.get_running_loop()

        def seal() -> StoredContent:
            try:
                return self._vault.seal(
                    item_id=record.production_id,
                    chunks=pipe.chunks(),
                    content_type="application/zip",
                    expected_size_bytes=None,
                    expected_sha256=None,
                    tags=OBJECT_TAGS,
                    object_key=object_key(record.production_id),
                )
            finally:
                pipe.reader_stopped()

        with ThreadPoolExecutor(1, thread_name_prefix="production-upload") as uploader:
            upload = loop.run_in_executor(uploader, seal)
            try:
                writer = _ZipWriter(
                    productions=self._productions,
                    catalog=self._catalog,
                    vault=self._vault,
                    signer=self._signer,
                    clock=self._clock,
                    claim_ttl_s=self._claim_ttl_s,
                    record=record,
                    holder=holder,
                    pipe=pipe,
                )
                item_ids, kid = await writer.write()
                bytes_done = writer.bytes_done
                await asyncio.to_thread(pipe.close)
            except BaseException:
                await asyncio.to_thread(pipe.abort)
                with contextlib.suppress(Exception):
                    await upload
                raise
            stored = await upload
        at = self._clock()
        if not await self._productions.finish(
            record.production_id, holder, stored=stored, kid=kid, bytes_done=bytes_done, at=at
        ):
            raise ClaimLostError(record.production_id)
        with contextlib.suppress(StorageError):
            # Versions of earlier attempts, interrupted after their upload completed.
            await asyncio.to_thread(
                self._vault.drop_versions, stored.object_key, keep=stored.version_id
            )
        await self._audit.append(
            actor=BUILDER_ACTOR,
            action="production.ready",
            at=at,
            details={
                "production_id": record.production_id,
                "hold_id": record.hold_id,
                "matter": record.matter,
                "item_ids": item_ids,
                "size_bytes": stored.content.size_bytes,
                "sha256": stored.content.sha256,
                "kid": kid,
            },
        )
        log.info(
            "production %s ready: %d items, %d bytes in %.1fs",
            record.production_id,
            len(item_ids),
            stored.content.size_bytes,
            time.monotonic() - started,
        )


class _ZipWriter:
    """Writes one production's zip into its pipe, recording progress as it goes."""

    def __init__(
        self,
        *,
        productions: ProductionStore,
        catalog: Catalog,
        vault: Vault,
        signer: Signer,
        clock: Callable[[], datetime],
        claim_ttl_s: float,
        record: ProductionRecord,
        holder: str,
        pipe: ZipPipe,
    ) -> None:
        self._productions = productions
        self._catalog = catalog
        self._vault = vault
        self._signer = signer
        self._clock = clock
        self._claim_ttl_s = claim_ttl_s
        self._record = record
        self._holder = holder
        self._pipe = pipe
        self._items_done = 0
        self._bytes_done = 0
        self._beat_at = time.monotonic()
        now = clock()
        self._now = now
        self._stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)

    async def write(self) -> tuple[list[str], str]:
        """Write every member; the ids of the items produced and the signing key's id."""
        pid = self._record.production_id
        entries = await self._productions.item_ids(pid)
        archive = await asyncio.to_thread(zipfile.ZipFile, self._pipe, "w", zipfile.ZIP_STORED)
        files: list[BundleFile] = []
        rows: list[LoadfileRow] = []
        produced: list[str] = []
        missing: list[str] = []
        for number, item_id in entries:
            item = await self._catalog.get(item_id)
            if item is None or item.status is not ItemStatus.STORED:
                missing.append(item_id)
                continue
            control = control_number(pid, number)
            name = native_name(control, item)
            sha256 = ""
            if name is not None:
                written = await self._native(archive, name, item)
                files.append(written)
                sha256 = written.sha256
            rows.append(LoadfileRow.of(control, item, sha256=sha256, path=name))
            produced.append(item_id)
            self._items_done += 1
            await self._heartbeat(force=True)
        files.append(await self._small(archive, LOADFILE_NAME, loadfile_bytes(rows)))
        details: dict[str, Any] = {
            "production_id": pid,
            "hold_id": self._record.hold_id,
            "matter": self._record.matter,
            "requested_by": self._record.requested_by,
            "requested_at": self._record.requested_at.isoformat(),
            "items": len(produced),
            "missing_item_ids": missing,
        }
        manifest = manifest_bytes(kind=KIND, created_at=self._now, files=files, details=details)
        signature = self._signer.sign(manifest)
        await self._small(archive, MANIFEST_NAME, manifest)
        await self._small(archive, SIGNATURE_NAME, signature_bytes(signature))
        await asyncio.to_thread(archive.close)
        return produced, signature.kid

    @property
    def bytes_done(self) -> int:
        """Bytes of native files written so far."""
        return self._bytes_done

    async def _native(self, archive: zipfile.ZipFile, name: str, item: ItemRecord) -> BundleFile:
        stored = item.stored
        assert stored is not None
        size = stored.content.size_bytes
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_STORED  # recordings are compressed already
        digest = Digest(name)
        writer = await asyncio.to_thread(
            functools.partial(archive.open, info, "w", force_zip64=size >= _ZIP64_FROM_BYTES)
        )
        try:
            async for chunk in self._vault.open(
                item_id=item.item_id, stored=stored, start=0, end=max(size - 1, 0)
            ):
                digest.update(chunk)
                await asyncio.to_thread(writer.write, chunk)
                self._bytes_done += len(chunk)
                await self._heartbeat()
        finally:
            await asyncio.to_thread(writer.close)
        written = digest.file()
        if written.sha256 != stored.content.sha256 or written.size_bytes != size:
            raise ProductionContentError(item.item_id)
        return written

    async def _small(self, archive: zipfile.ZipFile, name: str, data: bytes) -> BundleFile:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        await asyncio.to_thread(archive.writestr, info, data)
        digest = Digest(name)
        digest.update(data)
        return digest.file()

    async def _heartbeat(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._beat_at < _HEARTBEAT_S:
            return
        if force and time.monotonic() - self._beat_at < _HEARTBEAT_S / 4:
            return
        self._beat_at = time.monotonic()
        if not await self._productions.progress(
            self._record.production_id,
            self._holder,
            items_done=self._items_done,
            bytes_done=self._bytes_done,
            now=self._clock(),
            ttl_s=self._claim_ttl_s,
        ):
            raise ClaimLostError(self._record.production_id)
