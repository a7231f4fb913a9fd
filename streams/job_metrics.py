"""Prometheus metrics of the background jobs `keepline serve` runs: the sweeper, the audit check.

The alert rules in `deploy/prometheus/` read them: a sweep pass that fails, items a pass
could not destroy, a sweeper that has not finished a pass for too long, and an audit
chain that no longer verifies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("keepline.audit")


class SweepOutcome(Protocol):
    """What the sweep metrics need of a pass's report."""

    @property
    def failed(self) -> int:
        """Items the pass could not act on."""
        ...


class ChainVerdictLike(Protocol):
    """What the audit metrics need of a verify result."""

    @property
    def ok(self) -> bool:
        """Whether the chain holds."""
        ...

    @property
    def entries(self) -> int:
        """Entries checked."""
        ...


class Verifies(Protocol):
    """The audit log's verify."""

    async def verify(self) -> ChainVerdictLike:
        """Recompute the chain."""
        ...


class JobMetrics:
    """Sweeper and audit-chain metrics, in the registry `/metrics` serves."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sweeps = Counter(
            "keepline_sweeps",
            "Sweep passes finished by this process, by outcome (ok, error)",
            ["outcome"],
            registry=registry,
        )
        self.sweep_items_failed = Counter(
            "keepline_sweep_items_failed",
            "Items a sweep pass could not destroy or update (retried next pass)",
            registry=registry,
        )
        self.sweep_last_success = Gauge(
            "keepline_sweep_last_success_timestamp_seconds",
            "When this process last finished a sweep pass without an error (Unix time)",
            registry=registry,
        )
        self.audit_chain_ok = Gauge(
            "keepline_audit_chain_ok",
            "1 when the audit hash chain verified at the last check, 0 when it did not",
            registry=registry,
        )
        self.audit_entries = Gauge(
            "keepline_audit_chain_entries",
            "Entries of the audit chain at the last check",
            registry=registry,
        )
        self.audit_checked = Gauge(
            "keepline_audit_verified_timestamp_seconds",
            "When the audit chain was last checked (Unix time)",
            registry=registry,
        )
        for outcome in ("ok", "error"):
            self.sweeps.labels(outcome)

    def sweep_done(self, report: SweepOutcome | None) -> None:
        """Count a pass: its report, or None when it raised."""
        if report is None:
            self.sweeps.labels("error").inc()
            return
        self.sweeps.labels("ok").inc()
        self.sweep_items_failed.inc(report.failed)
        self.sweep_last_success.set(time.time())

    def audit_checked_now(self, verdict: ChainVerdictLike) -> None:
        """Record a verify result."""
        self.audit_chain_ok.set(1 if verdict.ok else 0)
        self.audit_entries.set(verdict.entries)
        self.audit_checked.set(time.time())


async def watch_audit_chain(audit: Verifies, metrics: JobMetrics, *, interval_s: float) -> None:
    """Verify the audit chain every interval_s and keep the audit gauges current."""
    while True:
        verdict = await audit.verify()
        metrics.audit_checked_now(verdict)
        if not verdict.ok:
            log.error("the audit chain does not verify: see GET /v1/audit/verify")
        await asyncio.sleep(interval_s)
