"""JSON shapes of the API (SPEC section 7): how records are shown, and their OpenAPI models.

Routes build plain dicts with the functions here and return them as JSONResponse; the
pydantic models describe the same shapes in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storage.models import AuditEntry, ChainVerdict, ItemRecord


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
