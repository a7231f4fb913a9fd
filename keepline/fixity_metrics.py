"""Prometheus gauges of the last integrity pass, kept current by the background job."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from service.fixity.models import pass_ok
from storage.ports import FixityPass


class FixityMetrics:
    """What the last finished integrity pass found, whichever process ran it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._found = Gauge(
            "keepline_fixity_objects",
            "Objects the last integrity pass found in each state",
            ["state"],
            registry=registry,
        )
        self._bucket = Gauge(
            "keepline_fixity_bucket_ok",
            "Whether the bucket's configuration is as required (1) or not (0)",
            ["setting"],
            registry=registry,
        )
        self._ok = Gauge(
            "keepline_fixity_ok", "The last integrity pass found nothing wrong", registry=registry
        )
        self._finished = Gauge(
            "keepline_fixity_last_finished_timestamp_seconds",
            "When the last integrity pass finished (Unix time)",
            registry=registry,
        )

    def update(self, state: FixityPass) -> None:
        """Show a finished pass."""
        if state.finished_at is None:
            return
        for name, value in (
            ("checked", state.objects_checked),
            ("mismatched", state.mismatched),
            ("missing", state.missing),
            ("orphaned", state.orphaned),
        ):
            self._found.labels(name).set(value)
        bucket = state.bucket or {}
        self._bucket.labels("versioning").set(1 if bucket.get("versioning_ok") else 0)
        self._bucket.labels("object_lock").set(1 if bucket.get("object_lock_ok") else 0)
        self._ok.set(1 if pass_ok(state) else 0)
        self._finished.set(state.finished_at.timestamp())
