"""Requests and results of the proof-of-disposal use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from storage.ports import Tombstone

#: The manifest kind of a certificate (`keepline verify` names it).
CERTIFICATE_KIND: Final = "disposal_certificate"
#: The files of a certificate beside its manifest and signature.
DESTRUCTIONS_JSON: Final = "destructions.json"
DESTRUCTIONS_CSV: Final = "destructions.csv"
#: The columns of destructions.csv, in order.
CSV_COLUMNS: Final = (
    "item_id",
    "type",
    "destroyed_at",
    "reason",
    "policy_version",
    "audit_seq",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDisposals:
    """Tombstones destroyed in [since, until), oldest first, one page after ``after``."""

    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class DisposalPage:
    """One page of tombstones; ``next_after`` continues it (None: done)."""

    tombstones: tuple[Tombstone, ...]
    next_after: tuple[datetime, str] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequest:
    """A signed certificate of one UTC day's destructions, asked for by ``actor``."""

    day: date
    actor: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Destruction:
    """One destruction as a certificate lists it: the tombstone and its audit entry."""

    tombstone: Tombstone
    audit_seq: int | None

    def to_json(self) -> dict[str, Any]:
        """The certificate's record of it."""
        stone = self.tombstone
        return {
            "item_id": stone.item_id,
            "type": stone.type,
            "destroyed_at": stone.destroyed_at.isoformat(),
            "reason": stone.reason,
            "policy_version": stone.policy_version,
            "audit_seq": self.audit_seq,
        }


def audit_seq_range(destructions: tuple[Destruction, ...]) -> tuple[int, int] | None:
    """The first and last audit entries of these destructions (None: none was audited)."""
    seqs = [d.audit_seq for d in destructions if d.audit_seq is not None]
    return (min(seqs), max(seqs)) if seqs else None


def certificate_details(
    day: date, *, complete: bool, destructions: tuple[Destruction, ...]
) -> dict[str, Any]:
    """The manifest's details: the day, counts, policy versions and audit sequence range."""
    by_type: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for d in destructions:
        by_type[d.tombstone.type] = by_type.get(d.tombstone.type, 0) + 1
        by_reason[d.tombstone.reason] = by_reason.get(d.tombstone.reason, 0) + 1
    seq_range = audit_seq_range(destructions)
    return {
        "date": day.isoformat(),
        "complete": complete,
        "destructions": len(destructions),
        "by_type": by_type,
        "by_reason": by_reason,
        "policy_versions": sorted({d.tombstone.policy_version for d in destructions}),
        "audit_seq_range": {"first": seq_range[0], "last": seq_range[1]} if seq_range else None,
        "unaudited": sum(1 for d in destructions if d.audit_seq is None),
    }


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What an issued certificate states, and the key that signed it.

    Attributes:
        day: The UTC day certified.
        issued_at: When it was made.
        complete: Whether the day was over when it was made (a later one may list more).
        destructions: Every destruction of the day, in the order listed.
        kid: The signing key's id.
    """

    day: date
    issued_at: datetime
    complete: bool
    destructions: tuple[Destruction, ...]
    kid: str
