"""JSON shapes of the API (SPEC section 7): how records are shown, and their OpenAPI models.

Routes build plain dicts with the functions here and return them as JSONResponse; the
pydantic models describe the same shapes in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policies.explanation import Explanation
from policies.holds import criteria_to_json
from service.disclosures.models import Recipient
from service.fixity.models import pass_ok
from service.subjects.access_report import AccessReport
from service.subjects.models import (
    ConsentResult,
    ErasureResult,
    ObjectionResult,
    RestrictionResult,
    RetainedItem,
)
from service.subjects.rectification import RectificationResult, RectifiedItem
from storage.models import (
    AuditCheckpoint,
    AuditEntry,
    ChainVerdict,
    Change,
    HoldRecord,
    ItemRecord,
    ProductionRecord,
    ReviewRecord,
)
from storage.ports import FixityPass, Tombstone
from storage.sql.dead_letters import DeadLetterRecord


def item_json(record: ItemRecord, *, status: str | None = None) -> dict[str, Any]:
    """An item: the fields of section 3 plus item_id, ingested_at, purposes, holds and more.

    ``status`` overrides the catalog's (``awaiting_review`` while a review is open).
    """
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
        status=status or record.status.value,
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
    """One audit entry as the API shows it (the fields of its canonical form)."""
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "item_id": entry.item_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


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


def _at(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def retention_json(explanation: Explanation, *, status: str = "stored") -> dict[str, Any]:
    """Why an item is kept, and until when (``GET /v1/items/{item_id}/retention``)."""
    purposes = []
    for purpose in explanation.purposes:
        entry: dict[str, Any] = {
            "name": purpose.name,
            "basis": None if purpose.basis is None else purpose.basis.value,
            "expires_at": _at(purpose.expires_at),
            "state": purpose.state.value,
        }
        if purpose.removed_at is not None:
            entry["removed_at"] = purpose.removed_at.isoformat()
        purposes.append(entry)
    review = explanation.review
    return {
        "item_id": explanation.item_id,
        "at": explanation.at.isoformat(),
        "status": status,
        "purposes": purposes,
        "holds": [{"hold_id": h.hold_id, "matter": h.matter} for h in explanation.holds],
        "erasure_pending": explanation.erasure_pending,
        "review": (
            None if review is None else {"state": review.state, "purposes": list(review.purposes)}
        ),
        "destroy_after": _at(explanation.destroy_after),
        "worm_until": _at(explanation.worm_until),
        "decision": {
            "action": explanation.decision.action.value,
            "reason": explanation.decision.reason.value,
        },
    }


def review_json(review: ReviewRecord, item: ItemRecord | None = None) -> dict[str, Any]:
    """One disposition review (with its item's type, occurrence and purposes when given)."""
    body: dict[str, Any] = {
        "review_id": review.review_id,
        "item_id": review.item_id,
        "state": review.state.value,
        "purposes": list(review.purposes),
        "opened_at": review.opened_at.isoformat(),
        "decided_at": _at(review.decided_at),
        "decided_by": review.decided_by,
        "justification": review.justification,
        "extend_by": review.extend_by,
        "expires_at": _at(review.expires_at),
    }
    if item is not None:
        body["item"] = {
            "type": item.type,
            "occurred_at": item.occurred_at.isoformat(),
            "purposes": [
                {"name": p.name, "basis": p.basis, "expires_at": p.expires_at.isoformat()}
                for p in item.purposes
            ],
            "holds": list(item.hold_ids),
        }
    return body


class RetentionPurposeOut(BaseModel):
    """One purpose of an item and where it stands."""

    name: str
    basis: str | None = Field(description="The lawful basis (GDPR Art. 6).")
    expires_at: str | None = Field(description="RFC 3339; null for a removed purpose.")
    state: str = Field(description="active, expired, withdrawn, objected or erased.")
    removed_at: str | None = Field(default=None, description="When a request removed it.")


class RetentionHoldOut(BaseModel):
    """A hold covering the item."""

    hold_id: str
    matter: str


class RetentionReviewOut(BaseModel):
    """The item's disposition review."""

    state: str = Field(description="required (once due), pending or destroy.")
    purposes: list[str] = Field(description="The purposes that ask for the review.")


class RetentionDecisionOut(BaseModel):
    """What the sweeper would do now."""

    action: str = Field(description="keep, drop_purposes, destroy or review.")
    reason: str


class RetentionOut(BaseModel):
    """Why an item is kept, and until when."""

    item_id: str
    at: str = Field(description="The instant the explanation holds for.")
    status: str = Field(description="stored or awaiting_review.")
    purposes: list[RetentionPurposeOut]
    holds: list[RetentionHoldOut]
    erasure_pending: bool = Field(description="A queued erasure waits for holds to go.")
    review: RetentionReviewOut | None
    destroy_after: str | None = Field(
        description="The earliest instant the item may be destroyed; null while a hold or "
        "a disposition review keeps it whatever the clock says."
    )
    worm_until: str | None = Field(description="The Object Lock retention date, if any.")
    decision: RetentionDecisionOut


class ReviewItemOut(BaseModel):
    """The item a review is about."""

    type: str
    occurred_at: str
    purposes: list[PurposeOut]
    holds: list[str]


class ReviewOut(BaseModel):
    """One disposition review."""

    review_id: str
    item_id: str
    state: str = Field(description="pending, destroy or extended.")
    purposes: list[str]
    opened_at: str
    decided_at: str | None
    decided_by: str | None
    justification: str | None
    extend_by: str | None = Field(description="ISO 8601 duration of an extension.")
    expires_at: str | None = Field(description="The new expiry an extension gave.")
    item: ReviewItemOut | None = None


class ReviewListOut(BaseModel):
    """Reviews in one state, oldest first."""

    reviews: list[ReviewOut]


def production_json(record: ProductionRecord) -> dict[str, Any]:
    """A legal production: its state, progress and, once ready, its zip's size and digest."""
    total = record.items_total
    return {
        "production_id": record.production_id,
        "hold_id": record.hold_id,
        "matter": record.matter,
        "status": record.status.value,
        "requested_by": record.requested_by,
        "requested_at": record.requested_at.isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "progress": {
            "items_total": total,
            "items_done": record.items_done,
            "bytes_done": record.bytes_done,
            "percent": 100.0 if total == 0 else round(100.0 * record.items_done / total, 1),
        },
        "size_bytes": record.stored.content.size_bytes if record.stored else None,
        "sha256": record.stored.content.sha256 if record.stored else None,
        "kid": record.kid,
        "error": record.error,
    }


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
    checkpoints: int | None = Field(
        default=None, description="Signed checkpoints the chain was found to match."
    )
    checkpoint_broken_seq: int | None = Field(
        default=None,
        description="The first signed checkpoint the chain no longer matches (a rewrite).",
    )


class AuditCheckpointOut(BaseModel):
    """A signed checkpoint of the audit chain head."""

    seq: int = Field(description="The head entry's seq when signed.")
    hash: str = Field(description="That entry's hash.")
    at: str = Field(description="When it was signed (RFC 3339).")
    kid: str = Field(description="The signing key, as listed at /v1/signing-keys.")
    signature: str = Field(
        description="Ed25519 (base64url) over the JSON {at, hash, seq}, keys sorted, no spaces."
    )


class AuditCheckpointPageOut(BaseModel):
    """Signed checkpoints, oldest first."""

    checkpoints: list[AuditCheckpointOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null: done.")


# --- Holds, checkpoints, dead letters -----------------------------------------------------


def hold_json(record: HoldRecord) -> dict[str, Any]:
    """A hold as the API shows it (SPEC section 5 fields plus counts)."""
    return {
        "hold_id": record.hold_id,
        "matter": record.matter,
        "description": record.description,
        "criteria": criteria_to_json(record.criteria),
        "created_by": record.created_by,
        "created_at": record.created_at.isoformat(),
        "released_at": _at(record.released_at),
        "released_by": record.released_by,
        "release_reason": record.release_reason,
        "active": record.active,
        "matched": record.matched,
        # Items whose S3 legal-hold flag is still to follow the catalog (0: all in place).
        "flags_pending": record.flags_pending,
    }


def checkpoint_json(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A signed checkpoint of the audit chain head."""
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": checkpoint.at.isoformat(),
        "kid": checkpoint.kid,
        "signature": checkpoint.signature,
    }


def dead_letter_json(letter: DeadLetterRecord) -> dict[str, Any]:
    """A dead-lettered message: why, where it was, and its event id and source if known."""
    return {
        "reason": letter.reason,
        "error": letter.error,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "event_id": letter.event_id,
        "source": letter.source,
        "failed_at": letter.failed_at.isoformat(),
    }


# --- Subject rights -----------------------------------------------------------------------


def recipient_json(recipient: Recipient) -> dict[str, Any]:
    """A recipient of earlier disclosures to tell of a change."""
    return {
        "recipient": recipient.recipient,
        "disclosure_id": recipient.disclosure_id,
        "reference": recipient.reference,
        "item_ids": list(recipient.item_ids),
    }


def consent_json(result: ConsentResult) -> dict[str, Any]:
    """What a consent grant or withdrawal did."""
    return {
        "subject_id": result.subject_id,
        "purpose": result.purpose,
        "granted": result.granted,
        "changed": result.change is Change.CHANGED,
        "items_changed": list(result.items_changed),
    }


def objection_json(result: ObjectionResult) -> dict[str, Any]:
    """What an objection did: ``ignored`` names purposes an objection cannot remove."""
    return {
        "subject_id": result.subject_id,
        "purposes": None if result.purposes is None else list(result.purposes),
        "ignored": list(result.ignored),
        "items_changed": list(result.items_changed),
    }


def restriction_json(result: RestrictionResult) -> dict[str, Any]:
    """What a restriction or its lifting did: ``restricted`` is what is in force now."""
    return {
        "subject_id": result.subject_id,
        "restricted": result.restricted,
        "changed": result.change is Change.CHANGED,
        "lifting_at": _at(result.lifting_at),
        "recipients_to_inform": [recipient_json(r) for r in result.recipients],
    }


def retained_json(item: RetainedItem) -> dict[str, Any]:
    """``{"item_id", "reason"}`` as SPEC section 7 answers it, and what changed."""
    return {
        "item_id": item.item_id,
        "reason": item.reason,
        "dropped_purposes": list(item.dropped_purposes),
        "kept_purposes": list(item.kept_purposes),
    }


def erasure_json(result: ErasureResult) -> dict[str, Any]:
    """``{"erased": [..], "retained": [{"item_id", "reason"}..]}`` plus the request id."""
    return {
        "request_id": result.request_id,
        "subject_id": result.subject_id,
        "erased": list(result.erased),
        "retained": [retained_json(r) for r in result.retained],
        "deferred": list(result.deferred),
        "recipients_to_inform": [recipient_json(r) for r in result.recipients],
    }


def rectified_item_json(item: RectifiedItem) -> dict[str, Any]:
    """What a rectification changed on one item: its parties before and after, and more."""
    return {
        "item_id": item.item_id,
        "before": list(item.before),
        "after": list(item.after),
        "purposes_added": list(item.purposes_added),
        "purposes_removed": list(item.purposes_removed),
        "holds_added": list(item.holds_added),
    }


def rectification_json(result: RectificationResult) -> dict[str, Any]:
    """``{"subject_id", "new_subject_id", "items": [..], "recipients_to_inform": [..]}``."""
    return {
        "subject_id": result.subject_id,
        "new_subject_id": result.new_subject_id,
        "items": [rectified_item_json(i) for i in result.items],
        "recipients_to_inform": [recipient_json(r) for r in result.recipients],
    }


def access_report_json(report: AccessReport) -> dict[str, Any]:
    """The access report: a versioned document (``format``), the same in a subject's export."""
    return report.as_record()
