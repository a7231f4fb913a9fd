"""HTTP Range (RFC 9110) for one byte range: full, open (`a-`) and suffix (`-n`) forms.

The header is hostile input read on the event loop that also runs the consumer, so it is
parsed by hand in one pass over at most `MAX_RANGE_HEADER_CHARS` characters: no regular
expression, no backtracking, nothing that grows faster than the header.
"""

from __future__ import annotations

from api.errors import RangeNotSatisfiableError

#: The longest header worth reading: `bytes=` and two 18-digit numbers take 43 characters;
#: the rest is room for optional whitespace. Anything longer is ignored unread.
MAX_RANGE_HEADER_CHARS = 200
# 18 digits reach past any object size; longer numbers are ignored rather than parsed.
_MAX_DIGITS = 18
_DIGITS = frozenset("0123456789")
# RFC 9110 OWS: spaces and horizontal tabs only.
_OWS = " \t"


def _position(text: str) -> str | None:
    """The text without surrounding OWS if it is empty or 1..18 ASCII digits, else None."""
    stripped = text.strip(_OWS)
    if len(stripped) > _MAX_DIGITS or not _DIGITS.issuperset(stripped):
        return None
    return stripped


def _byte_range(header: str) -> tuple[str, str] | None:
    """The first and last position of `bytes=first-last` as given (either may be empty).

    None for anything else: another unit, several ranges, or text that is not a number.
    Each step (partition, strip, the digit check) is one linear pass over the header.
    """
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip(_OWS).lower() != "bytes":
        return None
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    first_digits, last_digits = _position(first), _position(last)
    if first_digits is None or last_digits is None:
        return None
    return first_digits, last_digits


def parse_range(header: str | None, size_bytes: int) -> tuple[int, int] | None:
    """The inclusive (start, end) a Range header asks for, or None to send everything.

    A header that is malformed, longer than `MAX_RANGE_HEADER_CHARS` or names several
    ranges is ignored, as RFC 9110 allows; a well-formed range that lies wholly beyond the
    content raises RangeNotSatisfiableError. Time is linear in the header's length, and
    bounded by the length limit.

    Args:
        header: The Range header's value, if any.
        size_bytes: The size of the whole content.

    Returns:
        The first and last byte to send, both within the content, or None for all of it.

    Raises:
        RangeNotSatisfiableError: The range starts at or after the end of the content, or
            asks for the last zero bytes.
    """
    if not header or len(header) > MAX_RANGE_HEADER_CHARS:
        return None
    spec = _byte_range(header.strip(_OWS))
    if spec is None:
        return None
    first, last = spec
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size_bytes == 0:
            raise RangeNotSatisfiableError(size_bytes)
        return max(0, size_bytes - suffix), size_bytes - 1
    start = int(first)
    end = int(last) if last else size_bytes - 1
    if last and end < start:
        return None
    if start >= size_bytes:
        raise RangeNotSatisfiableError(size_bytes)
    return start, min(end, size_bytes - 1)


def range_applies(if_range: str | None, etag: str) -> bool:
    """Whether a Range may be honoured given If-Range (RFC 9110 section 13.1.5).

    Only a strong entity tag equal to ours keeps the range; a date (we send no
    Last-Modified) or another tag means the client's copy may differ: send everything.
    """
    if if_range is None:
        return True
    return if_range.strip() == etag
