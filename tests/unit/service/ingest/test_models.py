import base64
from typing import Any

import pytest

from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.models import MAX_INLINE_BYTES, CallRecording, Chat, Email, validate_artefact
from tests.unit.conftest import example


def test_every_contract_example_validates() -> None:
    assert isinstance(validate_artefact(example("call_recording")), CallRecording)
    assert isinstance(validate_artefact(example("email")), Email)
    chat = validate_artefact(example("chat"))
    assert isinstance(chat, Chat)
    assert chat.key() == "conv-991"
    assert chat.content_inline is not None
    assert chat.content_inline.data().startswith(b"Hi!")


def test_an_email_without_content_is_valid_metadata() -> None:
    email = example("email")
    del email["content"]
    event = validate_artefact(email)
    assert event.content is None
    assert event.metadata()["message_id"] == email["message_id"]


@pytest.mark.parametrize("kind", ["call_recording", "email", "chat"])
def test_metadata_and_fingerprint_from_one_dump_match_each_alone(kind: str) -> None:
    event = validate_artefact(example(kind))
    metadata, fingerprint = event.metadata_and_fingerprint()
    assert metadata == event.metadata()
    assert list(metadata) == list(event.metadata())
    assert fingerprint == event.fingerprint()
    assert "content" not in metadata
    assert "content_inline" not in metadata


def _call(**changes: Any) -> dict[str, Any]:
    event = example("call_recording")
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (_call(parties=[]), DeadLetterReason.SCHEMA_VIOLATION, "parties"),
        (_call(content=None), DeadLetterReason.SCHEMA_VIOLATION, "content"),
        (
            _call(ended_at="2026-11-21T09:00:00+00:00"),
            DeadLetterReason.SCHEMA_VIOLATION,
            "ended_at",
        ),
        (
            _call(occurred_at="2026-11-21T10:00:00"),
            DeadLetterReason.SCHEMA_VIOLATION,
            "occurred_at",
        ),
        (_call(direction="sideways"), DeadLetterReason.SCHEMA_VIOLATION, "direction"),
        (_call(event_id=""), DeadLetterReason.SCHEMA_VIOLATION, "event_id"),
        (_call(type="fax"), DeadLetterReason.UNKNOWN_TYPE, "type"),
        (_call(type=None), DeadLetterReason.SCHEMA_VIOLATION, "type"),
        ([1, 2], DeadLetterReason.SCHEMA_VIOLATION, "(root)"),
    ],
)
def test_errors_name_the_field_without_the_union_tag(
    body: Any, reason: DeadLetterReason, field: str
) -> None:
    with pytest.raises(BadEventError) as refused:
        validate_artefact(body)
    assert refused.value.reason is reason
    assert refused.value.field == field
    assert refused.value.error.startswith(f"{field}: ")
    assert "call_recording." not in refused.value.error


def test_nested_fields_keep_their_path() -> None:
    body = _call()
    body["content"]["sha256"] = "not-hex"
    body["parties"][1]["address"] = ""
    with pytest.raises(BadEventError) as refused:
        validate_artefact(body)
    assert refused.value.field in {"content.sha256", "parties.1.address"}


def test_inline_content_over_the_limit_has_its_own_reason() -> None:
    chat = example("chat")
    chat["content_inline"]["data_b64"] = base64.b64encode(b"x" * (MAX_INLINE_BYTES + 1)).decode()
    with pytest.raises(BadEventError) as refused:
        validate_artefact(chat)
    assert refused.value.reason is DeadLetterReason.INLINE_TOO_LARGE
    assert refused.value.field == "content_inline.data_b64"
    chat["content_inline"]["data_b64"] = base64.b64encode(b"x" * MAX_INLINE_BYTES).decode()
    assert validate_artefact(chat).content_inline is not None


def test_content_and_inline_content_together_are_refused() -> None:
    chat = example("chat")
    chat["content"] = example("email")["content"]
    with pytest.raises(BadEventError) as refused:
        validate_artefact(chat)
    assert refused.value.field == "content_inline"


HOSTILE_CONTENT_TYPES = [
    "audio/wav\r\nSet-Cookie: a=b",
    "audio/wav\n",
    "text/html\x00",
    "audio",
    "audio/",
    "/wav",
    "audio/wav; charset",
    'text/plain; charset="utf-8',
    "audio/wäv",
    "audio/" + "w" * 200,
]


@pytest.mark.parametrize("content_type", HOSTILE_CONTENT_TYPES)
def test_a_content_type_that_is_not_a_media_type_is_refused(content_type: str) -> None:
    call = _call()
    call["content"]["content_type"] = content_type
    chat = example("chat")
    chat["content_inline"]["content_type"] = content_type
    for body, field in ((call, "content.content_type"), (chat, "content_inline.content_type")):
        with pytest.raises(BadEventError) as refused:
            validate_artefact(body)
        assert refused.value.reason is DeadLetterReason.SCHEMA_VIOLATION
        assert refused.value.field == field


@pytest.mark.parametrize(
    "content_type", ["audio/wav", "text/plain; charset=utf-8", 'multipart/mixed; boundary="a b"']
)
def test_media_types_with_parameters_are_kept_as_given(content_type: str) -> None:
    call = _call()
    call["content"]["content_type"] = content_type
    event = validate_artefact(call)
    assert event.content is not None
    assert event.content.content_type == content_type
