"""AiokafkaEventPublisher: acknowledged, idempotent produce for events and audit entries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from streams.kafka_security import PLAINTEXT, KafkaSecurity


class AiokafkaEventPublisher:
    """One idempotent producer (acks=all); `publish` returns once the broker has the record.

    The producer connects on first use; a connection that fails is closed at once and the
    next call tries again with a fresh one, so Kafka being down at start-up costs nothing.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "keepline-publisher",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._security = security
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=15000,
            **self._security.client_kwargs(),
        )

    async def start(self) -> None:
        """Connect (raises if Kafka cannot be reached); a no-op once connected."""
        await self._started()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = self._new_producer()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # an unstarted producer still holds a client
                raise
            self._producer = producer
            return producer

    async def stop(self) -> None:
        """Flush and disconnect."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(
        self, topic: str, key: bytes, value: bytes, *, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Send one record and wait for its acknowledgement."""
        producer = await self._started()
        await producer.send_and_wait(topic, value=value, key=key, headers=list(headers) or None)

    async def ping(self) -> None:
        """Fetch cluster metadata; raises if Kafka does not answer."""
        producer = await self._started()
        await producer.client.fetch_all_metadata()
