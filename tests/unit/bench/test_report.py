import io
import json
import math

import pytest

from bench.report import Reporter, Result, error_line, result_line


def test_result_line_is_one_json_object_with_bench_value_unit_first() -> None:
    line = result_line(
        Result("ingest_vs_raw_put", 0.4321987654, "ratio", {"raw_mb_s": 210.123456789, "n": 16})
    )
    assert "\n" not in line
    body = json.loads(line)
    assert list(body)[:3] == ["bench", "value", "unit"]
    assert body == {
        "bench": "ingest_vs_raw_put",
        "value": 0.432199,
        "unit": "ratio",
        "raw_mb_s": 210.123,
        "n": 16,
    }


@pytest.mark.parametrize("field", ["bench", "value", "unit", "error"])
def test_extra_fields_cannot_replace_the_fixed_ones(field: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        Result("x", 1.0, "ms", {field: 2}).to_json()


def test_a_value_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        Result("x", math.nan, "ms").to_json()


def test_error_line_names_the_bench_and_the_error_on_one_line() -> None:
    body = json.loads(error_line("hold_apply_items_s", "items/s", RuntimeError("boom\n  at x")))
    assert body == {
        "bench": "hold_apply_items_s",
        "value": None,
        "unit": "items/s",
        "error": "RuntimeError: boom at x",
    }


def test_reporter_keeps_json_and_progress_apart() -> None:
    out, progress = io.StringIO(), io.StringIO()
    reporter = Reporter(out, progress)
    reporter.say("starting")
    reporter.emit(Result("a", 1.0, "ms"))
    reporter.fail("b", "ratio", ValueError("bad"))
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["bench"] for line in lines] == ["a", "b"]
    assert "starting" in progress.getvalue()
    assert "b FAILED" in progress.getvalue()
    assert reporter.succeeded == ["a"]
    assert reporter.failed == ["b"]


def test_every_line_of_a_run_says_its_catalog() -> None:
    out = io.StringIO()
    reporter = Reporter(out, io.StringIO())
    reporter.tag("catalog", "postgresql")
    reporter.emit(Result("hold_apply_items_s", 12.0, "items/s", {"items": 3}))
    reporter.fail("sweep_vs_raw_delete", "ratio", RuntimeError("down"))
    ok, failed = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(ok)[:4] == ["bench", "value", "unit", "catalog"]
    assert ok["catalog"] == "postgresql"
    assert ok["items"] == 3
    assert failed["catalog"] == "postgresql"
    assert failed["value"] is None
    assert failed["error"] == "RuntimeError: down"


def test_an_extra_field_cannot_replace_a_tag_of_the_run() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Result("x", 1.0, "ms", {"catalog": "sqlite"}).to_json({"catalog": "postgresql"})


def test_lines_without_tags_are_as_before() -> None:
    body = json.loads(error_line("x", "ms", ValueError("bad"), None))
    assert list(body) == ["bench", "value", "unit", "error"]
