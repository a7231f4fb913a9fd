"""Request schemas and examples of the OpenAPI document, and its finishing touches.

The artefact events are the stream workers' own pydantic models (`service.ingest.models`): their
JSON schema is the request body of ``POST /v1/events``, so the document cannot drift from
what is validated. The examples are the contract's (``docs/contract/examples``; a unit test
keeps the two equal). `complete_document` adds the event schemas to the components and turns
route docstrings into descriptions for people: no Google-style sections, no module paths.
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from typing import Any, Final

from service.ingest.models import artefact_adapter

_REF = "#/components/schemas/{model}"

#: The contract's example events (docs/contract/examples), one per artefact type.
EVENT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "call_recording": {
        "type": "call_recording",
        "event_id": "pbx-ldn-1:2026-11-21:000123",
        "source": "pbx-london-1",
        "occurred_at": "2026-11-21T10:00:00+00:00",
        "call_id": "c-8f2a61",
        "direction": "inbound",
        "started_at": "2026-11-21T10:00:00+00:00",
        "ended_at": "2026-11-21T10:05:12+00:00",
        "parties": [
            {"role": "caller", "address": "+447700900123", "subject_id": "cust-42"},
            {"role": "agent", "address": "+442071234567", "staff_id": "agent-7"},
        ],
        "attributes": {"queue": "sales", "site": "london"},
        "content": {
            "uri": "s3://staging/pbx-london-1/c-8f2a61.wav",
            "sha256": "9f2c6a1e0b7d4c3f5a8e2b1d0c9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
            "size_bytes": 4993024,
            "content_type": "audio/wav",
        },
    },
    "email": {
        "type": "email",
        "event_id": "mx-1:<20261121.4711@mail.example.co.uk>",
        "source": "mx-1",
        "occurred_at": "2026-11-21T09:12:44+00:00",
        "message_id": "<20261121.4711@mail.example.co.uk>",
        "direction": "outbound",
        "subject": "Your contract renewal",
        "parties": [
            {"role": "from", "address": "accounts@example.co.uk", "staff_id": "agent-3"},
            {"role": "to", "address": "jane.doe@example.org", "subject_id": "cust-42"},
        ],
        "content": {
            "uri": "s3://staging/mx-1/4711.eml",
            "sha256": "0d4e1c2b3a49586776a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3",
            "size_bytes": 18211,
            "content_type": "message/rfc822",
        },
    },
    "chat": {
        "type": "chat",
        "event_id": "webchat:conv-991:msg-17",
        "source": "webchat",
        "occurred_at": "2026-11-21T11:30:05+00:00",
        "conversation_id": "conv-991",
        "platform": "webchat",
        "parties": [
            {"role": "sender", "address": "visitor-5521", "subject_id": "cust-42"},
            {"role": "recipient", "address": "agent-7@example.co.uk", "staff_id": "agent-7"},
        ],
        "attributes": {"queue": "support"},
        "content_inline": {
            "data_b64": "SGkhIE15IHJvdXRlciBrZWVwcyBkcm9wcGluZyB0aGUgbGluZS4=",
            "content_type": "text/plain; charset=utf-8",
        },
    },
}

#: What each field of the event models means, for people reading the document.
_FIELD_NOTES: Final[dict[str, dict[str, str]]] = {
    "Party": {
        "address": "An E.164 number (+447700900123), an e-mail address or a chat handle.",
        "role": "The party's part in the communication, free text: e.g. caller, agent "
        "(calls); from, to, cc (e-mail); sender, recipient (chat).",
        "subject_id": "Links the party to a data subject (a customer).",
        "staff_id": "Links the party to an employee.",
        "display_name": "The name shown for the party.",
    },
    "ContentRef": {
        "uri": "Where keepline fetches the bytes: s3://bucket/key on the configured S3 "
        "endpoint, http:// or https:// from an origin in KEEPLINE_CONTENT_SOURCES, or "
        "file:// where the operator allows it.",
        "sha256": "Hex SHA-256 of the bytes; a mismatch dead-letters the event.",
        "size_bytes": "Exact size of the bytes; a mismatch dead-letters the event.",
        "content_type": "An RFC 9110 media type, e.g. audio/wav or message/rfc822.",
    },
    "InlineContent": {
        "data_b64": "The bytes in base64 (at most 512 KiB decoded).",
        "content_type": "An RFC 9110 media type, e.g. text/plain; charset=utf-8.",
    },
    "_Artefact": {
        "event_id": "Unique within source; (source, event_id) is the idempotency key.",
        "source": "The publishing system, e.g. pbx-london-1.",
        "occurred_at": "RFC 3339 with an offset; retention clocks start here.",
        "parties": "Who took part; at least one.",
        "attributes": "Free string attributes that policy rules match on (queue, desk, ...).",
        "content": "The artefact's bytes by reference (claim check): uri, sha256, size_bytes, "
        "content_type. Required for a call_recording unless content_inline is given.",
        "content_inline": "Small artefacts in the event itself; not together with content.",
        "direction": "inbound, outbound or internal.",
        "call_id": "The call's id; the Kafka message key.",
        "started_at": "RFC 3339 with an offset.",
        "ended_at": "RFC 3339 with an offset; not before started_at.",
        "message_id": "The RFC 5322 Message-ID; the Kafka message key.",
        "subject": "The e-mail's subject line.",
        "conversation_id": "The conversation's id; the Kafka message key.",
        "platform": "e.g. teams, slack, webchat, sms.",
    },
}
_ARTEFACT_MODELS: Final = ("CallRecording", "Email", "Chat")


def _event_schemas() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The union's schema and its component schemas, with field notes added."""
    union = artefact_adapter.json_schema(ref_template=_REF)
    components: dict[str, dict[str, Any]] = union.pop("$defs")
    for name, schema in components.items():
        notes = _FIELD_NOTES.get(name, {})
        if name in _ARTEFACT_MODELS:
            notes = _FIELD_NOTES["_Artefact"]
            schema["examples"] = [EVENT_EXAMPLES[schema["properties"]["type"]["const"]]]
        for field, note in notes.items():
            if field in schema.get("properties", {}):
                schema["properties"][field]["description"] = note
    union["description"] = (
        "One artefact event of SPEC section 3; `type` says which: call_recording, email, chat."
    )
    return union, components


EVENT_UNION_SCHEMA, EVENT_COMPONENTS = _event_schemas()

#: `openapi_extra` of POST /v1/events: the discriminated union and the contract's examples.
EVENT_REQUEST_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": EVENT_UNION_SCHEMA,
                "examples": {
                    name: {"summary": f"A {name.replace('_', ' ')} event", "value": value}
                    for name, value in EVENT_EXAMPLES.items()
                },
            }
        },
    }
}


def example_policy_text() -> str:
    """The policy YAML keepline ships: the example of the policy routes' bodies."""
    return resources.files("policies").joinpath("example_policy.yaml").read_text("utf-8")


def policy_request_body() -> dict[str, Any]:
    """`openapi_extra` of the routes that take a policy: YAML, text or ``{"policy": ...}``."""
    text = example_policy_text()
    yaml_body = {"schema": {"type": "string", "minLength": 1}, "example": text}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": yaml_body,
                "text/plain": copy.deepcopy(yaml_body),
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "policy": {
                                "type": "string",
                                "minLength": 1,
                                "description": "The policy YAML (SPEC section 4).",
                            }
                        },
                        "required": ["policy"],
                    },
                    "example": {"policy": text},
                },
            },
        }
    }


# Google-style docstring sections: for maintainers, not for the people calling the API.
_SECTION = re.compile(
    r"^(Args|Arguments|Returns|Yields|Raises|Attributes|Note|Notes|Example|Examples):\s*$"
)
# Dotted paths into keepline's own packages, in or out of parentheses and backticks.
_INTERNAL_PATH = re.compile(
    r"\s*\(?`{1,2}(?:api|streams|service|storage|policies|keepline|deploy)\.[\w.]+`{1,2}\)?"
)


def public_description(text: str) -> str:
    """A route docstring as the API's users should read it.

    Drops Google-style sections (``Raises:`` and the like, with their indented bodies) and
    references to keepline's modules, and turns reStructuredText literals into Markdown.
    """
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if _SECTION.match(line.strip()) and not line.startswith((" ", "\t")):
            skipping = True
            continue
        if skipping and (not line.strip() or line.startswith((" ", "\t"))):
            continue
        skipping = False
        kept.append(line)
    cleaned = _INTERNAL_PATH.sub("", "\n".join(kept)).replace("``", "`")
    return cleaned.strip()


def complete_document(doc: dict[str, Any]) -> None:
    """Add the event schemas to the components and clean every operation's description."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in EVENT_COMPONENTS.items():
        schemas.setdefault(name, schema)
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "description" in operation:
                operation["description"] = public_description(operation["description"])
