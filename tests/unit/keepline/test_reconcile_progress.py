"""`keepline reconcile --progress`: versions scanned, then a bar of removals, on stderr."""

from __future__ import annotations

import io

from keepline.commands.reconcile import ReconcileBars


def test_the_scan_count_then_the_removal_bar() -> None:
    stream = io.StringIO()
    bars = ReconcileBars(stream)
    bars("scanning", 500, 500)
    bars("scanning", 1000, 1000)
    bars("removing", 3, 6)
    bars("removing", 6, 6)
    bars.close()
    text = stream.getvalue()
    assert "scanning the bucket: 1000 object versions" in text
    assert text.index("scanning") < text.index("removing orphans")
    assert text.rstrip().endswith("6/6")
    assert text.endswith("\n")


def test_a_scan_without_removals_ends_its_line() -> None:
    stream = io.StringIO()
    bars = ReconcileBars(stream)
    bars("scanning", 7, 7)
    bars.close()
    assert stream.getvalue() == "\rscanning the bucket: 7 object versions\n"
