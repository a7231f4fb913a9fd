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

KeeplineFactory = Callable[..., KeeplineService]


@pytest.fixture(scope="session")
def catalog(request: pytest.FixtureRequest) -> str:
    """The catalog `keepline serve` uses: `sqlite` (a file in its data directory), or
    `postgresql` (a fresh database on the session's server) for a module parametrized with
    `catalog_support.on_both_catalogs`."""
    return str(getattr(request, "param", "sqlite"))


class _Launcher:
    """Starts keepline services in one directory and stops them all at the end."""

    def __init__(
        self,
        request: pytest.FixtureRequest,
        servers: tuple[KafkaProcess, MinioProcess],
        workdir: Path,
        catalog: str,
        origins: Sequence[str],
    ) -> None:
        self._kafka, self._minio = servers
        # PostgreSQL starts only for a test that runs on it.
        self._catalog_url: Callable[[], str] | None = (
            request.getfixturevalue("migrated_catalog_url") if catalog == "postgresql" else None
        )
        self._workdir = workdir
        self._origins = list(origins)
        self.started: list[KeeplineService] = []

    def __call__(
        self,
        *,
        policy_text: str | None = None,
        env: dict[str, str] | None = None,
        run: bool = True,
        content_sources: Sequence[str] = (),
    ) -> KeeplineService:
        settings = {
            "KEEPLINE_CONTENT_SOURCES": ",".join([*self._origins, *content_sources]),
            "KEEPLINE_CONTENT_S3_ACCESS_KEY": self._minio.access_key,
            "KEEPLINE_CONTENT_S3_SECRET_KEY": self._minio.secret_key,
        }
        if self._catalog_url is not None:
            # A fresh database; a service that shares another's catalog brings its URL in env.
            settings["KEEPLINE_CATALOG_URL"] = self._catalog_url()
        service = KeeplineService(
            bootstrap=self._kafka.bootstrap,
            s3_endpoint=self._minio.url,
            s3_access_key=self._minio.access_key,
            s3_secret_key=self._minio.secret_key,
            workdir=self._workdir / f"keepline-{len(self.started)}",
            policy_text=policy_text,
            env={**settings, **(env or {})},
        )
        self.started.append(service)
        if run:
            service.start()
        return service

    def stop_all(self) -> None:
        for service in self.started:
            service.stop()


@pytest.fixture
def keepline_factory(
    kafka: KafkaProcess,
    minio: MinioProcess,
    catalog: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[KeeplineFactory]:
    """Start `keepline serve` processes: `keepline_factory(policy_text=None, env=None)`.

    Each has its own topics, bucket, catalog (of the kind the `catalog` fixture names), key
    ring and port; all are stopped after the test (their logs stay in the test's tmp_path).
    KEEPLINE_CONTENT_SOURCES lists the content servers the test uses and `content_sources`
    (e.g. `s3://<staging bucket>`); s3 sources are read with MinIO's root credentials (a
    test stack has no other user).
    """
    origins = [
        request.getfixturevalue(name).base_url
        for name in _CONTENT_FIXTURES
        if name in request.fixturenames
    ]
    launcher = _Launcher(request, (kafka, minio), tmp_path, catalog, origins)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def shared_keepline_factory(
    kafka: KafkaProcess,
    minio: MinioProcess,
    catalog: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[KeeplineFactory]:
    """As `keepline_factory`, for services that every test of a module shares.

    For tests that isolate themselves by subject and source and neither stop, restart nor
    reconfigure the service. Content servers are not added by themselves: pass their
    origins in `content_sources`.
    """
    workdir = tmp_path_factory.mktemp("shared-keepline")
    launcher = _Launcher(request, (kafka, minio), workdir, catalog, ())
    yield launcher
    launcher.stop_all()


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
