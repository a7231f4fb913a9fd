"""SubjectExporter: a data subject's items as one zip, for a subject access request.

The archive holds ``items.json`` (machine-readable: the subject's recorded choices and every
item's metadata as ``GET /v1/items/{item_id}`` shows it, each naming its content file) and
``content/<item_id><ext>``: the decrypted artefacts; with a reporter, also the access report
(``access-report.txt`` to read, ``access-report.json``). It is written to a file the caller
provides, so recordings of any size pass through without being held in memory.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from service.subjects.access_report import AccessReporter
from service.subjects.service import SubjectRightsService
from storage.models import ItemRecord
from storage.ports import AuditLog, Vault

#: The ``format`` of items.json; bumped on any incompatible change of its shape.
EXPORT_FORMAT = "keepline.subject-export/1"

# Explicit for the types keepline sees most, so names do not depend on the host's mime.types.
_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "message/rfc822": ".eml",
    "text/plain": ".txt",
    "text/html": ".html",
    "application/json": ".json",
    "application/pdf": ".pdf",
}
# Above this a zip entry needs ZIP64 headers, which must be chosen before writing it.
_ZIP64_FROM_BYTES = 0x7FFFFFFF
_Stamp = tuple[int, int, int, int, int, int]
# How often a long export renews the guard over its items.
_RENEW_GUARD_S = 60.0


def content_extension(content_type: str) -> str:
    """The file name extension of a media type (``.bin`` when none is known)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"


def content_file_name(record: ItemRecord) -> str | None:
    """Where an item's decrypted content goes in the archive; None for metadata-only items."""
    if record.stored is None:
        return None
    return f"content/{record.item_id}{content_extension(record.stored.content.content_type)}"


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export contained."""

    subject_id: str
    item_ids: tuple[str, ...]
    content_item_ids: tuple[str, ...]


class SubjectExporter:
    """Builds a subject's export archive; every export is audited with the items it read."""

    def __init__(
        self,
        *,
        rights: SubjectRightsService,
        vault: Vault,
        audit: AuditLog,
        clock: Callable[[], datetime],
        reporter: AccessReporter | None = None,
    ) -> None:
        self._rights = rights
        self._reporter = reporter
        self._vault = vault
        self._audit = audit
        self._clock = clock

    async def export(
        self,
        subject_id: str,
        *,
        actor: str,
        out: IO[bytes],
        present: Callable[[ItemRecord], dict[str, Any]],
    ) -> ExportResult:
        """Write the subject's zip archive to ``out`` (a seekable binary file).

        Args:
            subject_id: The data subject.
            actor: Who asked (recorded in the audit entry).
            out: Where the archive is written.
            present: An item's metadata as the API shows it.

        Returns:
            The ids of the exported items and of those whose content is included.
        """
        now = self._clock()
        records = await self._rights.items_of(subject_id)
        state = await self._rights.subjects.state(subject_id)
        entries = []
        for record in records:
            body = present(record)
            body["content_file"] = content_file_name(record)
            entries.append(body)
        document = {
            "format": EXPORT_FORMAT,
            "exported_at": now.isoformat(),
            "subject": state.as_record(),
            "items": entries,
        }
        with_content = tuple(r.item_id for r in records if r.stored is not None)
        result = ExportResult(subject_id, tuple(r.item_id for r in records), with_content)
        # Nothing destroys what the export reads until the archive is written.
        guard = await self._rights.open_guard("export", records)
        try:
            await self._write(document, records, result, actor=actor, out=out, now=now, guard=guard)
        finally:
            await self._rights.close_guard(guard)
        return result

    async def _write(
        self,
        document: dict[str, Any],
        records: list[ItemRecord],
        result: ExportResult,
        *,
        actor: str,
        out: IO[bytes],
        now: datetime,
        guard: str | None,
    ) -> None:
        with_content = result.content_item_ids
        # Audited before any content is decrypted: a read that fails half-way is still on file.
        await self._audit.append(
            actor=actor,
            action="export",
            at=now,
            details={
                "subject_id": result.subject_id,
                "item_ids": list(result.item_ids),
                "content_item_ids": list(with_content),
            },
        )
        archive = await asyncio.to_thread(zipfile.ZipFile, out, "w", zipfile.ZIP_DEFLATED)
        try:
            text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
            await asyncio.to_thread(archive.writestr, "items.json", text.encode("utf-8"))
            if self._reporter is not None:
                report = await self._reporter.build(result.subject_id)
                readable = report.to_text().encode("utf-8")
                await asyncio.to_thread(archive.writestr, "access-report.txt", readable)
                detail = json.dumps(
                    report.as_record(), indent=2, sort_keys=True, ensure_ascii=False
                )
                await asyncio.to_thread(
                    archive.writestr, "access-report.json", detail.encode("utf-8")
                )
            stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
            renewed = time.monotonic()
            for record in records:
                await self._write_content(archive, record, stamp)
                if time.monotonic() - renewed > _RENEW_GUARD_S:
                    await self._rights.renew_guard(guard)
                    renewed = time.monotonic()
        finally:
            await asyncio.to_thread(archive.close)

    async def _write_content(
        self, archive: zipfile.ZipFile, record: ItemRecord, stamp: _Stamp
    ) -> None:
        name = content_file_name(record)
        stored = record.stored
        if name is None or stored is None:
            return
        info = zipfile.ZipInfo(name, date_time=stamp)
        # Recordings are compressed already; storing them keeps exports fast.
        info.compress_type = zipfile.ZIP_STORED
        size = stored.content.size_bytes
        writer = await asyncio.to_thread(
            archive.open, info, "w", force_zip64=size >= _ZIP64_FROM_BYTES
        )
        try:
            async for chunk in self._vault.open(
                item_id=record.item_id, stored=stored, start=0, end=max(size - 1, 0)
            ):
                await asyncio.to_thread(writer.write, chunk)
        finally:
            await asyncio.to_thread(writer.close)
