"""AiokafkaEventPublisher: acknowledged, idempotent produce for events and audit entries."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer


class AiokafkaEventPublisher:
    """One idempotent producer (acks=all); `publish` returns once the broker has the record."""

    def __init__(self, bootstrap: str, *, client_id: str = "keepline-publisher") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=15000,
        )
        self._started = False

    async def start(self) -> None:
        """Connect (raises if Kafka cannot be reached)."""
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record and wait for its acknowledgement."""
        if not self._started:
            await self.start()
        await self._producer.send_and_wait(topic, value=value, key=key)

    async def ping(self) -> None:
        """Fetch cluster metadata; raises if Kafka does not answer."""
        if not self._started:
            await self.start()
        await self._producer.client.fetch_all_metadata()
