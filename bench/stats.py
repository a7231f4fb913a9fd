"""The arithmetic of the benchmarks: rates, ratios and percentiles, with no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Throughputs are in MB/s with MB = 10**6 bytes, as disk and network figures are.
BYTES_PER_MB = 1_000_000
BYTES_PER_MIB = 1 << 20


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile by the nearest-rank method: a value that was really measured.

    With 200 samples the 99th percentile is the 198th smallest, so two slow requests in
    two hundred do not show in it and three do.

    Args:
        samples: The measurements, in any order.
        q: The percentile, 0 < q <= 100.

    Raises:
        ValueError: No samples, or q out of range.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is not in (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[rank - 1]


def rate(count: float, duration_s: float) -> float:
    """How many per second.

    Raises:
        ValueError: The duration is not positive (a clock that did not move measures nothing).
    """
    if not duration_s > 0:
        raise ValueError(f"duration {duration_s} s is not positive")
    return count / duration_s


def megabytes_per_s(size_bytes: int, duration_s: float) -> float:
    """Throughput in MB/s (10**6 bytes per second)."""
    return rate(size_bytes / BYTES_PER_MB, duration_s)


def ratio(measured: float, baseline: float) -> float:
    """measured / baseline, e.g. keepline's rate over the bare client's.

    Raises:
        ValueError: The baseline is not positive.
    """
    if not baseline > 0:
        raise ValueError(f"baseline {baseline} is not positive")
    return measured / baseline


def mebibytes(size_bytes: int) -> float:
    """Bytes in MiB (2**20 bytes), as /proc reports memory in KiB."""
    return size_bytes / BYTES_PER_MIB


def significant(value: float, digits: int = 6) -> float:
    """value rounded to a few significant digits, for a readable JSON line.

    Raises:
        ValueError: value is NaN or infinite (not a measurement).
    """
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return float(f"{value:.{digits}g}")
