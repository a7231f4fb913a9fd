"""`keepline fixity`: what it prints and the exit code it answers."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest

from keepline.commands import fixity
from storage.errors import LeaseUnavailableError
from storage.ports import FixityPass

T0 = datetime(2026, 12, 2, tzinfo=UTC)
BUCKET = {
    "versioning": "Suspended",
    "object_lock": True,
    "object_lock_required": True,
    "versioning_ok": False,
    "object_lock_ok": True,
}
PROBLEM = {
    "kind": "missing",
    "item_id": "i-1",
    "object_key": "items/i-1",
    "version_id": "v1",
    "detail": "no such version",
}


def _state(**changes: object) -> FixityPass:
    values: dict[str, object] = {
        "objects_checked": 3,
        "bytes_checked": 30,
        "missing": 1,
        "problems": (PROBLEM,),
        "bucket": BUCKET,
        "finished_at": T0,
        **changes,
    }
    return FixityPass("p-1", T0, **values)  # type: ignore[arg-type]


def test_each_problem_then_the_summary() -> None:
    out = io.StringIO()
    fixity.print_result(_state(), as_json=False, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("missing    items/i-1 item i-1: no such version")
    assert "checked 3 objects (30 bytes): 0 mismatched, 1 missing, 0 orphaned" in lines[1]
    assert "versioning Suspended (NOT as required: must be Enabled)" in lines[1]


def test_json_is_one_object_with_the_problems() -> None:
    out = io.StringIO()
    fixity.print_result(_state(), as_json=True, out=out)
    body = json.loads(out.getvalue())
    assert (body["ok"], body["missing"], body["problems"]) == (False, 1, [PROBLEM])


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (_state(missing=0, problems=(), bucket={**BUCKET, "versioning_ok": True}), 0),
        (_state(), 1),
        (_state(finished_at=None), 1),
    ],
)
def test_the_exit_code_says_whether_all_is_well(
    monkeypatch: pytest.MonkeyPatch, state: FixityPass, code: int
) -> None:
    async def once(*, wait_s: float, max_bytes_s: int | None) -> FixityPass:
        return state

    monkeypatch.setattr(fixity, "fixity_once", once)
    args = argparse.Namespace(wait_s=0.0, max_bytes_s=None, json=True)
    assert fixity.run(args) == code


def test_a_held_lease_is_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    async def once(*, wait_s: float, max_bytes_s: int | None) -> FixityPass:
        raise LeaseUnavailableError("fixity", "other", T0)

    monkeypatch.setattr(fixity, "fixity_once", once)
    args = argparse.Namespace(wait_s=0.0, max_bytes_s=None, json=False)
    assert fixity.run(args) == fixity.EXIT_LEASE
