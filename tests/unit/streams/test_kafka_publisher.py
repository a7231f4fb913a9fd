import socket

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.kafka_publisher import AiokafkaEventPublisher


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_kafka_down_fails_each_call_and_leaves_nothing_open() -> None:
    publisher = AiokafkaEventPublisher(f"127.0.0.1:{_closed_port()}")
    for _ in range(2):  # each call tries again with a fresh producer
        with pytest.raises(KafkaConnectionError):
            await publisher.publish("topic", b"k", b"v")
    with pytest.raises(KafkaConnectionError):
        await publisher.ping()
    await publisher.stop()
    assert publisher._producer is None
