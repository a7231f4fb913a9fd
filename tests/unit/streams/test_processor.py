import base64
import json
import os
from datetime import datetime
from typing import Any, BinaryIO

import pytest

from service.ingest.models import ConsentEvent
from storage.errors import ObjectStoreUnavailableError
from storage.models import ItemQuery
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.ports import PutResult
from streams.processor import MessageProcessor, RawMessage
from tests.unit.conftest import EnvFactory, IngestEnv


class ListDeadLetters:
    """A dead-letter sink that keeps letters in memory; can be unavailable at first."""

    def __init__(self, failures: int = 0) -> None:
        self.letters: list[dict[str, Any]] = []
        self.failures = failures

    async def send(self, key: bytes | None, letter: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        self.letters.append(letter)


class ListConsents:
    """Applies consent events by remembering them, in order."""

    def __init__(self) -> None:
        self.applied: list[ConsentEvent] = []

    async def apply(self, event: ConsentEvent) -> None:
        self.applied.append(event)


class FlakyStore(FilesystemObjectStore):
    """The object store is down for the first uploads."""

    down_for = 2

    def put_stream(self, key: str, reader: BinaryIO, **kwargs: Any) -> PutResult:
        if self.down_for:
            FlakyStore.down_for -= 1
            raise ObjectStoreUnavailableError("ConnectionRefused")
        return super().put_stream(key, reader, **kwargs)


def _processor(env: IngestEnv, sink: ListDeadLetters, **kwargs: Any) -> MessageProcessor:
    return MessageProcessor(
        ingest=env.service,
        consents=ListConsents(),
        dead_letters=sink,
        metrics=env.metrics,
        retry_initial_s=0.01,
        retry_max_s=0.05,
        **kwargs,
    )


def _msg(value: bytes | dict[str, Any] | None, offset: int = 7) -> RawMessage:
    data = json.dumps(value).encode() if isinstance(value, dict) else value
    return RawMessage(topic="comms.calls", partition=1, offset=offset, key=b"c-1", value=data)


def _counter(counter: Any, **labels: str) -> float:
    target = counter.labels(**labels) if labels else counter
    value: float = target._value.get()
    return value


def _bad_events(env: IngestEnv) -> list[tuple[bytes | dict[str, Any] | None, str, str]]:
    no_parties = env.call("b-1", b"x")
    no_parties["parties"] = []
    unknown = env.chat("b-2")
    unknown["type"] = "fax"
    big = env.chat("b-3", os.urandom(600 * 1024))
    wrong_sum = env.call("b-4", b"abc")
    wrong_sum["content"]["sha256"] = "ab" * 32
    short = env.call("b-5", b"abc")
    short["content"]["size_bytes"] = 2
    missing = env.call("b-6", b"abc")
    missing["content"]["uri"] = (env.tmp / "gone.wav").as_uri()
    return [
        (b"{not json", "invalid_json", ""),
        (None, "invalid_json", ""),
        (b"[1, 2]", "schema_violation", "(root)"),
        (no_parties, "schema_violation", "parties:"),
        (unknown, "unknown_type", "type:"),
        (big, "inline_too_large", "content_inline.data_b64:"),
        (wrong_sum, "checksum_mismatch", "sha256"),
        (short, "size_mismatch", "size_bytes"),
        (missing, "content_missing", "not found"),
    ]


async def test_every_bad_input_is_dead_lettered_with_its_reason(env_factory: EnvFactory) -> None:
    env = await env_factory()
    sink = ListDeadLetters()
    processor = _processor(env, sink)
    cases = _bad_events(env)
    for offset, (value, _reason, _text) in enumerate(cases):
        await processor.process_artefact(_msg(value, offset))

    assert [letter["reason"] for letter in sink.letters] == [reason for _, reason, _ in cases]
    for offset, (letter, (value, _reason, text)) in enumerate(
        zip(sink.letters, cases, strict=True)
    ):
        assert text in letter["error"]
        assert letter["topic"] == "comms.calls"
        assert letter["partition"] == 1
        assert letter["offset"] == offset
        assert letter["key"] == "c-1"
        sent = json.dumps(value).encode() if isinstance(value, dict) else (value or b"")
        assert base64.b64decode(letter["value_b64"]) == sent
        assert datetime.fromisoformat(letter["failed_at"]).utcoffset() is not None
    assert _counter(env.metrics.dead_letters, reason="checksum_mismatch") == 1
    # And the next event is processed.
    await processor.process_artefact(_msg(env.chat("good-1"), 99))
    assert _counter(env.metrics.stored, type="chat") == 1


async def test_forbidden_file_uri_is_dead_lettered(env_factory: EnvFactory) -> None:
    env = await env_factory(allow_file_uris=False)
    sink = ListDeadLetters()
    await _processor(env, sink).process_artefact(_msg(env.call("f-1", b"x")))
    assert [letter["reason"] for letter in sink.letters] == ["content_forbidden"]


async def test_an_object_store_outage_is_retried_not_dead_lettered(
    env_factory: EnvFactory,
) -> None:
    FlakyStore.down_for = 2
    env = await env_factory(store_cls=FlakyStore)
    sink = ListDeadLetters()
    processor = _processor(env, sink)
    recording = os.urandom(10_000)
    await processor.process_artefact(_msg(env.call("r-1", recording)))

    assert sink.letters == []
    assert _counter(env.metrics.retries, error="ObjectStoreUnavailableError") == 2
    assert _counter(env.metrics.stored, type="call_recording") == 1
    assert _counter(env.metrics.bytes_stored) == len(recording)
    records = (await env.catalog.list(ItemQuery())).items
    assert len(records) == 1
    assert await env.plaintext(records[0].item_id) == recording


async def test_redelivery_counts_a_duplicate(env_factory: EnvFactory) -> None:
    env = await env_factory()
    processor = _processor(env, ListDeadLetters())
    message = _msg(env.chat("d-1"))
    await processor.process_artefact(message)
    await processor.process_artefact(message)
    assert _counter(env.metrics.stored, type="chat") == 1
    assert _counter(env.metrics.duplicates) == 1
    assert _counter(env.metrics.consumed, topic="comms.calls") == 2


async def test_a_dead_letter_is_retried_until_the_topic_takes_it(env_factory: EnvFactory) -> None:
    env = await env_factory()
    sink = ListDeadLetters(failures=3)
    await _processor(env, sink).process_artefact(_msg(b"nope"))
    assert [letter["reason"] for letter in sink.letters] == ["invalid_json"]


async def test_an_unreachable_content_source_ends_as_content_missing(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory(content_sources="http://127.0.0.1:9")
    sink = ListDeadLetters()
    event = env.call("u-1", b"abc")
    event["content"]["uri"] = "http://127.0.0.1:9/recording.wav"  # discard port: refused
    processor = _processor(env, sink, content_deadline_s=0.2)
    await processor.process_artefact(_msg(event))

    assert [letter["reason"] for letter in sink.letters] == ["content_missing"]
    assert "unreachable" in sink.letters[0]["error"]
    assert _counter(env.metrics.retries, error="ContentUnavailableError") >= 1


async def test_consent_events_are_validated_and_applied(env_factory: EnvFactory) -> None:
    env = await env_factory()
    sink = ListDeadLetters()
    consents = ListConsents()
    processor = MessageProcessor(
        ingest=env.service, consents=consents, dead_letters=sink, metrics=env.metrics
    )
    good = {
        "event_id": "crm-1",
        "source": "crm",
        "occurred_at": "2026-11-21T12:00:00+00:00",
        "subject_id": "cust-42",
        "action": "withdraw",
        "purpose": "marketing",
    }
    bad = dict(good, purpose=None)
    await processor.process_consent(_msg(good))
    await processor.process_consent(_msg(bad))
    assert [e.event_id for e in consents.applied] == ["crm-1"]
    assert sink.letters[0]["reason"] == "schema_violation"
    assert sink.letters[0]["error"].startswith("purpose:")


@pytest.mark.parametrize("value", [b"\xff\xfe", b"42", b'"text"'])
async def test_undecodable_or_non_object_values_never_raise(
    env_factory: EnvFactory, value: bytes
) -> None:
    env = await env_factory()
    sink = ListDeadLetters()
    await _processor(env, sink).process_artefact(_msg(value))
    assert len(sink.letters) == 1
