"""The local stack: real Kafka and MinIO started by the fixtures do what keepline needs."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.retention import Retention

from deploy.kafka import KafkaProcess, run_blocking
from deploy.minio import MinioProcess
from tests.integration.conftest import BucketFactory, TopicFactory


@pytest.fixture(scope="module")
def minio(private_minio: MinioProcess) -> MinioProcess:
    """A server of this module's own: its tests stop and restart it."""
    return private_minio


async def test_kafka_produce_then_consume_in_a_group_and_commit(
    kafka: KafkaProcess, topic_factory: TopicFactory
) -> None:
    topic = topic_factory("stack", partitions=2)
    group = f"group-{uuid.uuid4().hex[:8]}"
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(6)}
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=1000)
            received |= {m.key: m.value for ms in batches.values() for m in ms if m.key}
            if len(received) == len(sent):
                break
        await consumer.commit()
    finally:
        await consumer.stop()
    assert received == sent

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert sum(meta.offset for meta in offsets.values()) == len(sent)


def test_auto_created_topics_work_too(kafka: KafkaProcess) -> None:
    topic = f"auto.{uuid.uuid4().hex[:8]}"

    async def roundtrip() -> bytes:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            return (await consumer.getone()).value or b""
        finally:
            await consumer.stop()

    assert run_blocking(roundtrip()) == b"hello"


def test_object_lock_governance_refuses_delete_without_bypass(
    minio_client: Minio, bucket_factory: BucketFactory
) -> None:
    bucket = bucket_factory("lock")
    body = b"recording bytes"
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    written = minio_client.put_object(
        bucket,
        "item-1",
        io.BytesIO(body),
        len(body),
        retention=Retention(GOVERNANCE, until),
    )
    assert written.version_id
    response = minio_client.get_object(bucket, "item-1")
    try:
        assert response.read() == body
    finally:
        response.close()
        response.release_conn()
    retention = minio_client.get_object_retention(bucket, "item-1")
    assert retention is not None
    assert retention.mode == GOVERNANCE

    with pytest.raises(S3Error) as refused:
        minio_client.remove_object(bucket, "item-1", version_id=written.version_id)
    # MinIO answers InvalidRequest ("Object is WORM protected..."), AWS S3 AccessDenied.
    assert refused.value.code in {"InvalidRequest", "AccessDenied"}
    assert "WORM" in (refused.value.message or "")
    assert minio_client.stat_object(bucket, "item-1", version_id=written.version_id).size == len(
        body
    )

    errors = list(
        minio_client.remove_objects(
            bucket,
            [DeleteObject("item-1", written.version_id)],
            bypass_governance_mode=True,
        )
    )
    assert errors == []
    with pytest.raises(S3Error) as gone:
        minio_client.stat_object(bucket, "item-1", version_id=written.version_id)
    assert gone.value.code in {"NoSuchVersion", "NoSuchKey"}


def test_minio_restart_on_the_same_port_keeps_objects(
    minio: MinioProcess, minio_client: Minio, bucket_factory: BucketFactory
) -> None:
    bucket = bucket_factory("restart", object_lock=False)
    minio_client.put_object(bucket, "kept", io.BytesIO(b"still here"), 10)
    port = minio.port

    minio.stop()
    assert not minio.ready()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{minio.url}/minio/health/live", timeout=1.0)
    minio.start()

    assert minio.port == port
    response = minio_client.get_object(bucket, "kept")
    try:
        assert response.read() == b"still here"
    finally:
        response.close()
        response.release_conn()


def test_minio_pause_makes_requests_hang_until_resume(minio: MinioProcess) -> None:
    minio.pause()
    try:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{minio.url}/minio/health/live", timeout=0.5)
    finally:
        minio.resume()
    assert httpx.get(f"{minio.url}/minio/health/live", timeout=5.0).status_code == 200
