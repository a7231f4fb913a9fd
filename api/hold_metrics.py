"""Metrics of the holds' background S3 flag work, read at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from service.holds.service import HoldsService


class HoldFlagMetrics(Collector):
    """``keepline_hold_flags_synced_total`` and ``keepline_hold_flag_tasks`` of this process.

    The first counts objects whose lock state the background tasks brought in line since
    the process started; the second, the tasks still running (0: nothing in flight here;
    each hold's own progress is its ``flags_pending``).
    """

    def __init__(self, holds: HoldsService) -> None:
        self._holds = holds

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """The two figures, now."""
        synced = CounterMetricFamily(
            "keepline_hold_flags_synced",
            "Objects whose S3 lock state a hold's background task brought in line",
        )
        synced.add_metric([], self._holds.flags_synced)
        yield synced
        tasks = GaugeMetricFamily(
            "keepline_hold_flag_tasks", "Holds whose S3 flags are being set in the background"
        )
        tasks.add_metric([], self._holds.syncing)
        yield tasks
