"""A worker that comes back by itself: started during an outage, and across a broker restart.

Each test runs its own Kafka and MinIO on fixed free ports, so it can stop and start them
without disturbing the servers the other tests share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.cache import free_ports
from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess
from tests.integration.ingest_support import all_items, chat_event
from tests.integration.keepline_service import KeeplineService, wait_for


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[tuple[KafkaProcess, MinioProcess]]:
    """A Kafka and a MinIO of this test only, on ports fixed before they first start."""
    kafka_port, controller_port, minio_port, console_port = free_ports(4)
    kafka = KafkaProcess(
        tmp_path / "kafka", port=kafka_port, controller_port=controller_port, num_partitions=1
    )
    minio = MinioProcess(tmp_path / "minio" / "data", port=minio_port, console_port=console_port)
    yield kafka, minio
    minio.stop()
    kafka.stop()


def _service(kafka: KafkaProcess, minio: MinioProcess, workdir: Path) -> KeeplineService:
    return KeeplineService(
        bootstrap=kafka.bootstrap,
        s3_endpoint=minio.url,
        s3_access_key=minio.access_key,
        s3_secret_key=minio.secret_key,
        workdir=workdir,
        env={"KEEPLINE_SESSION_TIMEOUT_S": "6", "KEEPLINE_LAG_INTERVAL_S": "0.5"},
    )


def _readiness(service: KeeplineService) -> tuple[int, dict[str, str]] | None:
    try:
        response = httpx.get(f"{service.url}/readyz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.status_code, response.json().get("checks", {})


def _stored(service: KeeplineService, event_id: str) -> bool:
    with service.client("legal") as http:
        return any(item["event_id"] == event_id for item in all_items(http))


def test_serve_started_while_kafka_and_minio_are_down_waits_and_becomes_ready(
    own_stack: tuple[KafkaProcess, MinioProcess], tmp_path: Path
) -> None:
    kafka, minio = own_stack
    service = _service(kafka, minio, tmp_path / "keepline")
    service.spawn()
    try:
        # The API answers at once, not ready, and says what start-up waits for.
        status, checks = wait_for(lambda: _readiness(service), timeout_s=60, what="the API")
        assert status == 503
        assert "waiting for the catalog and the object store" in checks["worker"]
        wait_for(
            lambda: "waiting for the catalog and the object store" in service.log_tail(20),
            timeout_s=30,
            what="a progress line",
        )
        assert service.alive

        minio.start()
        wait_for(
            lambda: "Kafka" in (_readiness(service) or (0, {}))[1].get("worker", ""),
            timeout_s=60,
            what="start-up to move on to Kafka",
        )
        assert service.alive
        kafka.start()
        service.wait_ready(timeout_s=120)

        service.publish("chats", chat_event("after-the-outage", b"hello"))
        wait_for(lambda: _stored(service, "after-the-outage"), timeout_s=60, what="stored")
    finally:
        service.stop()


def test_consumption_resumes_after_a_broker_restart_and_readiness_tells_the_truth(
    own_stack: tuple[KafkaProcess, MinioProcess], tmp_path: Path
) -> None:
    kafka, minio = own_stack
    minio.start()
    kafka.start()
    service = _service(kafka, minio, tmp_path / "keepline")
    service.start()
    try:
        service.publish("chats", chat_event("before-restart", b"one"))
        wait_for(lambda: _stored(service, "before-restart"), timeout_s=60, what="stored")

        kafka.stop()
        wait_for(
            lambda: (_readiness(service) or (200, {}))[0] == 503,
            timeout_s=60,
            what="not ready while Kafka is down",
        )
        kafka.start()
        service.publish("chats", chat_event("after-restart", b"two"))

        seen_unassigned_ready: list[dict[str, str]] = []

        def resumed() -> bool:
            readiness = _readiness(service)
            if readiness is not None:
                status, checks = readiness
                if status == 200 and "owns no partition" in checks.get("worker", ""):
                    seen_unassigned_ready.append(checks)
            return _stored(service, "after-restart")

        # Far below the consumer's five-minute metadata refresh that used to end the stall.
        wait_for(resumed, timeout_s=90, what="consumption after the broker restart")
        assert seen_unassigned_ready == []
        service.wait_ready(timeout_s=60)
        status, checks = _readiness(service) or (0, {})
        assert status == 200, checks
    finally:
        service.stop()
