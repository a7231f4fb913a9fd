"""Kafka from the chaos run's side: paced publishing through faults, group progress, DLQ.

Only what the broker acknowledged counts as published. A send that fails (the broker is
restarting) is sent again until it is acknowledged, so every event of the workload is
published at least once, and where each copy landed (topic, partition, offset) is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.chaos_accounting import EventKey
from bench.chaos_workload import Copy
from bench.errors import WaitTimeoutError

#: How long one message may take to be acknowledged, broker restarts included.
SEND_DEADLINE_S = 180.0


@dataclass(frozen=True, slots=True)
class Position:
    """Where a message landed."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class Published:
    """A copy the broker acknowledged, and where it went."""

    copy: Copy
    position: Position


async def _send(
    producer: AIOKafkaProducer, topic: str, copy: Copy, partition: int | None
) -> Position:
    deadline = time.monotonic() + SEND_DEADLINE_S
    while True:
        try:
            meta = await producer.send_and_wait(
                topic, copy.message.value, key=copy.message.key, partition=partition
            )
        except (KafkaError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
            continue
        return Position(topic, int(meta.partition), int(meta.offset))


async def publish_paced(
    bootstrap: str,
    topics: Mapping[str, str],
    copies: Sequence[Copy],
    *,
    span_s: float,
    on_published: Callable[[Published], None],
) -> None:
    """Publish copies evenly over span_s seconds, each acknowledged (acks=all) in turn.

    Args:
        bootstrap: Kafka's bootstrap servers.
        topics: The topic of each message kind (``calls``, ``emails``, ``chats``).
        copies: What to publish, in order.
        span_s: How long publishing should take (it takes longer while the broker is down).
        on_published: Called with each acknowledged copy.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", request_timeout_ms=15_000, linger_ms=0
    )
    await producer.start()
    first: dict[EventKey, Position] = {}
    started = time.monotonic()
    interval_s = span_s / max(1, len(copies))
    try:
        for index, copy in enumerate(copies):
            delay = started + index * interval_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            topic = topics[copy.message.kind]
            partition = None
            if copy.other_partition and copy.key in first:
                count = len(await producer.partitions_for(topic))
                partition = (first[copy.key].partition + 1) % count
            position = await _send(producer, topic, copy, partition)
            first.setdefault(copy.key, position)
            on_published(Published(copy, position))
    finally:
        await producer.stop()


async def _assigned_consumer(bootstrap: str, topics: Sequence[str]) -> AIOKafkaConsumer:
    # Without a group, a consumer given topics is assigned every partition of them at start.
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    return consumer


async def group_progress(
    bootstrap: str, group: str, topics: Sequence[str]
) -> dict[TopicPartition, tuple[int | None, int]]:
    """For each partition of topics: the group's committed offset (None: none) and the end."""
    consumer = await _assigned_consumer(bootstrap, topics)
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {
        tp: (committed[tp].offset if tp in committed else None, int(ends[tp])) for tp in partitions
    }


def caught_up(progress: Mapping[TopicPartition, tuple[int | None, int]]) -> bool:
    """Every partition committed to its end (an empty partition needs no commit)."""
    return bool(progress) and all(end in (0, committed) for committed, end in progress.values())


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every message value of topic, from the beginning to the end it has now."""
    consumer = await _assigned_consumer(bootstrap, [topic])
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while True:
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind:
                return values
            if time.monotonic() > deadline:
                raise WaitTimeoutError(f"the messages of {topic}", timeout_s)
            batch = await consumer.getmany(*behind, timeout_ms=500)
            values += [r.value for records in batch.values() for r in records if r.value]
    finally:
        await consumer.stop()


def dead_letter_keys(letters: Sequence[bytes]) -> list[EventKey | None]:
    """The (source, event_id) of each dead letter's original message; None if unparsable."""
    keys: list[EventKey | None] = []
    for letter in letters:
        try:
            body = json.loads(letter)
            event = json.loads(base64.b64decode(body["value_b64"]))
            keys.append((str(event["source"]), str(event["event_id"])))
        except (ValueError, KeyError, TypeError, binascii.Error):
            keys.append(None)
    return keys
