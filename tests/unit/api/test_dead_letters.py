"""GET /v1/dead-letters: the most recent dead letters, for admin and auditor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.sql.dead_letters import DeadLetterRecord, SqlDeadLetters
from tests.unit.api.conftest import NOW, Harness


async def _seed(harness: Harness) -> None:
    letters = SqlDeadLetters(harness.storage.db)
    for offset, (reason, source) in enumerate(
        [("invalid_json", None), ("schema_violation", "pbx-1"), ("content_missing", "mx-1")]
    ):
        await letters.record(
            DeadLetterRecord(
                failed_at=NOW + timedelta(minutes=offset),
                reason=reason,
                error=f"error {offset}",
                topic="comms.calls",
                partition=0,
                offset=offset,
                event_id=None if source is None else f"e-{offset}",
                source=source,
            )
        )


@pytest.mark.parametrize("role", ["admin", "auditor"])
async def test_dead_letters_are_listed_newest_first(harness: Harness, role: str) -> None:
    await _seed(harness)
    async with harness.client(role) as http:
        everything = await http.get("/v1/dead-letters")
        by_reason = await http.get("/v1/dead-letters", params={"reason": "schema_violation"})
        by_source = await http.get("/v1/dead-letters", params={"source": "mx-1"})
        recent = await http.get(
            "/v1/dead-letters", params={"since": (NOW + timedelta(minutes=1)).isoformat()}
        )
        one = await http.get("/v1/dead-letters", params={"limit": 1})
    assert everything.status_code == 200
    letters = everything.json()["dead_letters"]
    assert [letter["offset"] for letter in letters] == [2, 1, 0]
    assert letters[0] == {
        "reason": "content_missing",
        "error": "error 2",
        "topic": "comms.calls",
        "partition": 0,
        "offset": 2,
        "event_id": "e-2",
        "source": "mx-1",
        "failed_at": (NOW + timedelta(minutes=2)).isoformat(),
    }
    assert [x["offset"] for x in by_reason.json()["dead_letters"]] == [1]
    assert [x["offset"] for x in by_source.json()["dead_letters"]] == [2]
    assert [x["offset"] for x in recent.json()["dead_letters"]] == [2, 1]
    assert [x["offset"] for x in one.json()["dead_letters"]] == [2]


@pytest.mark.parametrize("role", ["ingest", "qa", "legal", "privacy"])
async def test_other_roles_may_not_read_dead_letters(harness: Harness, role: str) -> None:
    async with harness.client(role) as http:
        assert (await http.get("/v1/dead-letters")).status_code == 403


async def test_an_unknown_reason_is_422_listing_the_reasons(harness: Harness) -> None:
    async with harness.client("admin") as http:
        response = await http.get("/v1/dead-letters", params={"reason": "bad"})
    assert response.status_code == 422
    assert response.json()["field"] == "reason"
    assert "invalid_json" in response.json()["detail"]
