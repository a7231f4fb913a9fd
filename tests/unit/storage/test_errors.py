"""Storage errors carry what a caller needs and show nothing that was fetched."""

from __future__ import annotations

import pytest

from storage.errors import ContentMismatchError


@pytest.mark.parametrize(
    ("field", "expected", "actual", "message"),
    [
        ("sha256", "ab" * 32, "cd" * 32, "content failed its sha256 check"),
        ("size_bytes", "1000", "1234", "content size differs from size_bytes"),
    ],
)
def test_a_content_mismatch_never_echoes_what_was_fetched(
    field: str, expected: str, actual: str, message: str
) -> None:
    error = ContentMismatchError(field=field, expected=expected, actual=actual)
    assert error.field == field
    assert str(error) == message
    assert actual not in str(error)
