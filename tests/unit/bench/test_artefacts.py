import base64
import json
from datetime import UTC, datetime

from bench.artefacts import call_recording, chat, email, message
from service.ingest.models import validate_artefact

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_a_call_recording_event_is_valid_and_keyed_by_its_call_id() -> None:
    event = call_recording(
        run_id="r1",
        index=3,
        subject_id="bench-s",
        occurred_at=AT,
        uri="http://127.0.0.1:1/x.bin",
        sha256="ab" * 32,
        size_bytes=123,
    )
    parsed = validate_artefact(event)
    assert parsed.type == "call_recording"
    assert parsed.content is not None
    assert parsed.content.size_bytes == 123
    msg = message(event)
    assert msg.kind == "calls"
    assert msg.key == b"r1-call-3"
    assert json.loads(msg.value) == event


def test_metadata_only_emails_and_chats_are_valid_and_carry_no_content() -> None:
    mail = validate_artefact(email(run_id="r1", index=0, subject_id="s", occurred_at=AT))
    talk = validate_artefact(chat(run_id="r1", index=1, subject_id="s", occurred_at=AT))
    assert mail.content is None
    assert talk.content is None
    assert talk.content_inline is None
    assert mail.subject_ids() == frozenset({"s"})


def test_a_chat_with_text_carries_it_inline() -> None:
    event = chat(
        run_id="r1",
        index=2,
        subject_id="s",
        occurred_at=AT,
        text=b"\x00\x01hello",
        attributes={"tier": "x"},
    )
    parsed = validate_artefact(event)
    assert parsed.content_inline is not None
    assert base64.b64decode(parsed.content_inline.data_b64) == b"\x00\x01hello"
    assert parsed.attributes == {"bench": "r1", "tier": "x"}
    assert message(event).kind == "chats"


def test_event_ids_are_unique_per_run_type_and_index() -> None:
    ids = {
        email(run_id=run, index=i, subject_id="s", occurred_at=AT)["event_id"]
        for run in ("a", "b")
        for i in range(50)
    }
    ids |= {
        chat(run_id="a", index=i, subject_id="s", occurred_at=AT)["event_id"] for i in range(50)
    }
    assert len(ids) == 150
