"""Range headers (RFC 9110): which bytes a request asks for."""

from __future__ import annotations

import pytest

from api.errors import RangeNotSatisfiableError
from api.ranges import parse_range, range_applies


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-0", 100, (0, 0)),
        ("bytes=0-99", 100, (0, 99)),
        ("bytes=10-19", 100, (10, 19)),
        ("bytes=50-", 100, (50, 99)),
        ("bytes=99-", 100, (99, 99)),
        ("bytes=-1", 100, (99, 99)),
        ("bytes=-30", 100, (70, 99)),
        ("bytes=-1000", 100, (0, 99)),
        ("bytes=90-1000", 100, (90, 99)),
        ("BYTES = 1 - 2", 100, (1, 2)),
        ("bytes=5-2", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
        ("bytes=-", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=" + "9" * 40 + "-", 100, None),
    ],
)
def test_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=-0", 100),
        ("bytes=0-", 0),
        ("bytes=-5", 0),
    ],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiableError) as caught:
        parse_range(header, size)
    assert caught.value.size_bytes == size


def test_if_range_keeps_the_range_only_for_our_etag() -> None:
    assert range_applies(None, '"abc"')
    assert range_applies('"abc"', '"abc"')
    assert not range_applies('"old"', '"abc"')
    assert not range_applies("Wed, 21 Oct 2015 07:28:00 GMT", '"abc"')
