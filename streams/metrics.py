"""Prometheus metrics of the stream workers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class StreamMetrics:
    """Counters, a latency histogram and consumer lag, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter(
            "keepline_events_consumed", "Events consumed", ["topic"], registry=registry
        )
        self.stored = Counter("keepline_items_stored", "Items stored", ["type"], registry=registry)
        self.bytes_stored = Counter(
            "keepline_bytes_stored", "Plaintext bytes stored", registry=registry
        )
        self.duplicates = Counter(
            "keepline_duplicate_events", "Redelivered events ignored", registry=registry
        )
        self.dead_letters = Counter(
            "keepline_dead_letters", "Dead letters by reason", ["reason"], registry=registry
        )
        self.retries = Counter(
            "keepline_retries", "Transient faults retried", ["error"], registry=registry
        )
        self.latency = Histogram(
            "keepline_ingest_latency_seconds",
            "From consumption to stored",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.lag = Gauge(
            "keepline_consumer_lag", "Messages behind the end", ["topic", "partition"],
            registry=registry,
        )
