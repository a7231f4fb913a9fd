from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from service.retention.service import SweepReport, sweep_forever
from streams.job_metrics import JobMetrics, watch_audit_chain


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_sweep_passes_count_by_outcome_and_failed_items() -> None:
    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    assert sample(registry, "keepline_sweeps_total", outcome="error") == 0  # shown from the start
    metrics.sweep_done(SweepReport(started_at=datetime.now(UTC), dry_run=False, failed=3))
    metrics.sweep_done(None)
    assert sample(registry, "keepline_sweeps_total", outcome="ok") == 1
    assert sample(registry, "keepline_sweeps_total", outcome="error") == 1
    assert sample(registry, "keepline_sweep_items_failed_total") == 3
    last = sample(registry, "keepline_sweep_last_success_timestamp_seconds")
    assert last is not None
    assert last > 0


@dataclass
class Verdict:
    ok: bool
    entries: int


class Chain:
    """Answers each verdict in turn (the last one from then on)."""

    def __init__(self, *verdicts: Verdict) -> None:
        self.verdicts = verdicts
        self.calls = 0
        self.all_recorded = asyncio.Event()

    async def verify(self) -> Verdict:
        if self.calls >= len(self.verdicts):  # every verdict was answered and recorded
            self.all_recorded.set()
        verdict = self.verdicts[min(self.calls, len(self.verdicts) - 1)]
        self.calls += 1
        return verdict


async def test_the_audit_watch_sets_the_chain_gauges() -> None:
    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    chain = Chain(Verdict(ok=True, entries=5), Verdict(ok=False, entries=6))
    task = asyncio.create_task(watch_audit_chain(chain, metrics, interval_s=0.01))
    try:
        async with asyncio.timeout(10):
            await chain.all_recorded.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert sample(registry, "keepline_audit_chain_ok") == 0
    assert sample(registry, "keepline_audit_chain_entries") == 6
    assert b"keepline_audit_verified_timestamp_seconds" in generate_latest(registry)


class FreeLeases:
    @contextlib.asynccontextmanager
    async def holding(self, *_args: Any, **_kwargs: Any) -> AsyncIterator[Any]:
        yield lambda: True


class BrokenSweeper:
    async def sweep(self, **_kwargs: Any) -> SweepReport:
        raise RuntimeError("catalog gone")


async def test_sweep_forever_tells_the_observer_of_a_pass_that_raised() -> None:
    seen: list[SweepReport | None] = []
    with pytest.raises(RuntimeError):
        await sweep_forever(
            BrokenSweeper(),  # type: ignore[arg-type]
            FreeLeases(),  # type: ignore[arg-type]
            interval_s=0.01,
            holder="me",
            clock=lambda: datetime.now(UTC),
            observe=seen.append,
        )
    assert seen == [None]
