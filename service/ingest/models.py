"""The wire format of SPEC section 3: artefact and consent events, validated with pydantic."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.media_type import parse_media_type

#: The Kafka header the API sets on every event it publishes: its caller's principal. An
#: event without it was published straight to Kafka: `submitted_by` is `kafka:<topic>`.
SUBMITTED_BY_HEADER = "keepline-submitted-by"
#: The longest principal recorded as `submitted_by`.
MAX_PRINCIPAL_CHARS = 200

MAX_INLINE_BYTES = 512 * 1024

Direction = Literal["inbound", "outbound", "internal"]


class FieldValueError(ValueError):
    """A check of a whole event that is about one of its fields (named in the error)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InlineTooLargeError(ValueError):
    """Inline content decodes to more than MAX_INLINE_BYTES."""


class _Model(BaseModel):
    # Producers may add fields (the contract can be extended); they are kept, not refused.
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)


class Party(_Model):
    """Someone who took part: an E.164 number, e-mail address or chat handle."""

    address: str = Field(min_length=1, max_length=320)
    role: str | None = Field(default=None, max_length=100)
    subject_id: str | None = Field(default=None, min_length=1, max_length=200)
    staff_id: str | None = Field(default=None, min_length=1, max_length=200)
    display_name: str | None = Field(default=None, max_length=300)


class ContentRef(_Model):
    """A claim check: the artefact's bytes live outside Kafka."""

    uri: str = Field(min_length=1, max_length=2000)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size_bytes: int = Field(ge=0)
    content_type: str = Field(min_length=1, max_length=200)

    # Served back as a header: a media type, never free text (CR/LF would split headers).
    _media_type = field_validator("content_type")(parse_media_type)

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].lower()
        if scheme not in {"s3", "http", "https", "file"}:
            raise ValueError("uri scheme must be s3, http, https or file")
        return value


class InlineContent(_Model):
    """Small artefacts carried in the event itself (at most 512 KiB decoded)."""

    data_b64: str
    content_type: str = Field(min_length=1, max_length=200)

    _media_type = field_validator("content_type")(parse_media_type)

    @field_validator("data_b64")
    @classmethod
    def _decodes(cls, value: str) -> str:
        # Length check first: never decode something far larger than allowed.
        if len(value) > (MAX_INLINE_BYTES // 3 + 1) * 4 + 8:
            raise InlineTooLargeError(f"inline content is larger than {MAX_INLINE_BYTES} bytes")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError("data_b64 is not valid base64") from err
        if len(data) > MAX_INLINE_BYTES:
            raise InlineTooLargeError(f"inline content is larger than {MAX_INLINE_BYTES} bytes")
        return value

    def data(self) -> bytes:
        """The decoded bytes."""
        return base64.b64decode(self.data_b64)


class _Artefact(_Model):
    event_id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=100)
    occurred_at: AwareDatetime
    parties: list[Party] = Field(min_length=1)
    attributes: dict[str, str] = Field(default_factory=dict)
    content: ContentRef | None = None
    content_inline: InlineContent | None = None

    @model_validator(mode="after")
    def _one_content(self) -> _Artefact:
        if self.content is not None and self.content_inline is not None:
            raise FieldValueError("content_inline", "give content or content_inline, not both")
        return self

    def key(self) -> str:
        """The Kafka message key: the call, message or conversation id."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """The event without its content (kept in the catalog)."""
        return self.model_dump(mode="json", exclude={"content", "content_inline"})

    def subject_ids(self) -> frozenset[str]:
        """Data subjects among the parties."""
        return frozenset(p.subject_id for p in self.parties if p.subject_id)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the event as validated, content reference included.

        The same event redelivered or republished has the same fingerprint, whatever the
        order of its JSON keys; an event reusing its (source, event_id) with any other
        field changed has another.
        """
        return _fingerprint(self.model_dump(mode="json"))

    def metadata_and_fingerprint(self) -> tuple[dict[str, Any], str]:
        """`metadata()` and `fingerprint()` from one dump of the event (both per item)."""
        dumped = self.model_dump(mode="json")
        fingerprint = _fingerprint(dumped)
        dumped.pop("content", None)
        dumped.pop("content_inline", None)
        return dumped, fingerprint


def _fingerprint(dumped: dict[str, Any]) -> str:
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CallRecording(_Artefact):
    """A recorded call; the recording is in content (or, if small, content_inline)."""

    type: Literal["call_recording"]
    call_id: str = Field(min_length=1, max_length=200)
    direction: Direction
    started_at: AwareDatetime
    ended_at: AwareDatetime

    @model_validator(mode="after")
    def _has_recording(self) -> CallRecording:
        if self.content is None and self.content_inline is None:
            raise FieldValueError("content", "a call_recording needs its recording in content")
        if self.ended_at < self.started_at:
            raise FieldValueError("ended_at", "ended_at is before started_at")
        return self

    def key(self) -> str:
        """The call id."""
        return self.call_id


class Email(_Artefact):
    """An e-mail; the RFC 5322 message by reference, or metadata only."""

    type: Literal["email"]
    message_id: str = Field(min_length=1, max_length=1000)
    direction: Direction
    subject: str | None = Field(default=None, max_length=2000)

    def key(self) -> str:
        """The message id."""
        return self.message_id


class Chat(_Artefact):
    """A chat message or transcript, inline or by reference."""

    type: Literal["chat"]
    conversation_id: str = Field(min_length=1, max_length=200)
    platform: str = Field(min_length=1, max_length=100)

    def key(self) -> str:
        """The conversation id."""
        return self.conversation_id


ArtefactEvent = Annotated[CallRecording | Email | Chat, Field(discriminator="type")]
artefact_adapter: TypeAdapter[CallRecording | Email | Chat] = TypeAdapter(ArtefactEvent)

TOPIC_OF_TYPE = {"call_recording": "calls", "email": "emails", "chat": "chats"}
ARTEFACT_TYPES = frozenset(TOPIC_OF_TYPE)


def error_field(err: ValidationError, *, tags: frozenset[str] = frozenset()) -> tuple[str, str]:
    """The dotted path of the first invalid field, and what is wrong with it.

    Args:
        err: The validation error.
        tags: Discriminator values of a tagged union: pydantic puts the tag first in the
            location (``call_recording.parties``), which is not a field of the event.

    Returns:
        ``(field, message)``; the field is ``(root)`` for a fault of the whole object.
    """
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    if loc and loc[0] in tags:
        loc = loc[1:]
    cause = (first.get("ctx") or {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else first["msg"]
    if isinstance(cause, FieldValueError):
        loc.append(cause.field)
    return ".".join(loc) or "(root)", message


def validate_artefact(body: Any) -> CallRecording | Email | Chat:
    """Validate a decoded artefact event (SPEC section 3).

    Raises:
        BadEventError: With the dead-letter reason and the bad field named, e.g.
            ``parties: List should have at least 1 item after validation``.
    """
    if not isinstance(body, dict):
        raise BadEventError(
            DeadLetterReason.SCHEMA_VIOLATION, "(root): not a JSON object", field="(root)"
        )
    kind = body.get("type")
    if kind is None:
        raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, "type: required", field="type")
    if not isinstance(kind, str):  # a list or an object cannot even be looked up
        raise BadEventError(
            DeadLetterReason.SCHEMA_VIOLATION,
            f"type: must be a string, one of {', '.join(sorted(ARTEFACT_TYPES))}",
            field="type",
        )
    if kind not in ARTEFACT_TYPES:
        raise BadEventError(
            DeadLetterReason.UNKNOWN_TYPE,
            f"type: unknown type {kind!r}; one of {', '.join(sorted(ARTEFACT_TYPES))}",
            field="type",
        )
    try:
        return artefact_adapter.validate_python(body)
    except ValidationError as err:
        field, message = error_field(err, tags=ARTEFACT_TYPES)
        cause = (err.errors()[0].get("ctx") or {}).get("error")
        reason = (
            DeadLetterReason.INLINE_TOO_LARGE
            if isinstance(cause, InlineTooLargeError)
            else DeadLetterReason.SCHEMA_VIOLATION
        )
        raise BadEventError(reason, f"{field}: {message}", field=field) from err


def validate_consent(body: Any) -> ConsentEvent:
    """Validate a decoded consent event; raises BadEventError naming the field."""
    if not isinstance(body, dict):
        raise BadEventError(
            DeadLetterReason.SCHEMA_VIOLATION, "(root): not a JSON object", field="(root)"
        )
    try:
        return ConsentEvent.model_validate(body)
    except ValidationError as err:
        field, message = error_field(err)
        raise BadEventError(
            DeadLetterReason.SCHEMA_VIOLATION, f"{field}: {message}", field=field
        ) from err


class ConsentEvent(_Model):
    """Consent, objection and restriction events from CRM systems (privacy.consent)."""

    event_id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=100)
    occurred_at: AwareDatetime
    subject_id: str = Field(min_length=1, max_length=200)
    action: Literal["grant", "withdraw", "object", "restrict", "unrestrict"]
    purpose: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _purpose_when_needed(self) -> ConsentEvent:
        if self.action in {"grant", "withdraw"} and not self.purpose:
            raise FieldValueError("purpose", f"purpose is required for {self.action}")
        return self
