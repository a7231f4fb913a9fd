"""ISO 8601 durations with calendar arithmetic, for retention periods.

Retention runs "from ``occurred_at``" in the calendar sense a records manager means: five
years after 2024-02-29 is 2029-02-28, not 1826 days later. So years and months move the
calendar date (clamping the day to the month's end), weeks and days move it by whole days
in local wall time, and only the time part (hours, minutes, seconds) is exact elapsed time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from policies.errors import DurationOverflowError, InvalidDurationError, NaiveDatetimeError

__all__ = ["IsoDuration", "parse_duration"]

_MONTHS_PER_YEAR = 12

# Components in the only order ISO 8601 allows; only the seconds may carry a fraction,
# because a fractional month or year has no calendar meaning.
_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?"
)
_EXAMPLES = "an ISO 8601 duration such as P5Y, P90D, PT30S or P1Y2M3DT4H5M6.5S"


@dataclass(frozen=True, slots=True, kw_only=True)
class IsoDuration:
    """A non-negative ISO 8601 duration, kept component by component.

    ``P1M`` and ``P30D`` are different durations: components are not normalised into one
    another because their lengths depend on the date they are added to.

    Attributes:
        years: Calendar years.
        months: Calendar months.
        weeks: Weeks of seven calendar days.
        days: Calendar days.
        hours: Elapsed hours.
        minutes: Elapsed minutes.
        seconds: Elapsed seconds, exact to the microsecond when applied.
    """

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, Decimal):
            # Accept int and float for convenience, but keep the decimal text exact.
            object.__setattr__(self, "seconds", Decimal(str(self.seconds)))
        if not self.seconds.is_finite():
            raise InvalidDurationError(str(self.seconds), "seconds must be a finite number")
        parts = (self.years, self.months, self.weeks, self.days, self.hours, self.minutes)
        if any(part < 0 for part in parts) or self.seconds < 0:
            raise InvalidDurationError(repr(self), "negative durations are not allowed")

    @property
    def is_zero(self) -> bool:
        """Whether every component is zero."""
        return (
            not any((self.years, self.months, self.weeks, self.days, self.hours, self.minutes))
            and self.seconds.is_zero()
        )

    def after(self, start: datetime) -> datetime:
        """The instant this duration after ``start``, by calendar arithmetic.

        Years and months are added to the calendar date, clamping the day to the end of the
        resulting month (2024-02-29 + P1Y = 2025-02-28); then weeks and days, as whole days of
        local wall time; then hours, minutes and seconds, as exact elapsed time.

        Args:
            start: A timezone-aware instant; the result keeps its timezone.

        Returns:
            The aware end instant.

        Raises:
            NaiveDatetimeError: ``start`` has no timezone.
            DurationOverflowError: The result is beyond the last representable date.
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise NaiveDatetimeError("start")
        try:
            shifted = _add_months(start, self.years * _MONTHS_PER_YEAR + self.months)
            # Aware datetime + timedelta is wall-clock arithmetic in Python: a day stays a
            # calendar day across a daylight-saving change, which is what "P1D" means.
            shifted = shifted + timedelta(days=self.weeks * 7 + self.days)
            exact = timedelta(
                hours=self.hours, minutes=self.minutes, microseconds=self._microseconds()
            )
            if not exact:
                return shifted
            # Elapsed time is measured on the UTC line, then shown in the original zone.
            return (shifted.astimezone(UTC) + exact).astimezone(start.tzinfo)
        except (OverflowError, ValueError) as exc:
            raise DurationOverflowError(str(self), start.isoformat()) from exc

    def _microseconds(self) -> int:
        return int((self.seconds * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))

    def __str__(self) -> str:
        date = "".join(
            f"{value}{unit}"
            for value, unit in (
                (self.years, "Y"),
                (self.months, "M"),
                (self.weeks, "W"),
                (self.days, "D"),
            )
            if value
        )
        time = "".join(
            f"{value}{unit}" for value, unit in ((self.hours, "H"), (self.minutes, "M")) if value
        )
        if not self.seconds.is_zero():
            time += f"{_plain_decimal(self.seconds)}S"
        if not date and not time:
            return "P0D"
        return f"P{date}T{time}" if time else f"P{date}"


def parse_duration(text: str) -> IsoDuration:
    """Parse an ISO 8601 duration such as ``P5Y``, ``P90D`` or ``PT30S``.

    Accepted: ``PnYnMnWnDTnHnMnS`` with any components present, in that order, upper case;
    a fraction (with ``.`` or ``,``) on the seconds only.

    Args:
        text: The duration text.

    Returns:
        The parsed duration.

    Raises:
        InvalidDurationError: The text is empty, negative, has no component (``P``, ``PT``),
            has a fraction outside the seconds, or is otherwise not a duration.
    """
    if not isinstance(text, str):
        raise InvalidDurationError(repr(text), f"must be a string: {_EXAMPLES}")
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise InvalidDurationError(text, _diagnose(text))

    def whole(name: str) -> int:
        return int(match.group(name) or 0)

    return IsoDuration(
        years=whole("years"),
        months=whole("months"),
        weeks=whole("weeks"),
        days=whole("days"),
        hours=whole("hours"),
        minutes=whole("minutes"),
        seconds=Decimal((match.group("seconds") or "0").replace(",", ".")),
    )


def _diagnose(text: str) -> str:
    # Name the most likely mistake, so a policy author can fix it without reading ISO 8601.
    mistakes = (
        (not text.strip(), f"empty; expected {_EXAMPLES}"),
        (text.startswith("-"), "negative durations are not allowed"),
        (text == "P", f"has no components; expected {_EXAMPLES}"),
        (
            text.startswith("P") and text.endswith("T"),
            "'T' must be followed by hours, minutes or seconds, as in PT30S",
        ),
        (
            text != text.upper() and _DURATION.fullmatch(text.upper()) is not None,
            f"designators must be upper case ({text.upper()})",
        ),
        (
            re.search(r"[.,]\d+[YMWDH]", text) is not None,
            "only the seconds may have a fraction (P1Y6M, not P1.5Y)",
        ),
    )
    return next((message for found, message in mistakes if found), f"not {_EXAMPLES}")


def _add_months(start: datetime, months: int) -> datetime:
    if not months:
        return start
    index = start.year * _MONTHS_PER_YEAR + (start.month - 1) + months
    year, month0 = divmod(index, _MONTHS_PER_YEAR)
    month = month0 + 1
    if year > datetime.max.year:
        raise OverflowError("year out of range")
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _plain_decimal(value: Decimal) -> str:
    # Never scientific notation, never trailing zeros: "6.5", "30", "0.000001".
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
