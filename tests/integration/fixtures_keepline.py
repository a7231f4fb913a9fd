"""Fixtures that run keepline itself: a service factory and a content server."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess
from tests.integration.keepline_service import KeeplineService

# The content servers a test may use; keepline may fetch from those the test asked for, as an
# operator lists the sources of a deployment. Each fixture's value has `base_url`, an origin.
_CONTENT_FIXTURES = ("content_server", "generated_content", "gated_content")


@pytest.fixture
def keepline_factory(
    kafka: KafkaProcess, minio: MinioProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., KeeplineService]]:
    """Start `keepline serve` processes: `keepline_factory(policy_text=None, env=None)`.

    Each has its own topics, bucket, catalog, key ring and port; all are stopped after the
    test (their logs stay in the test's tmp_path). KEEPLINE_CONTENT_SOURCES lists the
    content servers the test uses and `content_sources` (e.g. `s3://<staging bucket>`);
    s3 sources are read with MinIO's root credentials (a test stack has no other user).
    """
    started: list[KeeplineService] = []
    origins = [
        request.getfixturevalue(name).base_url
        for name in _CONTENT_FIXTURES
        if name in request.fixturenames
    ]

    def start(
        *,
        policy_text: str | None = None,
        env: dict[str, str] | None = None,
        run: bool = True,
        content_sources: Sequence[str] = (),
    ) -> KeeplineService:
        sources = {
            "KEEPLINE_CONTENT_SOURCES": ",".join([*origins, *content_sources]),
            "KEEPLINE_CONTENT_S3_ACCESS_KEY": minio.access_key,
            "KEEPLINE_CONTENT_S3_SECRET_KEY": minio.secret_key,
        }
        service = KeeplineService(
            bootstrap=kafka.bootstrap,
            s3_endpoint=minio.url,
            s3_access_key=minio.access_key,
            s3_secret_key=minio.secret_key,
            workdir=tmp_path / f"keepline-{len(started)}",
            policy_text=policy_text,
            env={**sources, **(env or {})},
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


@dataclass(frozen=True)
class ContentServer:
    """`content_server(data) -> url`: data served over http from base_url (an origin)."""

    root: Path
    base_url: str

    def __call__(self, data: bytes) -> str:
        name = f"{uuid.uuid4().hex}.bin"
        (self.root / name).write_bytes(data)
        return f"{self.base_url}/{name}"


@pytest.fixture(scope="session")
def content_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContentServer]:
    """Serve bytes over http on loopback: `content_server(data) -> url`."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ContentServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()
