"""keepline on a broker that requires TLS and SCRAM: every client connects the same way."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.kafka import KafkaProcess, SaslListener
from deploy.minio import MinioProcess
from tests.integration.ingest_support import chat_event
from tests.integration.kafka_tls_support import BrokerTls, broker_tls
from tests.integration.keepline_service import KeeplineService, wait_for

USER = "keepline"
PASSWORD = secrets.token_hex(16)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> BrokerTls:
    return broker_tls(tmp_path_factory.mktemp("kafka-tls"))


@pytest.fixture(scope="module")
def secured_kafka(
    tmp_path_factory: pytest.TempPathFactory, tls: BrokerTls
) -> Iterator[KafkaProcess]:
    """A broker of its own with a SASL_SSL listener (SCRAM-SHA-512) beside the plaintext one."""
    broker = KafkaProcess(
        tmp_path_factory.mktemp("kafka-sasl"),
        sasl=SaslListener(keystore_pem=tls.keystore_pem, users={USER: PASSWORD}),
    )
    broker.start()
    yield broker
    broker.stop()


_CHILD = """
import asyncio, json, sys
from pathlib import Path
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from streams.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol

given = json.loads(sys.argv[2])
security = KafkaSecurity(
    protocol=SecurityProtocol(given.get("protocol", "PLAINTEXT")),
    mechanism=SaslMechanism(given["mechanism"]) if "mechanism" in given else None,
    username=given.get("username"),
    password=SecretStr(given["password"]) if "password" in given else None,
    cafile=Path(given["cafile"]) if "cafile" in given else None,
)

async def attempt() -> str:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=sys.argv[1], request_timeout_ms=20_000, **security.client_kwargs()
    )
    try:
        await admin.start()
        await admin.describe_cluster()
        return "ok"
    except Exception as err:
        return type(err).__name__
    finally:
        await admin.close()

print(asyncio.run(attempt()))
"""


def _connect_in_a_child(bootstrap: str, **security: str) -> str:
    """ "ok", or the error's class, of one admin connection made in a process of its own:
    aiokafka leaves the socket of a refused TLS or SASL handshake to the garbage collector,
    which must not warn inside the test process."""
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", _CHILD, bootstrap, json.dumps(security)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_listener_admits_the_right_password_only(
    secured_kafka: KafkaProcess, tls: BrokerTls
) -> None:
    sasl = {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "username": USER}
    trusted = {**sasl, "cafile": str(tls.ca_pem)}
    bootstrap = secured_kafka.sasl_bootstrap
    # Waited for, not assumed: on a busy machine the first TLS handshake can be slow.
    wait_for(
        lambda: _connect_in_a_child(bootstrap, **trusted, password=PASSWORD) == "ok" or None,
        timeout_s=120,
        what="the SASL_SSL listener to admit keepline's user",
    )
    refusals = {
        "wrong password": _connect_in_a_child(bootstrap, **trusted, password="wrong"),
        # a plaintext client on the secured listener
        "plaintext": _connect_in_a_child(bootstrap),
        # a client that does not trust the broker's CA (the system store does not)
        "untrusted CA": _connect_in_a_child(bootstrap, **sasl, password=PASSWORD),
    }
    # Each refused at connection (bootstrap), none admitted and none merely timed out.
    assert set(refusals.values()) == {"KafkaConnectionError"}, refusals


def test_keepline_ingests_and_publishes_over_sasl_ssl(
    secured_kafka: KafkaProcess, minio: MinioProcess, tls: BrokerTls, tmp_path: Path
) -> None:
    service = KeeplineService(
        # The test's own helpers read topics on the plaintext listener of the same broker;
        # keepline is given the SASL_SSL listener only.
        bootstrap=secured_kafka.bootstrap,
        s3_endpoint=minio.url,
        s3_access_key=minio.access_key,
        s3_secret_key=minio.secret_key,
        workdir=tmp_path / "keepline",
        env={
            "KEEPLINE_KAFKA_BOOTSTRAP": secured_kafka.sasl_bootstrap,
            "KEEPLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KEEPLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KEEPLINE_KAFKA_SASL_USERNAME": USER,
            "KEEPLINE_KAFKA_SASL_PASSWORD": PASSWORD,
            "KEEPLINE_KAFKA_SSL_CAFILE": str(tls.ca_pem),
        },
    )
    service.start()
    try:
        text = b"hello over TLS"
        event = chat_event("sasl-1", text, source="chat-sasl")
        with service.client("ingest") as http:  # the API's producer
            assert http.post("/v1/events", json=event).status_code == 202
        with service.client("legal") as http:  # the worker's consumer, then the catalog

            def stored() -> str | None:
                items = http.get("/v1/items", params={"type": "chat"}).json()["items"]
                return items[0]["item_id"] if items else None

            item_id = wait_for(stored, timeout_s=60, what="the chat stored over SASL_SSL")
            content = http.get(f"/v1/items/{item_id}/content")
            assert content.status_code == 200
            assert content.content == text
        # The audit publisher's producer: the content read reaches keepline.audit.
        entries = service.read_topic(
            "audit",
            expect=1,
            timeout_s=60,
            where=lambda e: e.get("action") == "content.read" and e.get("item_id") == item_id,
        )
        assert entries
        assert PASSWORD not in service.log_path.read_text(errors="replace")
        assert base64.b64encode(PASSWORD.encode()).decode() not in service.log_path.read_text()
    finally:
        service.stop()
