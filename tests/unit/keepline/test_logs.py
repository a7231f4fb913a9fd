"""JSON log lines: one object per record, the known ids, nothing else from the record."""

from __future__ import annotations

import json
import logging

import pytest

from keepline.logs import JsonFormatter
from keepline.settings import CliSettings, LogFormat


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("keepline.test", logging.WARNING, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_record_is_one_json_object_with_the_contract_fields() -> None:
    line = JsonFormatter().format(_record("stored", item_id="it-1", event_id="pbx-1:c-1"))

    assert "\n" not in line
    parsed = json.loads(line)
    assert set(parsed) == {"at", "level", "logger", "message", "item_id", "event_id"}
    assert parsed["level"] == "WARNING"
    assert parsed["logger"] == "keepline.test"
    assert parsed["message"] == "stored"
    assert parsed["at"].endswith("+00:00")


def test_only_ids_are_copied_from_a_records_extra_fields() -> None:
    parsed = json.loads(JsonFormatter().format(_record("x", subject_id="cust-42", token="t")))

    assert set(parsed) == {"at", "level", "logger", "message"}


def test_a_traceback_stays_inside_the_one_line() -> None:
    try:
        raise ValueError("boom")  # noqa: TRY301 - a real traceback to format
    except ValueError:
        import sys  # noqa: PLC0415

        record = logging.LogRecord("k", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_the_format_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_LOG_FORMAT", "json")
    assert CliSettings().log_format is LogFormat.JSON
    monkeypatch.delenv("KEEPLINE_LOG_FORMAT")
    assert CliSettings().log_format is LogFormat.TEXT
