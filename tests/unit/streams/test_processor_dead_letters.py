"""Every dead letter is also recorded in the catalog, and logged with its ids only."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from storage.sql.dead_letters import DeadLetterRecord, SqlDeadLetters
from streams.processor import MessageProcessor, RawMessage, event_identity
from tests.unit.conftest import EnvFactory


class Sink:
    """Keeps what the dead-letter topic would get."""

    def __init__(self) -> None:
        self.letters: list[dict[str, Any]] = []

    async def send(self, key: bytes | None, letter: dict[str, Any]) -> None:
        self.letters.append(letter)


class Consents:
    async def apply(self, event: Any) -> None:
        raise AssertionError("no consent events here")


class CatalogDownAtFirst(SqlDeadLetters):
    """The catalog refuses the first attempts as a transient fault."""

    failures = 2

    async def record(self, letter: DeadLetterRecord) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("catalog unreachable")
        return await super().record(letter)


def _msg(value: bytes, offset: int) -> RawMessage:
    return RawMessage(topic="comms.chats", partition=2, offset=offset, key=b"conv-1", value=value)


async def test_dead_letters_are_recorded_with_event_id_and_source(
    env_factory: EnvFactory, caplog: pytest.LogCaptureFixture
) -> None:
    env = await env_factory()
    letters = CatalogDownAtFirst(env.db)
    sink = Sink()
    processor = MessageProcessor(
        ingest=env.service,
        consents=Consents(),
        dead_letters=sink,
        metrics=env.metrics,
        retry_initial_s=0.01,
        retry_max_s=0.02,
        dead_letter_log=letters,
    )
    bad = env.chat("ev-9")
    bad["parties"] = [{"address": "+447700900123"}]
    bad["type"] = "fax"
    caplog.set_level(logging.WARNING, logger="streams.processor")
    await processor.process_artefact(_msg(json.dumps(bad).encode(), 5))
    await processor.process_artefact(_msg(b"{not json", 6))

    recorded = await SqlDeadLetters(env.db).recent()
    assert [(r.offset, r.reason, r.event_id, r.source) for r in recorded] == [
        (6, "invalid_json", None, None),
        (5, "unknown_type", "ev-9", bad["source"]),
    ]
    assert recorded[1].topic == "comms.chats"
    assert recorded[1].partition == 2
    assert recorded[1].error == sink.letters[0]["error"]
    assert recorded[1].failed_at.isoformat() == sink.letters[0]["failed_at"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dead letter")]
    assert lines == [
        f"dead letter unknown_type from comms.chats[2]@5: event 'ev-9' from source "
        f"{bad['source']!r}",
        "dead letter invalid_json from comms.chats[2]@6: event (none) from source (none)",
    ]
    assert "+447700900123" not in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"event_id": "e-1", "source": "pbx"}', ("e-1", "pbx")),
        (b'{"event_id": 7, "source": ""}', (None, None)),
        (b"[1]", (None, None)),
        (b"\xff", (None, None)),
        (None, (None, None)),
        (json.dumps({"event_id": "e" * 300}).encode(), ("e" * 200, None)),
    ],
)
def test_event_identity_only_from_json_objects(
    value: bytes | None, expected: tuple[str | None, str | None]
) -> None:
    assert event_identity(value) == expected
