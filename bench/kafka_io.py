"""Kafka from the bench's side: publishing events fast, and the bare-consumer baseline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.artefacts import Message
from bench.errors import MeasurementError, WaitTimeoutError
from streams.kafka_admin import run_blocking


async def _publish(bootstrap: str, topics: Mapping[str, str], messages: Sequence[Message]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = [await producer.send(topics[m.kind], m.value, key=m.key) for m in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def publish(bootstrap: str, topics: Mapping[str, str], messages: Sequence[Message]) -> None:
    """Publish every message (acks=all) and return once the broker has acknowledged all.

    Args:
        bootstrap: Kafka's bootstrap servers.
        topics: The topic of each message kind (``calls``, ``emails``, ``chats``).
        messages: What to publish.
    """
    run_blocking(_publish(bootstrap, topics, messages))


async def _consume_all(
    bootstrap: str, topics: Sequence[str], timeout_s: float
) -> tuple[int, float]:
    # Without a group, a consumer given topics is assigned every partition of them.
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    # The clock starts before start(): the consumer begins fetching as soon as it is
    # assigned, so anything later would not see all of its work.
    started = time.monotonic()
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment())
        if {tp.topic for tp in partitions} != set(topics):
            raise MeasurementError(f"the consumer was assigned {partitions}, not all of {topics}")
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        expect = sum(ends[tp] - starts[tp] for tp in partitions)
        count = 0
        deadline = started + timeout_s
        while count < expect:
            if time.monotonic() > deadline:
                raise WaitTimeoutError(f"{expect} messages", timeout_s, f"{count} read")
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            count += sum(len(records) for records in batch.values())
        return count, time.monotonic() - started
    finally:
        await consumer.stop()


def consume_all(
    bootstrap: str, topics: Sequence[str], timeout_s: float = 300.0
) -> tuple[int, float]:
    """A bare aiokafka consumer reads every message on topics, from the beginning.

    No group, no commits, no decoding: the least a consumer of these topics can do.

    Returns:
        How many messages it read and how long that took, from `start()` (connecting
        included) to the last message.
    """
    return run_blocking(_consume_all(bootstrap, topics, timeout_s))
