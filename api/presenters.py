"""JSON shapes of the API (SPEC section 7): how records are shown, and their OpenAPI models.

Routes build plain dicts with the functions here and return them as JSONResponse; the
pydantic models describe the same shapes in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.fixity.models import pass_ok
from storage.models import AuditEntry, ChainVerdict, ItemRecord
from storage.ports import FixityPass, Tombstone


def item_json(record: ItemRecord) -> dict[str, Any]:
    """An item: the fields of section 3 plus item_id, ingested_at, purposes, holds and more."""
    body = dict(record.event)
    body.update(
        item_id=record.item_id,
        ingested_at=record.ingested_at.isoformat(),
        purposes=[
            {"name": p.name, "basis": p.basis, "expires_at": p.expires_at.isoformat()}
            for p in record.purposes
        ],
        holds=list(record.hold_ids),
        restricted=record.restricted,
        status=record.status.value,
        policy_version=record.policy_version,
        submitted_by=record.submitted_by,
        content=(
            {
                "size_bytes": record.stored.content.size_bytes,
                "sha256": record.stored.content.sha256,
                "content_type": record.stored.content.content_type,
            }
            if record.stored
            else None
        ),
    )
    return body


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry as the API and the audit topic show it."""
    return entry.to_json()


def verdict_json(verdict: ChainVerdict) -> dict[str, Any]:
    """The outcome of recomputing the audit chain."""
    return {
        "ok": verdict.ok,
        "entries": verdict.entries,
        "head": verdict.head,
        "first_broken_seq": verdict.first_broken_seq,
    }


class PurposeOut(BaseModel):
    """A purpose an item is kept for."""

    name: str
    basis: str = Field(description="The lawful basis (GDPR Art. 6).")
    expires_at: str = Field(description="RFC 3339; occurred_at plus the purpose's retention.")


class ContentOut(BaseModel):
    """What the caller may know of an item's plaintext content."""

    size_bytes: int
    sha256: str
    content_type: str


class ItemOut(BaseModel):
    """An item: the event's fields (section 3) and what keepline knows of it."""

    model_config = ConfigDict(extra="allow")

    item_id: str
    type: str = Field(description="call_recording, email or chat.")
    event_id: str
    source: str
    occurred_at: str
    ingested_at: str
    parties: list[dict[str, Any]]
    purposes: list[PurposeOut]
    holds: list[str] = Field(description="Ids of the active holds covering the item.")
    restricted: bool = Field(description="Processing restricted (GDPR Art. 18).")
    status: str
    policy_version: str
    content: ContentOut | None


class ItemPageOut(BaseModel):
    """One page of items, newest first."""

    items: list[ItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done.")


class AuditEntryOut(BaseModel):
    """One link of the audit hash chain."""

    seq: int
    at: str
    actor: str
    action: str
    item_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    """Audit entries in chain order (oldest first)."""

    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null: done.")


class ChainVerdictOut(BaseModel):
    """The outcome of recomputing the audit chain."""

    ok: bool
    entries: int = Field(description="Entries verified before the first broken link.")
    head: str = Field(description="Hash of the last verified entry (64 zeros: none).")
    first_broken_seq: int | None = Field(description="The first entry that does not verify.")


# --- Proof of disposal ------------------------------------------------------------------


def tombstone_json(stone: Tombstone) -> dict[str, Any]:
    """A tombstone: what stays of a destroyed item (no personal data)."""
    return {
        "item_id": stone.item_id,
        "type": stone.type,
        "destroyed_at": stone.destroyed_at.isoformat(),
        "reason": stone.reason,
        "policy_version": stone.policy_version,
    }


class TombstoneOut(BaseModel):
    """What stays of a destroyed item (SPEC section 5): no personal data."""

    item_id: str
    type: str = Field(description="call_recording, email or chat.")
    destroyed_at: str = Field(description="When it was destroyed (RFC 3339).")
    reason: str = Field(
        description="Why: retention_expired, no_purpose, or the request that erased it.",
        examples=["retention_expired"],
    )
    policy_version: str = Field(description="The policy version that last decided its purposes.")


class DisposalPageOut(BaseModel):
    """Tombstones in the order they were made (oldest first)."""

    disposals: list[TombstoneOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done.")


# --- Integrity passes -------------------------------------------------------------------


def fixity_json(state: FixityPass) -> dict[str, Any]:
    """The last integrity pass: what it checked and found, and the bucket's configuration."""
    bucket = state.bucket or {}
    return {
        "pass_id": state.pass_id,
        "started_at": state.started_at.isoformat(),
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "objects_checked": state.objects_checked,
        "bytes_checked": state.bytes_checked,
        "mismatched": state.mismatched,
        "missing": state.missing,
        "orphaned": state.orphaned,
        "object_lock_ok": bool(bucket.get("object_lock_ok")),
        "versioning_ok": bool(bucket.get("versioning_ok")),
        "bucket": bucket,
        "ok": pass_ok(state),
        "problems": list(state.problems),
    }


class FixityProblemOut(BaseModel):
    """One object that is not as the catalog says."""

    kind: str = Field(description="mismatched, missing or orphaned.", examples=["missing"])
    item_id: str | None = Field(description="The item it belongs to, when one does.")
    object_key: str
    version_id: str | None
    detail: str = Field(description="What is wrong, e.g. failed authentication at segment 0.")


class BucketConfigOut(BaseModel):
    """The bucket's configuration against what keepline and the policy need."""

    versioning: str = Field(description="Enabled, Suspended or Off, as S3 reports it.")
    object_lock: bool = Field(description="Object Lock is enabled on the bucket.")
    object_lock_required: bool = Field(description="The policy has a worm purpose.")
    versioning_ok: bool = Field(description="Versioning is Enabled, as keepline needs.")
    object_lock_ok: bool = Field(description="Object Lock is on, or no purpose needs it.")


class FixityOut(BaseModel):
    """The last finished integrity pass (SPEC section 7)."""

    pass_id: str
    started_at: str
    finished_at: str | None
    objects_checked: int = Field(description="Objects read back and authenticated.")
    bytes_checked: int = Field(description="Plaintext bytes those objects authenticated.")
    mismatched: int = Field(description="Objects failing authentication, size or sha256.")
    missing: int = Field(description="Stored items whose object version is gone.")
    orphaned: int = Field(description="Object versions no catalog row owns.")
    object_lock_ok: bool
    versioning_ok: bool
    bucket: BucketConfigOut
    ok: bool = Field(description="Nothing mismatched, missing or orphaned; the bucket as needed.")
    problems: list[FixityProblemOut] = Field(description="The first problems found (at most 1000).")
