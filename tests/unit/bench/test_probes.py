import os

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from bench.probes import counter_by_label, counter_total, process_memory_bytes, status_field_bytes


def _exposition() -> str:
    registry = CollectorRegistry()
    stored = Counter("keepline_items_stored", "Items stored", ["type"], registry=registry)
    letters = Counter("keepline_dead_letters", "Dead letters", ["reason"], registry=registry)
    plain = Counter("keepline_bytes_stored", "Bytes", registry=registry)
    stored.labels(type="email").inc(3)
    stored.labels(type="chat").inc(4)
    letters.labels(reason="invalid_json").inc(2)
    letters.labels(reason="schema_violation").inc()
    plain.inc(1 << 30)
    return generate_latest(registry).decode()


def test_counter_totals_by_labels() -> None:
    text = _exposition()
    assert counter_total(text, "keepline_items_stored") == 7
    assert counter_total(text, "keepline_items_stored", {"type": "chat"}) == 4
    assert counter_total(text, "keepline_items_stored", {"type": "call_recording"}) == 0
    assert counter_total(text, "keepline_bytes_stored") == 1 << 30
    assert counter_total(text, "no_such_counter") == 0


def test_counter_by_label_splits_per_value() -> None:
    letters = counter_by_label(_exposition(), "keepline_dead_letters", "reason")
    assert letters == {"invalid_json": 2, "schema_violation": 1}


def test_status_fields_are_read_in_bytes() -> None:
    text = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   65536 kB\n"
    assert status_field_bytes(text, "VmHWM") == 123456 * 1024
    assert status_field_bytes(text, "VmRSS") == 65536 * 1024
    with pytest.raises(ValueError, match="no VmSwap"):
        status_field_bytes(text, "VmSwap")
    with pytest.raises(ValueError, match="not in kB"):
        status_field_bytes("VmHWM:\t12 MB\n", "VmHWM")


def test_this_process_has_a_peak_at_least_its_current_resident_set() -> None:
    peak = process_memory_bytes(os.getpid(), "VmHWM")
    now = process_memory_bytes(os.getpid(), "VmRSS")
    assert 0 < now <= peak
