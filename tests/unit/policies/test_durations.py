from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given

from policies import (
    DurationOverflowError,
    InvalidDurationError,
    IsoDuration,
    NaiveDatetimeError,
    parse_duration,
)
from tests.unit.policies.strategies import aware_datetimes, durations

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P5Y", IsoDuration(years=5)),
        ("P90D", IsoDuration(days=90)),
        ("PT30S", IsoDuration(seconds=Decimal(30))),
        ("P2W", IsoDuration(weeks=2)),
        ("PT1H", IsoDuration(hours=1)),
        ("PT5M", IsoDuration(minutes=5)),
        ("P1M", IsoDuration(months=1)),
        (
            "P1Y2M3DT4H5M6.5S",
            IsoDuration(years=1, months=2, days=3, hours=4, minutes=5, seconds=Decimal("6.5")),
        ),
        ("PT0,25S", IsoDuration(seconds=Decimal("0.25"))),
        ("P0D", IsoDuration()),
        ("P1Y1W", IsoDuration(years=1, weeks=1)),
    ],
)
def test_parse_duration(text: str, expected: IsoDuration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("P", "has no components"),
        ("PT", "'T' must be followed by hours, minutes or seconds"),
        ("P1DT", "'T' must be followed by hours, minutes or seconds"),
        ("-P1D", "negative durations are not allowed"),
        ("P-1D", "not an ISO 8601 duration"),
        ("P1.5Y", "only the seconds may have a fraction"),
        ("PT1.5H", "only the seconds may have a fraction"),
        ("p1d", "designators must be upper case"),
        ("5Y", "not an ISO 8601 duration"),
        ("P1D2Y", "not an ISO 8601 duration"),
        ("P1Y1Y", "not an ISO 8601 duration"),
        ("P 1D", "not an ISO 8601 duration"),
        ("ninety days", "not an ISO 8601 duration"),
        ("P1S", "not an ISO 8601 duration"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidDurationError, match=message) as caught:
        parse_duration(text)
    assert caught.value.text == text


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        ("P5Y", "P5Y"),
        ("P1Y2M3DT4H5M6.5S", "P1Y2M3DT4H5M6.5S"),
        ("PT30S", "PT30S"),
        ("PT0,50S", "PT0.5S"),
        ("PT30.000S", "PT30S"),
        ("P0Y0M", "P0D"),
        ("P0Y1D", "P1D"),
        ("PT0H10M", "PT10M"),
        ("PT0.000001S", "PT0.000001S"),
        ("PT100S", "PT100S"),
    ],
)
def test_str_is_canonical(duration: str, text: str) -> None:
    assert str(parse_duration(duration)) == text


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Leap day plus a year clamps to the end of February.
        (datetime(2024, 2, 29, tzinfo=UTC), "P1Y", datetime(2025, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), "P4Y", datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), "P12M", datetime(2025, 2, 28, tzinfo=UTC)),
        # Month-end clamping, and it does not "remember" the 31st afterwards.
        (datetime(2024, 1, 31, tzinfo=UTC), "P1M", datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2023, 1, 31, tzinfo=UTC), "P1M", datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), "P1M", datetime(2024, 4, 30, tzinfo=UTC)),
        (datetime(2024, 1, 31, tzinfo=UTC), "P2M", datetime(2024, 3, 31, tzinfo=UTC)),
        (datetime(2024, 11, 30, tzinfo=UTC), "P3M", datetime(2025, 2, 28, tzinfo=UTC)),
        # Months carry into years.
        (datetime(2024, 12, 15, tzinfo=UTC), "P1M", datetime(2025, 1, 15, tzinfo=UTC)),
        (datetime(2024, 5, 1, tzinfo=UTC), "P1Y8M", datetime(2026, 1, 1, tzinfo=UTC)),
        # Days after months: Jan 31 + P1M1D = Feb 29 + 1 day.
        (datetime(2024, 1, 31, tzinfo=UTC), "P1M1D", datetime(2024, 3, 1, tzinfo=UTC)),
        (datetime(2024, 1, 1, tzinfo=UTC), "P90D", datetime(2024, 3, 31, tzinfo=UTC)),
        (datetime(2023, 1, 1, tzinfo=UTC), "P90D", datetime(2023, 4, 1, tzinfo=UTC)),
        (datetime(2024, 1, 1, tzinfo=UTC), "P2W", datetime(2024, 1, 15, tzinfo=UTC)),
        (datetime(2024, 1, 1, tzinfo=UTC), "PT30S", datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)),
        (
            datetime(2024, 1, 1, tzinfo=UTC),
            "PT1.5S",
            datetime(2024, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC),
        ),
        (datetime(2024, 12, 31, 23, tzinfo=UTC), "PT2H", datetime(2025, 1, 1, 1, tzinfo=UTC)),
        # The result keeps the start's offset.
        (datetime(2024, 1, 31, 12, tzinfo=PLUS_2), "P1M", datetime(2024, 2, 29, 12, tzinfo=PLUS_2)),
        (datetime(2024, 1, 1, 12, tzinfo=PLUS_2), "P5Y", datetime(2029, 1, 1, 12, tzinfo=PLUS_2)),
    ],
)
def test_after_is_calendar_arithmetic(start: datetime, duration: str, expected: datetime) -> None:
    result = parse_duration(duration).after(start)
    assert result == expected
    assert result.utcoffset() == start.utcoffset()


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        # Across the spring-forward night in London: a day is a calendar day (23 hours)...
        ("P1D", datetime(2024, 3, 31, 12, tzinfo=ZoneInfo("Europe/London"))),
        # ...while hours are elapsed time.
        ("PT24H", datetime(2024, 3, 31, 13, tzinfo=ZoneInfo("Europe/London"))),
    ],
)
def test_after_days_are_calendar_days_and_hours_are_elapsed(
    duration: str, expected: datetime
) -> None:
    start = datetime(2024, 3, 30, 12, tzinfo=ZoneInfo("Europe/London"))
    assert parse_duration(duration).after(start) == expected


def test_after_refuses_naive_start() -> None:
    with pytest.raises(NaiveDatetimeError):
        parse_duration("P1D").after(datetime(2024, 1, 1))  # naive on purpose


@pytest.mark.parametrize("duration", ["P9000Y", "PT999999999999999S", "P999999999D"])
def test_after_overflow_is_a_policy_error(duration: str) -> None:
    with pytest.raises(DurationOverflowError):
        parse_duration(duration).after(datetime(2024, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kwargs", "is_zero"),
    [({}, True), ({"days": 1}, False), ({"seconds": Decimal("0.001")}, False)],
)
def test_is_zero(kwargs: dict[str, int], is_zero: bool) -> None:
    assert IsoDuration(**kwargs).is_zero is is_zero  # type: ignore[arg-type]  # table values


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": -1}, "negative"),
        ({"seconds": Decimal(-1)}, "negative"),
        ({"seconds": Decimal("NaN")}, "finite"),
        ({"seconds": Decimal("Infinity")}, "finite"),
    ],
)
def test_bad_components_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDurationError, match=message):
        IsoDuration(**kwargs)  # type: ignore[arg-type]  # table values


def test_float_seconds_keep_their_decimal_text() -> None:
    assert IsoDuration(seconds=0.1).seconds == Decimal("0.1")  # type: ignore[arg-type]


@given(durations)
def test_str_round_trips(duration: IsoDuration) -> None:
    assert parse_duration(str(duration)) == duration


@given(durations, aware_datetimes)
def test_after_never_goes_back(duration: IsoDuration, start: datetime) -> None:
    assert duration.after(start) >= start


@given(durations, aware_datetimes, aware_datetimes)
def test_after_is_monotone_in_the_start(
    duration: IsoDuration, first: datetime, second: datetime
) -> None:
    # Month-end clamping can map two starts to one end, but never reverse their order.
    if (
        first.date() <= second.date()
        and first <= second
        and first.utcoffset() == second.utcoffset()
    ):
        assert duration.after(first) <= duration.after(second)
