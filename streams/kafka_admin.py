"""Talking to a running Kafka: readiness probes and topic creation, via aiokafka's admin."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.kafka_security import PLAINTEXT, KafkaSecurity

_TOPIC_ALREADY_EXISTS: Final = 36
_T = TypeVar("_T")


def run_blocking(coro: Coroutine[object, object, _T]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    Inside a loop (an async test calling a sync helper) it runs on a worker thread
    with its own loop, blocking the caller until done.

    Args:
        coro: The coroutine.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="deploy-kafka") as pool:
        return pool.submit(asyncio.run, coro).result()


def _accepts_connections(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


async def _probe(bootstrap: str, security: KafkaSecurity) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, **security.client_kwargs()
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            return False
        # The first FindCoordinator creates __consumer_offsets; doing it here spares the
        # first consumer group a GroupCoordinatorNotAvailable round (logged as an error).
        await admin.find_coordinator("keepline-deploy-probe")
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()
    return True


def broker_ready(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> bool:
    """Tell whether a broker lists itself in metadata and can coordinate consumer groups.

    A plain TCP connection is tried first, so a broker that is still starting costs no
    client log noise.

    Args:
        bootstrap: The bootstrap servers.
        security: How to connect.
    """
    return _accepts_connections(bootstrap) and run_blocking(_probe(bootstrap, security))


async def ensure_topics_async(
    bootstrap: str,
    names: Sequence[str],
    partitions: int = 1,
    timeout_s: float = 30.0,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the topics that do not exist yet and wait until they have leaders.

    Args:
        bootstrap: The bootstrap servers.
        names: The topic names.
        partitions: Partitions of each new topic.
        timeout_s: How long to wait for the leaders.
        security: How to connect.

    Raises:
        KafkaError: The broker refused to create a topic, or leaders did not appear.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security.client_kwargs()
    )
    try:
        await admin.start()
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names],
        )
        for topic, code, *message in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise KafkaError(f"creating topic {topic} failed: error {code} {message}")
        deadline = time.monotonic() + timeout_s
        while True:
            described = await admin.describe_topics(list(names))
            led = [
                t
                for t in described
                if t["error_code"] == 0 and all(p["leader"] >= 0 for p in t["partitions"])
            ]
            if len(led) == len(names):
                return
            if time.monotonic() > deadline:
                raise KafkaError(f"topics without a leader after {timeout_s} s: {described}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def ensure_topics(
    bootstrap: str,
    names: Sequence[str],
    partitions: int = 1,
    timeout_s: float = 30.0,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the topics that do not exist yet (sync; callable inside an event loop).

    Args:
        bootstrap: The bootstrap servers.
        names: The topic names.
        partitions: Partitions of each new topic.
        timeout_s: How long to wait for the leaders.
        security: How to connect.
    """
    run_blocking(ensure_topics_async(bootstrap, names, partitions, timeout_s, security=security))
