"""`keepline dlq`: the most recent dead letters from the catalog."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keepline.cli import main
from keepline.root import build
from storage.settings import StorageSettings
from storage.sql.dead_letters import DeadLetterRecord, SqlDeadLetters

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageSettings:
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEEPLINE_OBJECT_STORE", "filesystem")
    monkeypatch.delenv("KEEPLINE_CATALOG_URL", raising=False)
    return StorageSettings()


async def _seed(settings: StorageSettings) -> None:
    root = build(settings)
    try:
        await root.storage.db.create_schema()
        letters = SqlDeadLetters(root.storage.db)
        await letters.record(
            DeadLetterRecord(
                failed_at=T0,
                reason="invalid_json",
                error="not UTF-8 JSON",
                topic="comms.chats",
                partition=1,
                offset=4,
            )
        )
        await letters.record(
            DeadLetterRecord(
                failed_at=T0 + timedelta(minutes=1),
                reason="content_missing",
                error="content not found",
                topic="comms.calls",
                partition=0,
                offset=9,
                event_id="e-9",
                source="pbx-1",
            )
        )
    finally:
        await root.close()


def test_dlq_lists_the_newest_first(
    settings: StorageSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(settings))
    assert main(["dlq"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{(T0 + timedelta(minutes=1)).isoformat()} content_missing comms.calls[0]@9 "
        "event 'e-9' source 'pbx-1': content not found",
        f"{T0.isoformat()} invalid_json comms.chats[1]@4 event (none) source (none): "
        "not UTF-8 JSON",
    ]
    assert main(["dlq", "--reason", "invalid_json", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["offset"] == 4
    assert main(["dlq", "--source", "pbx-1", "--since", T0.isoformat(), "--limit", "5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_dlq_on_an_empty_catalog_says_so(
    settings: StorageSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "keepline dlq: no dead letters match\n")


def test_dlq_refuses_a_time_without_an_offset(
    settings: StorageSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["dlq", "--since", "2026-01-31T09:00:00"])
    assert refused.value.code == 2
    assert "e.g. 2026-01-31T09:00:00Z" in capsys.readouterr().err
