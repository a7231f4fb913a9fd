"""JSON shapes of items (SPEC section 7)."""

from __future__ import annotations

from typing import Any

from storage.models import ItemRecord


def item_json(record: ItemRecord) -> dict[str, Any]:
    """The fields of section 3 plus item_id, ingested_at, purposes, holds, restricted, …"""
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
