"""Fixtures that run keepline itself: a service factory and a content server."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess
from tests.integration.keepline_service import KeeplineService


@pytest.fixture
def keepline_factory(
    kafka: KafkaProcess, minio: MinioProcess, tmp_path: Path
) -> Iterator[Callable[..., KeeplineService]]:
    """Start `keepline serve` processes: `keepline_factory(policy_text=None, env=None)`.

    Each has its own topics, bucket, catalog, key ring and port; all are stopped after the
    test (their logs stay in the test's tmp_path).
    """
    started: list[KeeplineService] = []

    def start(
        *, policy_text: str | None = None, env: dict[str, str] | None = None, run: bool = True
    ) -> KeeplineService:
        service = KeeplineService(
            bootstrap=kafka.bootstrap,
            s3_endpoint=minio.url,
            s3_access_key=minio.access_key,
            s3_secret_key=minio.secret_key,
            workdir=tmp_path / f"keepline-{len(started)}",
            policy_text=policy_text,
            env=env,
        )
        started.append(service)
        if run:
            service.start()
        return service

    yield start
    for service in started:
        service.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


@pytest.fixture(scope="session")
def content_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[bytes], str]]:
    """Serve bytes over http on loopback: `content_server(data) -> url`."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    def publish(data: bytes) -> str:
        name = f"{uuid.uuid4().hex}.bin"
        (root / name).write_bytes(data)
        return f"http://127.0.0.1:{port}/{name}"

    yield publish
    server.shutdown()
    server.server_close()
