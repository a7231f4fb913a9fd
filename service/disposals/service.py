"""Proof of disposal: the tombstones by date, and a signed certificate of one day's destructions.

A certificate is a signed bundle (`service/signing/bundle.py`, kind ``disposal_certificate``):
``destructions.json`` and ``destructions.csv`` list every item destroyed that UTC day (item id,
type, when, why, the policy version that decided it, and the sequence number of its
``item.destroyed`` audit entry); the manifest's details carry the counts, the policy versions
and the audit sequence range, so an auditor can check the certificate against the audit chain.
It holds no personal data: tombstones keep none. `keepline verify CERT.zip --keys KEYS.json`
checks it offline. Issuing one is audited.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Final

from service.disposals.models import (
    CERTIFICATE_KIND,
    CSV_COLUMNS,
    DESTRUCTIONS_CSV,
    DESTRUCTIONS_JSON,
    CertificateRequest,
    CertificateSummary,
    Destruction,
    DisposalPage,
    ListDisposals,
    certificate_details,
)
from service.errors import InvalidRequestError
from service.signing.bundle import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleFile,
    Digest,
    manifest_bytes,
    signature_bytes,
)
from storage.ports import AuditLog, Signer, Tombstone, Tombstones

#: The audit action every destruction writes (service/retention/destruction.py).
DESTROYED_ACTION: Final = "item.destroyed"
#: How far past the day's end the audit trail is read for the day's destructions: an entry
#: is appended right after its tombstone, with the same time, so this is ample.
_AUDIT_SLACK: Final = timedelta(hours=1)
_PAGE: Final = 1000


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


class DisposalService:
    """Lists tombstones and issues signed daily certificates of destruction."""

    def __init__(
        self,
        *,
        tombstones: Tombstones,
        audit: AuditLog,
        signer: Signer,
        clock: Callable[[], datetime],
    ) -> None:
        self._tombstones = tombstones
        self._audit = audit
        self._signer = signer
        self._clock = clock

    async def tombstones(self, request: ListDisposals) -> DisposalPage:
        """One page of tombstones destroyed in [since, until), oldest first.

        Raises:
            InvalidRequestError: ``until`` is not after ``since``.
        """
        if request.since and request.until and request.until <= request.since:
            raise InvalidRequestError("until", "must be after since")
        found = await self._tombstones.between(
            since=request.since, until=request.until, after=request.after, limit=request.limit
        )
        last = found[-1] if len(found) == request.limit else None
        return DisposalPage(tuple(found), (last.destroyed_at, last.item_id) if last else None)

    async def certificate(self, request: CertificateRequest, out: IO[bytes]) -> CertificateSummary:
        """Write the signed certificate of the request's day to ``out`` (a zip) and audit it.

        Raises:
            InvalidRequestError: The day has not begun yet.
        """
        issued_at = self._clock()
        if request.day > issued_at.astimezone(UTC).date():
            raise InvalidRequestError("date", "a day that has not begun has no destructions")
        start, end = day_bounds(request.day)
        stones = await self._day(start, end)
        seqs = await self._destruction_seqs(start, end + _AUDIT_SLACK)
        destructions = tuple(Destruction(s, seqs.get(s.item_id)) for s in stones)
        complete = issued_at >= end
        details = certificate_details(request.day, complete=complete, destructions=destructions)
        kid = await asyncio.to_thread(
            self._write, out, destructions, issued_at=issued_at, details=details
        )
        summary = CertificateSummary(request.day, issued_at, complete, destructions, kid)
        await self._audit.append(
            actor=request.actor,
            action="certificate.issued",
            at=issued_at,
            details={**({"role": request.role} if request.role else {}), **details, "kid": kid},
        )
        return summary

    async def _day(self, start: datetime, end: datetime) -> list[Tombstone]:
        stones: list[Tombstone] = []
        after: tuple[datetime, str] | None = None
        while page := await self._tombstones.between(
            since=start, until=end, after=after, limit=_PAGE
        ):
            stones.extend(page)
            after = (page[-1].destroyed_at, page[-1].item_id)
        return stones

    async def _destruction_seqs(self, start: datetime, stop: datetime) -> dict[str, int]:
        """The seq of each item's ``item.destroyed`` entry at or after start (until stop)."""
        seqs: dict[str, int] = {}
        after_seq = 0
        while entries := await self._audit.query(
            action=DESTROYED_ACTION, since=start, after_seq=after_seq, limit=_PAGE
        ):
            for entry in entries:
                if entry.item_id is not None:
                    seqs.setdefault(entry.item_id, entry.seq)
            after_seq = entries[-1].seq
            if entries[-1].at >= stop:
                break
        return seqs

    def _write(
        self,
        out: IO[bytes],
        destructions: tuple[Destruction, ...],
        *,
        issued_at: datetime,
        details: dict[str, object],
    ) -> str:
        """Write the bundle (blocking); returns the signing key's id."""
        records = [d.to_json() for d in destructions]
        listing = json.dumps(
            {"date": details["date"], "destructions": records}, indent=2, sort_keys=True
        ).encode("utf-8")
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(records)
        files: list[BundleFile] = []
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in (
                (DESTRUCTIONS_JSON, listing + b"\n"),
                (DESTRUCTIONS_CSV, table.getvalue().encode("utf-8")),
            ):
                digest = Digest(name)
                digest.update(data)
                files.append(digest.file())
                archive.writestr(name, data)
            manifest = manifest_bytes(
                kind=CERTIFICATE_KIND, created_at=issued_at, files=files, details=details
            )
            signature = self._signer.sign(manifest)
            archive.writestr(MANIFEST_NAME, manifest)
            archive.writestr(SIGNATURE_NAME, signature_bytes(signature))
        return signature.kid
