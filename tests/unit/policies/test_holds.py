from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given

from policies import (
    ArtefactType,
    HoldCriteria,
    InvalidHoldCriteria,
    active_holds_covering,
    hold_covers,
)
from tests.unit.policies.builders import CALL, CHAT, EMAIL, day, hold, item
from tests.unit.policies.strategies import hold_criteria

ITEM = item(
    kind=CALL,
    occurred_at=day(10),
    subjects=("s1", "s2"),
    addresses=("+442071234567", "Alice@Example.com"),
    staff=("e1",),
    attributes={"queue": "sales", "desk": "fx"},
)


@pytest.mark.parametrize(
    ("criteria", "covers"),
    [
        (HoldCriteria(subject_ids=frozenset({"s1"})), True),
        (HoldCriteria(subject_ids=frozenset({"s9", "s2"})), True),
        (HoldCriteria(subject_ids=frozenset({"s9"})), False),
        (HoldCriteria(addresses=frozenset({"+442071234567"})), True),
        # Addresses compare case-insensitively: over-holding beats losing evidence.
        (HoldCriteria(addresses=frozenset({"alice@example.com"})), True),
        (HoldCriteria(addresses=frozenset({"bob@example.com"})), False),
        (HoldCriteria(staff_ids=frozenset({"e1"})), True),
        (HoldCriteria(staff_ids=frozenset({"e2"})), False),
        (HoldCriteria(types=frozenset({CALL, EMAIL})), True),
        (HoldCriteria(types=frozenset({CHAT})), False),
        # since is inclusive, until exclusive.
        (HoldCriteria(since=day(10)), True),
        (HoldCriteria(since=day(10.001)), False),
        (HoldCriteria(until=day(10)), False),
        (HoldCriteria(until=day(10.001)), True),
        (HoldCriteria(since=day(9), until=day(11)), True),
        (HoldCriteria(since=day(11), until=day(12)), False),
        # The window compares instants, whatever the offset it is written in.
        (HoldCriteria(since=day(10).astimezone(timezone(timedelta(hours=-5)))), True),
        (HoldCriteria(attributes={"queue": frozenset({"sales"})}), True),
        (HoldCriteria(attributes={"queue": frozenset({"support", "sales"})}), True),
        (HoldCriteria(attributes={"queue": frozenset({"support"})}), False),
        (HoldCriteria(attributes={"team": frozenset({"a"})}), False),
        (HoldCriteria(attributes={"queue": frozenset({"sales"}), "desk": frozenset({"fx"})}), True),
        (
            HoldCriteria(attributes={"queue": frozenset({"sales"}), "desk": frozenset({"ir"})}),
            False,
        ),
        # All given criteria must match.
        (HoldCriteria(subject_ids=frozenset({"s1"}), types=frozenset({EMAIL})), False),
        (HoldCriteria(subject_ids=frozenset({"s1"}), staff_ids=frozenset({"e1"})), True),
        (
            HoldCriteria(
                subject_ids=frozenset({"s2"}),
                addresses=frozenset({"+442071234567"}),
                staff_ids=frozenset({"e1"}),
                types=frozenset({CALL}),
                since=day(0),
                until=day(20),
                attributes={"desk": frozenset({"fx"})},
            ),
            True,
        ),
    ],
)
def test_hold_covers(criteria: HoldCriteria, covers: bool) -> None:
    assert hold_covers(criteria, ITEM) is covers


def test_active_holds_covering_ignores_released_and_sorts_by_id() -> None:
    holds = [
        hold("h3", "C"),
        hold("h1", "A", released=True),
        hold("h2", "B"),
        hold("h0", "D", subject_ids=frozenset({"s9"})),
    ]
    covering = active_holds_covering(holds, ITEM)
    assert [h.hold_id for h in covering] == ["h2", "h3"]


def test_no_holds_cover_nothing() -> None:
    assert active_holds_covering([], ITEM) == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"subject_ids": ["s1"]}, HoldCriteria(subject_ids=frozenset({"s1"}))),
        (
            {"types": ["email", "chat"], "staff_ids": ["e1"]},
            HoldCriteria(types=frozenset({EMAIL, CHAT}), staff_ids=frozenset({"e1"})),
        ),
        (
            {"since": "2024-01-01T00:00:00Z", "until": "2024-02-01T00:00:00+01:00"},
            HoldCriteria(
                since=datetime(2024, 1, 1, tzinfo=UTC),
                until=datetime(2024, 2, 1, tzinfo=timezone(timedelta(hours=1))),
            ),
        ),
        (
            {"attributes": {"desk": "fx", "queue": ["sales", "support"]}},
            HoldCriteria(
                attributes={"desk": frozenset({"fx"}), "queue": frozenset({"sales", "support"})}
            ),
        ),
        ({"addresses": ["a@b.c"], "since": None}, HoldCriteria(addresses=frozenset({"a@b.c"}))),
    ],
)
def test_criteria_from_json(data: dict[str, Any], expected: HoldCriteria) -> None:
    assert HoldCriteria.from_json(data) == expected


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "", "criteria must give at least one of"),
        ({"since": None}, "", "a hold on everything is refused"),
        ([], "", "criteria must be a JSON object"),
        ({"subject_id": ["s1"]}, "subject_id", "unknown criterion; allowed: subject_ids"),
        ({"subject_ids": []}, "subject_ids", "must not be empty; leave it out"),
        ({"subject_ids": "s1"}, "subject_ids", "must be a list of strings"),
        ({"subject_ids": ["s1", 2]}, "subject_ids[1]", "must be a non-empty string"),
        ({"addresses": [""]}, "addresses[0]", "must be a non-empty string"),
        ({"types": ["fax"]}, "types[0]", "'fax' is not one of call_recording, email, chat"),
        ({"since": "yesterday"}, "since", "is not an RFC 3339 timestamp"),
        ({"since": "2024-01-01T00:00:00"}, "since", "has no UTC offset"),
        ({"until": 1700000000}, "until", "must be an RFC 3339 timestamp string"),
        (
            {"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"},
            "until",
            "must be later than since",
        ),
        ({"attributes": {}}, "attributes", "must be a non-empty object"),
        ({"attributes": ["desk"]}, "attributes", "must be a non-empty object"),
        ({"attributes": {"desk": []}}, "attributes.desk", "must not be empty"),
        ({"attributes": {"desk": ""}}, "attributes.desk", "must be a non-empty string"),
        ({"attributes": {"desk": 7}}, "attributes.desk", "must be a list of strings"),
    ],
)
def test_criteria_from_json_refuses(data: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidHoldCriteria, match=message) as caught:
        HoldCriteria.from_json(data)
    assert caught.value.field == field


def test_criteria_to_json_gives_only_given_criteria() -> None:
    criteria = HoldCriteria(
        types=frozenset({ArtefactType.EMAIL, ArtefactType.CHAT}),
        since=datetime(2024, 1, 1, tzinfo=UTC),
        attributes={"queue": frozenset({"support", "sales"})},
    )
    assert criteria.to_json() == {
        "types": ["chat", "email"],
        "since": "2024-01-01T00:00:00+00:00",
        "attributes": {"queue": ["sales", "support"]},
    }


@given(hold_criteria())
def test_criteria_json_round_trips(criteria: HoldCriteria) -> None:
    assert HoldCriteria.from_json(criteria.to_json()) == criteria


def test_hold_covers_items_ingested_after_it_was_placed() -> None:
    # Coverage depends on the item alone, not on when the hold was placed.
    criteria = HoldCriteria(subject_ids=frozenset({"s1"}))
    assert hold_covers(criteria, item(subjects=("s1",), occurred_at=day(400)))
