"""Requests, findings and results of the integrity passes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from storage.ports import BucketProtection, FixityPass

#: The lease one process at a time holds to run a pass.
FIXITY_LEASE: Final = "fixity"
#: The most problems a pass records (the counts go on counting).
MAX_PROBLEMS: Final = 1000


class Finding(StrEnum):
    """What is wrong with one object."""

    MISMATCHED = "mismatched"
    MISSING = "missing"
    ORPHANED = "orphaned"


@dataclass(frozen=True, slots=True)
class Problem:
    """One object that is not as the catalog says (item ids and object keys only)."""

    finding: Finding
    object_key: str
    version_id: str | None
    item_id: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The problem as a pass records it."""
        return {
            "kind": self.finding.value,
            "item_id": self.item_id,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class BucketVerdict:
    """The bucket's configuration against what keepline and the policy need."""

    protection: BucketProtection
    object_lock_required: bool

    @property
    def versioning_ok(self) -> bool:
        """Versions must be kept: destruction, reconciliation and WORM rely on them."""
        return self.protection.versioning == "Enabled"

    @property
    def object_lock_ok(self) -> bool:
        """Object Lock must be on when the policy has a ``worm`` purpose."""
        return self.protection.object_lock or not self.object_lock_required

    def to_json(self) -> dict[str, Any]:
        """The verdict as a pass records it."""
        return {
            "versioning": self.protection.versioning,
            "object_lock": self.protection.object_lock,
            "object_lock_required": self.object_lock_required,
            "versioning_ok": self.versioning_ok,
            "object_lock_ok": self.object_lock_ok,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFixity:
    """Run (or resume) a pass.

    Attributes:
        actor: Who the audit trail names.
        not_within_s: Start no new pass if one finished less than this long ago (an
            interrupted pass is resumed regardless); None: always run.
    """

    actor: str = "fixity"
    not_within_s: float | None = None


def pass_ok(state: FixityPass) -> bool:
    """Whether a finished pass found everything as it should be."""
    bucket = state.bucket or {}
    return (
        state.finished_at is not None
        and not (state.mismatched or state.missing or state.orphaned)
        and bool(bucket.get("versioning_ok"))
        and bool(bucket.get("object_lock_ok"))
    )
