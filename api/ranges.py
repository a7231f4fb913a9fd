"""HTTP Range (RFC 9110) for one byte range: full, open (`a-`) and suffix (`-n`) forms."""

from __future__ import annotations

import re

from api.errors import RangeNotSatisfiableError

# 18 digits reach past any object size; longer numbers are ignored rather than parsed.
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*$", re.IGNORECASE)


def parse_range(header: str | None, size_bytes: int) -> tuple[int, int] | None:
    """The inclusive (start, end) a Range header asks for, or None to send everything.

    A header that is malformed or names several ranges is ignored, as RFC 9110 allows;
    a well-formed range that lies wholly beyond the content raises RangeNotSatisfiableError.

    Args:
        header: The Range header's value, if any.
        size_bytes: The size of the whole content.

    Returns:
        The first and last byte to send, both within the content, or None for all of it.

    Raises:
        RangeNotSatisfiableError: The range starts at or after the end of the content, or
            asks for the last zero bytes.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
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
