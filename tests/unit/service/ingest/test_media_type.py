"""Media types (RFC 9110 section 8.3.1): what may be echoed as a Content-Type header."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.media_type import (
    MAX_MEDIA_TYPE_CHARS,
    InvalidMediaTypeError,
    is_media_type,
    parse_media_type,
)


@pytest.mark.parametrize(
    "value",
    [
        "audio/wav",
        "message/rfc822",
        "application/vnd.ms-outlook",
        "text/plain;charset=utf-8",
        "text/plain ; charset=utf-8 ; format=flowed",
        'text/plain; name="a \\"quoted\\" name; with ; semicolons"',
        "text/plain;",
        "text/plain;;charset=utf-8",
        "a/" + "b" * (MAX_MEDIA_TYPE_CHARS - 2),
    ],
)
def test_media_types_are_accepted_unchanged(value: str) -> None:
    assert parse_media_type(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "audio",
        "audio/",
        "/wav",
        "audio/wav/x",
        "audio /wav",
        "audio/wav ",
        " audio/wav",
        "audio/wav; charset",
        "audio/wav; =x",
        "audio/wav; charset=",
        "audio/wav; a=b c",
        'audio/wav; a="unterminated',
        'audio/wav; a="bad \\',
        "audio/wav\r\nX-Injected: 1",
        "audio/wav\tx",
        "audio/wav\x00",
        "text/html; charset=\x7f",
        "audio/wäv",
        'audio/wav; a="\u00e9"',
        "a/" + "b" * (MAX_MEDIA_TYPE_CHARS - 1),
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(InvalidMediaTypeError):
        parse_media_type(value)
    assert not is_media_type(value)


_PIECES = st.sampled_from(
    ["a", "/", ";", "=", '"', "\\", " ", "\t", "\r", "\n", "\x00", "-", "+", ".", "é", "text"]
)
_VALUES = st.one_of(st.text(max_size=400), st.lists(_PIECES, max_size=300).map("".join))
_HEADER_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F))


@settings(max_examples=400, deadline=None)
@given(value=_VALUES)
def test_only_header_safe_values_pass_and_quickly(value: str) -> None:
    started = time.perf_counter()
    accepted = is_media_type(value)
    assert time.perf_counter() - started < 0.05
    if accepted:
        assert 0 < len(value) <= MAX_MEDIA_TYPE_CHARS
        assert _HEADER_SAFE.issuperset(value)
        assert "/" in value.split(";", 1)[0]
