"""Artefact events of SPEC section 3 for the benchmarks, with made-up parties.

Every event of a run gets a unique ``event_id`` (run id and index), so nothing is taken for
a redelivery. Addresses are invented (``+4470000…``, ``…@bench.invalid``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: The topic kind (``calls``, ``emails``, ``chats``) of each artefact type.
TOPIC_KIND = {"call_recording": "calls", "email": "emails", "chat": "chats"}
SOURCE = "keepline-bench"


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message: the topic kind it goes to, its key and its JSON value."""

    kind: str
    key: bytes
    value: bytes


def message(event: dict[str, Any]) -> Message:
    """The Kafka message of an event: keyed by its call, message or conversation id."""
    key_field = {"call_recording": "call_id", "email": "message_id", "chat": "conversation_id"}
    kind = event["type"]
    return Message(
        kind=TOPIC_KIND[kind],
        key=str(event[key_field[kind]]).encode(),
        value=json.dumps(event, separators=(",", ":")).encode(),
    )


def _parties(index: int, subject_id: str) -> list[dict[str, str]]:
    return [
        {"role": "customer", "address": f"+44700{index:08d}", "subject_id": subject_id},
        {"role": "agent", "address": f"agent-{index % 50}@bench.invalid", "staff_id": "bench"},
    ]


def call_recording(
    *,
    run_id: str,
    index: int,
    subject_id: str,
    occurred_at: datetime,
    uri: str,
    sha256: str,
    size_bytes: int,
) -> dict[str, Any]:
    """A call-recording event whose recording is claim-checked at uri."""
    ended_at = occurred_at + timedelta(minutes=5)
    return {
        "type": "call_recording",
        "event_id": f"{run_id}:call:{index}",
        "source": SOURCE,
        "occurred_at": occurred_at.isoformat(),
        "call_id": f"{run_id}-call-{index}",
        "direction": "inbound",
        "started_at": occurred_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "parties": _parties(index, subject_id),
        "attributes": {"queue": "support", "bench": run_id},
        "content": {
            "uri": uri,
            "sha256": sha256,
            "size_bytes": size_bytes,
            "content_type": "audio/wav",
        },
    }


def email(*, run_id: str, index: int, subject_id: str, occurred_at: datetime) -> dict[str, Any]:
    """A metadata-only e-mail event (no content: valid per SPEC section 3)."""
    return {
        "type": "email",
        "event_id": f"{run_id}:email:{index}",
        "source": SOURCE,
        "occurred_at": occurred_at.isoformat(),
        "message_id": f"<{run_id}.{index}@bench.invalid>",
        "direction": "outbound",
        "subject": f"Bench message {index}",
        "parties": _parties(index, subject_id),
        "attributes": {"bench": run_id},
    }


def chat(
    *,
    run_id: str,
    index: int,
    subject_id: str,
    occurred_at: datetime,
    text: bytes | None = None,
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A chat event: metadata only, or with text inline."""
    event: dict[str, Any] = {
        "type": "chat",
        "event_id": f"{run_id}:chat:{index}",
        "source": SOURCE,
        "occurred_at": occurred_at.isoformat(),
        "conversation_id": f"{run_id}-conv-{index}",
        "platform": "webchat",
        "parties": _parties(index, subject_id),
        "attributes": {"bench": run_id, **(attributes or {})},
    }
    if text is not None:
        event["content_inline"] = {
            "data_b64": base64.b64encode(text).decode("ascii"),
            "content_type": "application/octet-stream",
        }
    return event
