"""MessageProcessor: one raw Kafka message to an outcome, never raising, never losing it.

Faust acknowledges a message when its agent raises, so nothing here may raise: bad input goes
to the dead-letter topic, a transient fault is retried with backoff while the partition waits
(no offset past the event is committed), and only then is the message done.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from service.errors import ServiceError
from service.ingest.errors import BadEventError, ContentUnavailableError, DeadLetterReason
from service.ingest.models import (
    MAX_PRINCIPAL_CHARS,
    SUBMITTED_BY_HEADER,
    ConsentEvent,
    artefact_adapter,
    validate_artefact,
    validate_consent,
)
from service.ingest.service import Artefact, IngestService
from storage.errors import StorageError
from storage.sql.dead_letters import MAX_EVENT_ID_CHARS, MAX_SOURCE_CHARS, DeadLetterRecord
from streams.errors import StreamsError
from streams.metrics import StreamMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A consumed message as it came off the wire."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def submitted_by(self) -> str:
        """Who submitted the event: the API principal the API stamped, else kafka:<topic>."""
        for name, value in self.headers:
            if name == SUBMITTED_BY_HEADER:
                principal = value.decode("utf-8", "replace").strip()
                if 0 < len(principal) <= MAX_PRINCIPAL_CHARS and principal.isprintable():
                    return principal
        return f"kafka:{self.topic}"


class DeadLetterSink(Protocol):
    """Where messages that can never be accepted go, with their reason."""

    async def send(self, key: bytes | None, letter: dict[str, Any]) -> None:
        """Publish one dead letter and wait until the broker has it."""
        ...


class DeadLetterLog(Protocol):
    """Where each dead letter is also recorded, for reading without a Kafka client."""

    async def record(self, letter: DeadLetterRecord) -> bool:
        """Record one letter (idempotent per message position)."""
        ...


class ConsentHandler(Protocol):
    """Applies consent, objection and restriction events."""

    async def apply(self, event: ConsentEvent) -> None:
        """Apply one event (idempotently)."""
        ...


def parse_artefact(value: bytes | None) -> Artefact:
    """Decode and validate an artefact event, or raise BadEventError with its reason.

    A valid event is parsed and validated in one pass of pydantic's JSON parser; anything
    it refuses goes the long way (`json`, then the checks that name the reason and field),
    so a bad event is refused exactly as it always was.
    """
    if value is not None:
        try:
            return artefact_adapter.validate_json(value)
        except ValidationError:
            pass
    return validate_artefact(_json_object(value))


def parse_consent(value: bytes | None) -> ConsentEvent:
    """Decode and validate a consent event, or raise BadEventError."""
    return validate_consent(_json_object(value))


def _json_object(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise BadEventError(DeadLetterReason.INVALID_JSON, "message has no value")
    try:
        body = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadEventError(DeadLetterReason.INVALID_JSON, f"not UTF-8 JSON: {err}") from err
    if not isinstance(body, dict):
        raise BadEventError(
            DeadLetterReason.SCHEMA_VIOLATION, "(root): not a JSON object", field="(root)"
        )
    return body


def is_transient(err: BaseException) -> bool:
    """Whether waiting and retrying can help."""
    if isinstance(err, (StorageError, StreamsError, ServiceError)):
        return err.retriable
    return isinstance(err, (ConnectionError, TimeoutError))


class MessageProcessor:
    """Runs one message to completion: stored, dead-lettered, or retried until one of those."""

    def __init__(
        self,
        *,
        ingest: IngestService,
        consents: ConsentHandler,
        dead_letters: DeadLetterSink,
        metrics: StreamMetrics,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 15.0,
        content_deadline_s: float = 900.0,
        dead_letter_log: DeadLetterLog | None = None,
    ) -> None:
        self._ingest = ingest
        self._consents = consents
        self._dlq = dead_letters
        self._dead_letter_log = dead_letter_log
        self._metrics = metrics
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._content_deadline_s = content_deadline_s

    async def process_artefact(self, msg: RawMessage) -> None:
        """Ingest one artefact event."""
        self._metrics.consumed_in(msg.topic).inc()
        started = asyncio.get_running_loop().time()
        try:
            event = parse_artefact(msg.value)
        except BadEventError as err:
            await self._dead_letter(msg, err.reason, err.error)
            return

        async def run() -> None:
            outcome = await self._ingest.ingest(event, submitted_by=msg.submitted_by)
            if outcome.created:
                self._metrics.stored_of(event.type).inc()
                self._metrics.bytes_stored.inc(outcome.size_bytes)
                self._metrics.latency.observe(asyncio.get_running_loop().time() - started)
            else:
                self._metrics.duplicates.inc()

        await self._run(msg, run)

    async def process_consent(self, msg: RawMessage) -> None:
        """Apply one consent event."""
        self._metrics.consumed_in(msg.topic).inc()
        try:
            event = parse_consent(msg.value)
        except BadEventError as err:
            await self._dead_letter(msg, err.reason, err.error)
            return
        await self._run(msg, lambda: self._consents.apply(event))

    async def _run(self, msg: RawMessage, work: Callable[[], Awaitable[None]]) -> None:
        delay = self._retry_initial_s
        source_down_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                await work()
            except BadEventError as err:
                await self._dead_letter(msg, err.reason, err.error)
            except Exception as err:
                if not is_transient(err):
                    # The edge of the consumer loop: an unexpected failure must not stop the
                    # partition, and the message is kept whole in the dead-letter topic.
                    log.exception(
                        "unexpected failure at %s[%d]@%d", msg.topic, msg.partition, msg.offset
                    )
                    await self._dead_letter(
                        msg, DeadLetterReason.INTERNAL_ERROR, type(err).__name__
                    )
                    return
                if isinstance(err, ContentUnavailableError):
                    # Our own store and catalog are retried for ever; a content source that
                    # stays unreachable is, in the end, content that is missing.
                    source_down_since = source_down_since or loop.time()
                    if loop.time() - source_down_since >= self._content_deadline_s:
                        await self._dead_letter(
                            msg,
                            DeadLetterReason.CONTENT_MISSING,
                            f"content source unreachable for {self._content_deadline_s:.0f}s: "
                            f"{err}",
                        )
                        return
                else:
                    source_down_since = None
                self._metrics.retries.labels(error=type(err).__name__).inc()
                log.warning(
                    "transient fault at %s[%d]@%d (%s); retrying in %.1fs",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    type(err).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            return

    async def _dead_letter(self, msg: RawMessage, reason: DeadLetterReason, error: str) -> None:
        failed_at = datetime.now(UTC)
        letter = {
            "reason": reason.value,
            "error": error,
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
            "key": msg.key.decode("utf-8", "replace") if msg.key is not None else None,
            "value_b64": base64.b64encode(msg.value or b"").decode("ascii"),
            "failed_at": failed_at.isoformat(),
        }
        event_id, source = event_identity(msg.value)
        # Ids only, quoted (they come from outside): never the error's detail or any value.
        log.warning(
            "dead letter %s from %s[%d]@%d: event %s from source %s",
            reason.value,
            msg.topic,
            msg.partition,
            msg.offset,
            "(none)" if event_id is None else repr(event_id),
            "(none)" if source is None else repr(source),
        )
        delay = self._retry_initial_s
        while True:
            try:
                await self._dlq.send(msg.key, letter)
            except Exception as err:  # a dead letter is never dropped: retried until sent
                log.warning("dead-letter topic unavailable (%s); retrying", type(err).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            self._metrics.dead_letters.labels(reason=reason.value).inc()
            break
        if self._dead_letter_log is not None:
            record = DeadLetterRecord(
                failed_at=failed_at,
                reason=reason.value,
                error=error,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                event_id=event_id,
                source=source,
            )
            await self._record(self._dead_letter_log, record)

    async def _record(self, letters: DeadLetterLog, record: DeadLetterRecord) -> None:
        """Record a letter in the catalog; the topic has it already, so only faults wait."""
        delay = self._retry_initial_s
        while True:
            try:
                await letters.record(record)
            except Exception as err:  # the edge of the loop: a catalog fault must not stop it
                if not is_transient(err):
                    log.exception(
                        "dead letter %s[%d]@%d not recorded in the catalog",
                        record.topic,
                        record.partition,
                        record.offset,
                    )
                    return
                log.warning(
                    "catalog unavailable for a dead letter (%s); retrying", type(err).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            return


def event_identity(value: bytes | None) -> tuple[str | None, str | None]:
    """The event id and source a message names, when it is a JSON object naming them."""
    if not value:
        return None, None
    try:
        body = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    event_id, source = body.get("event_id"), body.get("source")
    return (
        event_id[:MAX_EVENT_ID_CHARS] if isinstance(event_id, str) and event_id else None,
        source[:MAX_SOURCE_CHARS] if isinstance(source, str) and source else None,
    )
