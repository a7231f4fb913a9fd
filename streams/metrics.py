"""Prometheus metrics of the stream workers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.acks import PartitionOrder


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
            "keepline_consumer_lag",
            "Messages behind the end",
            ["topic", "partition"],
            registry=registry,
        )
        self.withheld = Gauge(
            "keepline_acks_withheld",
            "Events stored or dead-lettered whose acknowledgement waits for an earlier event "
            "of their partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.oldest_unfinished = Gauge(
            "keepline_oldest_unfinished_offset",
            "Offset of the oldest event of a partition still being processed (-1: none)",
            ["topic", "partition"],
            registry=registry,
        )
        self.assigned = Gauge(
            "keepline_partitions_assigned",
            "Partitions of the subscribed topics this worker owns",
            registry=registry,
        )
        self.rejoins = Counter(
            "keepline_group_rejoins",
            "Rejoins forced after owning no partition for longer than a session timeout",
            registry=registry,
        )
        self.stale_claims = Gauge(
            "keepline_stale_pending_claims",
            "Pending claims no attempt has touched for longer than the stale threshold: their "
            "events were not delivered again (republish them; see keepline reconcile)",
            registry=registry,
        )
        self._withheld_shown: set[tuple[str, str]] = set()
        self._consumed_in: dict[str, Counter] = {}
        self._stored_of: dict[str, Counter] = {}

    def consumed_in(self, topic: str) -> Counter:
        """The consumed counter of one topic (looked up once: it is counted per event)."""
        child = self._consumed_in.get(topic)
        if child is None:
            child = self._consumed_in[topic] = self.consumed.labels(topic=topic)
        return child

    def stored_of(self, item_type: str) -> Counter:
        """The stored counter of one item type (looked up once: it is counted per item)."""
        child = self._stored_of.get(item_type)
        if child is None:
            child = self._stored_of[item_type] = self.stored.labels(type=item_type)
        return child

    def show_withheld(self, orders: Iterable[PartitionOrder]) -> None:
        """Set the withheld and oldest-unfinished gauges of every partition with tickets."""
        shown: set[tuple[str, str]] = set()
        for order in orders:
            for (topic, partition), waiting, oldest in order.withheld():
                labels = (topic, str(partition))
                self.withheld.labels(*labels).set(waiting)
                self.oldest_unfinished.labels(*labels).set(-1 if oldest is None else oldest)
                shown.add(labels)
        for labels in self._withheld_shown - shown:
            self.withheld.labels(*labels).set(0)
            self.oldest_unfinished.labels(*labels).set(-1)
        self._withheld_shown = shown


class ConsumerLike(Protocol):
    """What the lag gauge needs of a Kafka consumer (faust's Consumer has it)."""

    def assignment(self) -> set[Any]:
        """The topic partitions assigned to this consumer."""
        ...

    def highwater(self, tp: Any) -> int:
        """The offset the next record written to tp will get."""
        ...

    async def position(self, tp: Any) -> int | None:
        """The offset of the next record this consumer fetches from tp."""
        ...


class ConsumerLag:
    """Refreshes `keepline_consumer_lag`: for each assigned partition, what is left to do.

    Lag is the highwater minus the committed offset: the records not yet stored (or
    dead-lettered). The fetch position runs ahead of that by whatever sits in the consumer's
    buffers, so it is used only until the first commit of a partition.
    """

    def __init__(self, metrics: StreamMetrics) -> None:
        self._gauge = metrics.lag
        self._shown: set[tuple[str, str]] = set()

    async def update(self, consumer: ConsumerLike) -> None:
        """Set the gauge of every assigned partition; drop those no longer assigned."""
        committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
        shown: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            done = committed.get(tp)
            if done is None:
                done = await consumer.position(tp)
            if highwater is None or done is None:
                continue
            labels = (str(tp.topic), str(tp.partition))
            self._gauge.labels(*labels).set(max(highwater - done, 0))
            shown.add(labels)
        for labels in self._shown - shown:
            self._gauge.remove(*labels)
        self._shown = shown
