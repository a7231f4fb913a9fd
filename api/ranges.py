"""HTTP Range (RFC 9110) for one byte range: full, open (`a-`) and suffix (`-n`) forms."""

from __future__ import annotations

import re

from api.errors import RangeNotSatisfiableError

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size_bytes: int) -> tuple[int, int] | None:
    """The inclusive (start, end) a Range header asks for, or None to send everything.

    A header that is malformed or names several ranges is ignored, as RFC 9110 allows;
    a well-formed range that lies wholly beyond the content raises RangeNotSatisfiableError.
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
