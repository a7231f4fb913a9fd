"""What the retention, hold, WORM and policy-version tests share: a second-scale policy,
artefact events, waiting for the stored item, and the catalog's tombstones and audit rows.

A policy of second-scale retentions and a one-second sweep interval make the clock visible.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from minio import Minio
from sqlalchemy import select

from storage.models import object_key_for
from storage.sql.schema import audit, tombstones
from tests.integration.catalog_support import catalog_select
from tests.integration.keepline_service import KeeplineService, wait_for

SWEEP_INTERVAL_S = 1.0
#: How late a destruction may come after the last expiry: one interval, plus the time a
#: pass itself takes on a busy two-core machine.
LATE_S = SWEEP_INTERVAL_S + 2.0

POLICY = """
purposes:
  quality:  {basis: legitimate_interests, retention: PT6S,  roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: PT12S, roles: [qa]}
  legal:    {basis: legal_obligation,     retention: PT12S, roles: [legal], worm: true}
rules:
  - match: {type: chat}
    purposes: [quality, training]
  - match: {type: call_recording}
    purposes: [quality, legal]
"""


def fast_sweeps(**extra: str) -> dict[str, str]:
    """Environment for a service that sweeps every second."""
    return {"KEEPLINE_SWEEP_INTERVAL_S": str(SWEEP_INTERVAL_S), **extra}


def artefact(
    kind: str,
    *,
    subject: str = "cust-1",
    staff: str | None = None,
    data: bytes | None = b"Hi! My router keeps dropping the line.",
    attributes: dict[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """An artefact event of SPEC section 3 that happened now, content inline."""
    at = (occurred_at or datetime.now(UTC)).isoformat()
    ident = uuid.uuid4().hex[:12]
    parties: list[dict[str, str]] = [
        {"role": "customer", "address": f"visitor-{ident}", "subject_id": subject}
    ]
    if staff:
        parties.append({"role": "agent", "address": f"{staff}@example.co.uk", "staff_id": staff})
    event: dict[str, Any] = {
        "type": kind,
        "event_id": f"ev-{ident}",
        "source": "test-source",
        "occurred_at": at,
        "parties": parties,
        "attributes": attributes or {},
    }
    if kind == "chat":
        event.update(conversation_id=f"conv-{ident}", platform="webchat")
    elif kind == "email":
        event.update(message_id=f"<{ident}@mail.example>", direction="inbound", subject="hi")
    else:
        event.update(call_id=f"call-{ident}", direction="inbound", started_at=at, ended_at=at)
    if data is not None:
        event["content_inline"] = {
            "data_b64": base64.b64encode(data).decode(),
            "content_type": "text/plain",
        }
    return event


TOPICS = {"chat": "chats", "email": "emails", "call_recording": "calls"}


def ingest(service: KeeplineService, event: dict[str, Any]) -> dict[str, Any]:
    """Publish an event and wait until legal sees the stored item; the item's JSON."""
    service.publish(TOPICS[event["type"]], event, key=event["event_id"].encode())
    subject = event["parties"][0]["subject_id"]
    with service.client("legal") as http:

        def stored() -> dict[str, Any] | None:
            found = http.get("/v1/items", params={"subject_id": subject}).json()["items"]
            return next((i for i in found if i["event_id"] == event["event_id"]), None)

        return wait_for(stored, timeout_s=60, what=f"{event['type']} to be stored")


def expiry(item: dict[str, Any], purpose: str) -> datetime:
    """When one of an item's purposes expires."""
    found = next(p for p in item["purposes"] if p["name"] == purpose)
    return datetime.fromisoformat(found["expires_at"])


def sleep_until(at: datetime) -> None:
    """Wait until the wall clock passes at."""
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def tombstone(service: KeeplineService, item_id: str) -> dict[str, Any] | None:
    """The item's tombstone, if it was destroyed."""
    rows = catalog_select(service, select(tombstones).where(tombstones.c.item_id == item_id))
    return rows[0] if rows else None


def audit_actions(service: KeeplineService, action: str) -> list[dict[str, Any]]:
    """Audit entries of one action, oldest first (actor, item_id, details)."""
    query = (
        select(audit.c.actor, audit.c.item_id, audit.c.details)
        .where(audit.c.action == action)
        .order_by(audit.c.seq)
    )
    return catalog_select(service, query)


def object_versions(minio_client: Minio, service: KeeplineService, item_id: str) -> list[Any]:
    """Every version and delete marker of the item's object in MinIO."""
    key = object_key_for(item_id)
    return [
        o
        for o in minio_client.list_objects(service.bucket, prefix=key, include_version=True)
        if o.object_name == key
    ]


def wait_versions_gone(minio_client: Minio, service: KeeplineService, item_id: str) -> None:
    """Wait until the item's object has no version left.

    A background destruction commits the tombstone first and removes the versions just
    after, so a test that saw the tombstone waits for that outcome rather than racing it.
    """
    wait_for(
        lambda: not object_versions(minio_client, service, item_id),
        timeout_s=60,
        what=f"the object versions of {item_id} to be removed",
    )
