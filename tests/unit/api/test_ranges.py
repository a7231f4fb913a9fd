"""Range headers (RFC 9110): which bytes a request asks for."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.errors import RangeNotSatisfiableError
from api.ranges import MAX_RANGE_HEADER_CHARS, parse_range, range_applies


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


#: Headers that made the old regular expression backtrack for minutes (O(n^3)), and a
#: long list of ranges: all far over the length limit.
PATHOLOGICAL = [
    "bytes=" + " " * 8000 + "-" + " " * 8000 + "x",
    "bytes=" + "\t" * 8000 + "-" + "\t" * 8000 + "x",
    "bytes=" + " " * 8000 + "-" + " " * 8000 + "1 x",
    "bytes=" + "1" * 18 + " " * 8000 + "-" + " " * 8000 + "x",
    "bytes" + " " * 8000 + "=" + " " * 8000 + "-" + " " * 8000 + "x",
    " " * 16000 + "bytes=0-1x",
    "bytes=" + "- " * 8000 + "x",
    "bytes=0-1," * 2000,
]
#: Generous: the parse is a few string scans; this only catches super-linear behaviour.
FAST_S = 0.05


def _timed(header: str, size: int) -> tuple[object, float]:
    started = time.perf_counter()
    try:
        outcome: object = parse_range(header, size)
    except RangeNotSatisfiableError as err:
        outcome = err
    return outcome, time.perf_counter() - started


@pytest.mark.parametrize("header", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_headers_are_ignored_in_milliseconds(header: str) -> None:
    outcome, elapsed_s = _timed(header, 100)
    assert outcome is None
    assert elapsed_s < FAST_S


def test_headers_longer_than_the_limit_are_ignored() -> None:
    padded = "bytes=0-1" + " " * (MAX_RANGE_HEADER_CHARS - len("bytes=0-1"))
    assert parse_range(padded, 100) == (0, 1)
    assert parse_range(padded + " ", 100) is None


@pytest.mark.parametrize(
    "header", ["bytes=\u0661-\u0662", "bytes=0-\u00b9", "bytes=\u00a00-1", "bytes=0-1\n"]
)
def test_only_ascii_digits_and_ows_are_read(header: str) -> None:
    assert parse_range(header, 100) is None


_PIECES = st.sampled_from(
    ["bytes", "BYTES", "=", "-", ",", " ", "\t", "0", "1", "9", "18446744073709551616", "x"]
)
_HEADERS = st.one_of(
    st.text(max_size=300),
    st.lists(_PIECES, max_size=120).map("".join),
    st.builds(
        lambda pad, tail: "bytes=" + " " * pad + "-" + " " * pad + tail,
        st.integers(0, 5000),
        st.text(max_size=3),
    ),
)


@settings(max_examples=400, deadline=None)
@given(header=_HEADERS, size=st.integers(0, 2**40))
def test_any_header_is_a_span_none_or_416_and_fast(header: str, size: int) -> None:
    outcome, elapsed_s = _timed(header, size)
    assert elapsed_s < FAST_S, len(header)
    if isinstance(outcome, RangeNotSatisfiableError):
        assert outcome.size_bytes == size
    elif outcome is not None:
        assert isinstance(outcome, tuple)
        start, end = outcome
        assert 0 <= start <= end < size


@settings(max_examples=50, deadline=None)
@given(
    pad=st.sampled_from([" ", "\t", " \t"]),
    left=st.integers(100, 4000),
    right=st.integers(100, 4000),
    first=st.sampled_from(["", "0", "17"]),
    tail=st.sampled_from(["x", "1x", ",", "-", "=", "1-"]),
)
def test_runs_of_whitespace_cost_linear_time(
    pad: str, left: int, right: int, first: str, tail: str
) -> None:
    # The shape that made the old pattern cubic: OWS runs around the dash, then a mismatch.
    header = f"bytes={first}{pad * left}-{pad * right}{tail}"
    outcome, elapsed_s = _timed(header, 100)
    assert outcome is None
    assert elapsed_s < FAST_S
