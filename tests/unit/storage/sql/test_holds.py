"""SqlHoldStore's pure parts; its behaviour on every catalog is in tests/catalog_contract."""

from __future__ import annotations

import sys

from storage.sql.holds import FOLD_TO_ASCII


def test_fold_to_ascii_lists_every_non_ascii_letter_that_casefolds_to_ascii() -> None:
    letters = (chr(cp) for cp in range(0x80, sys.maxunicode + 1))
    expected = {c for c in letters if c.casefold() != c and c.casefold().isascii()}
    assert set(FOLD_TO_ASCII) == expected
