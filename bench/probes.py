"""Reading what a running keepline exposes: Prometheus counters and /proc memory figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

_KIB = 1024


def counter_total(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The sum of a counter's samples in Prometheus text, over those matching labels.

    Args:
        text: The exposition text (``GET /metrics``).
        name: The counter's name without ``_total``, e.g. ``keepline_items_stored``.
        labels: Label values every counted sample must have; none: all samples.

    Returns:
        The sum; 0 when the counter has no samples yet (a labelled counter appears only
        once a label value has been counted).
    """
    wanted = dict(labels or {})
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name != f"{name}_total":
                continue
            if all(sample.labels.get(k) == v for k, v in wanted.items()):
                total += sample.value
    return total


def counter_by_label(text: str, name: str, label: str) -> dict[str, float]:
    """A counter's totals per value of one label, e.g. dead letters per reason."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_total":
                key = sample.labels.get(label, "")
                found[key] = found.get(key, 0.0) + sample.value
    return found


def status_field_bytes(status_text: str, field: str) -> int:
    """A memory field (``VmHWM``, ``VmRSS``) of /proc/<pid>/status, in bytes.

    Raises:
        ValueError: The field is not there or not in kB.
    """
    for line in status_text.splitlines():
        key, _, rest = line.partition(":")
        if key != field:
            continue
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            return int(parts[0]) * _KIB
        raise ValueError(f"{field} is not in kB: {line!r}")
    raise ValueError(f"no {field} in the status text")


def process_memory_bytes(pid: int, field: str) -> int:
    """VmHWM (peak resident set) or VmRSS of a live process, in bytes."""
    text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    return status_field_bytes(text, field)
