"""SqlDeadLetters' contract: letters recorded once per message, listed newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.sql.database import Database
from storage.sql.dead_letters import DeadLetterRecord, SqlDeadLetters
from tests.catalog_contract.support import T0


def letter(offset: int, **overrides: object) -> DeadLetterRecord:
    """A letter from comms.calls partition 0 at this offset, failed offset minutes after T0."""
    values: dict[str, object] = {
        "failed_at": T0 + timedelta(minutes=offset),
        "reason": "schema_violation",
        "error": "parties: List should have at least 1 item after validation",
        "topic": "comms.calls",
        "partition": 0,
        "offset": offset,
        "event_id": f"e-{offset}",
        "source": "pbx-1",
    }
    values.update(overrides)
    return DeadLetterRecord(**values)  # type: ignore[arg-type]  # the fields above


class DeadLettersContract:
    """What GET /v1/dead-letters and `keepline dlq` rely on."""

    @pytest.fixture
    def letters(self, db: Database) -> SqlDeadLetters:
        return SqlDeadLetters(db)

    async def test_letters_are_listed_newest_first_with_every_field(
        self, letters: SqlDeadLetters
    ) -> None:
        for offset in range(3):
            assert await letters.record(letter(offset))
        found = await letters.recent()
        assert [f.offset for f in found] == [2, 1, 0]
        assert found[0] == letter(2)
        assert found[0].as_record() == {
            "reason": "schema_violation",
            "error": "parties: List should have at least 1 item after validation",
            "topic": "comms.calls",
            "partition": 0,
            "offset": 2,
            "event_id": "e-2",
            "source": "pbx-1",
            "failed_at": (T0 + timedelta(minutes=2)).isoformat(),
        }

    async def test_a_message_dead_lettered_again_is_recorded_once(
        self, letters: SqlDeadLetters
    ) -> None:
        assert await letters.record(letter(7))
        assert not await letters.record(letter(7, failed_at=T0 + timedelta(hours=1)))
        assert [f.offset for f in await letters.recent()] == [7]

    async def test_filters_and_limit(self, letters: SqlDeadLetters) -> None:
        await letters.record(letter(0, reason="invalid_json", event_id=None, source=None))
        await letters.record(letter(1, source="mx-1"))
        await letters.record(letter(2))
        await letters.record(letter(3))
        assert [f.offset for f in await letters.recent(reason="invalid_json")] == [0]
        assert [f.offset for f in await letters.recent(source="mx-1")] == [1]
        since = T0 + timedelta(minutes=2)
        assert [f.offset for f in await letters.recent(since=since)] == [3, 2]
        assert [f.offset for f in await letters.recent(limit=1)] == [3]

    async def test_long_values_are_cut_to_their_columns(self, letters: SqlDeadLetters) -> None:
        await letters.record(letter(0, error="x" * 5000, event_id="e" * 500, source="s" * 500))
        (found,) = await letters.recent()
        assert (len(found.error), len(found.event_id or ""), len(found.source or "")) == (
            2000,
            200,
            100,
        )
