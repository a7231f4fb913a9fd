"""Real Kafka and MinIO for the integration tests, started once per session on free ports.

Only the servers the collected tests need are started, both at once, in temporary
directories that pytest keeps for the last runs (logs included). In a parallel run the
workers share the servers the controller started (tests/shared_stack.py). A module whose
tests stop or restart a server overrides `kafka` and `minio` with `private_kafka` and
`private_minio`, servers of its own. Every test in this folder is marked `integration`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from minio import Minio

from deploy.kafka import KafkaProcess, ensure_topics
from deploy.minio import MinioProcess
from tests.integration.fixtures_postgres import (  # noqa: F401 - fixtures
    catalog_url,
    migrated_catalog_url,
    postgres,
)
from tests.shared_stack import SharedKafka, SharedMinio, handed, start_kafka, start_minio

HERE = Path(__file__).parent
_NEEDED = pytest.StashKey[frozenset[str]]()

TopicFactory = Callable[..., str]
BucketFactory = Callable[..., str]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # First, so that `-m "not integration"` sees the marker.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # After deselection: start only the servers the tests that will run need.
    needed: set[str] = set()
    for item in session.items:
        needed.update({"kafka", "minio"} & set(getattr(item, "fixturenames", ())))
    session.config.stash[_NEEDED] = frozenset(needed)


class _Servers:
    """Starts the servers in the background; hands each out once it is ready."""

    def __init__(self, base: pytest.TempPathFactory, needed: frozenset[str]) -> None:
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="stack-start")
        self._kafka: Future[KafkaProcess] | None = None
        self._minio: Future[MinioProcess] | None = None
        self._base = base
        if "kafka" in needed:
            self._kafka = self._pool.submit(start_kafka, base.mktemp("kafka"))
        if "minio" in needed:
            self._minio = self._pool.submit(start_minio, base.mktemp("minio"))

    def kafka(self) -> KafkaProcess:
        if self._kafka is None:  # requested dynamically, not seen at collection
            self._kafka = self._pool.submit(start_kafka, self._base.mktemp("kafka"))
        return self._kafka.result()

    def minio(self) -> MinioProcess:
        if self._minio is None:
            self._minio = self._pool.submit(start_minio, self._base.mktemp("minio"))
        return self._minio.result()

    def stop(self) -> None:
        self._pool.shutdown(wait=True)
        for future in (self._minio, self._kafka):
            if future is not None and future.exception() is None:
                future.result().stop()


@pytest.fixture(scope="session")
def _servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Servers | None]:
    if handed(request.config) is not None:  # a worker of a parallel run: shared servers
        yield None
        return
    needed = request.config.stash.get(_NEEDED, frozenset({"kafka", "minio"}))
    servers = _Servers(tmp_path_factory, needed)
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest, _servers: _Servers | None) -> KafkaProcess | SharedKafka:
    """A KRaft broker on 127.0.0.1; `kafka.bootstrap` is its address."""
    shared = handed(request.config)
    if shared is not None:
        return shared.kafka
    assert _servers is not None
    return _servers.kafka()


@pytest.fixture(scope="session")
def minio(request: pytest.FixtureRequest, _servers: _Servers | None) -> MinioProcess | SharedMinio:
    """A MinIO server; `endpoint`, `url`, `access_key`, `secret_key` reach it."""
    shared = handed(request.config)
    if shared is not None:
        return shared.minio
    assert _servers is not None
    return _servers.minio()


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaProcess]:
    """A broker of the module's own, for tests that stop or restart it."""
    kafka = start_kafka(tmp_path_factory.mktemp("private-kafka"))
    yield kafka
    kafka.stop()


@pytest.fixture(scope="module")
def private_minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioProcess]:
    """A MinIO server of the module's own, for tests that stop, pause or restart it."""
    minio = start_minio(tmp_path_factory.mktemp("private-minio"))
    yield minio
    minio.stop()


@pytest.fixture
def minio_client(minio: MinioProcess | SharedMinio) -> Minio:
    """A `minio` SDK client with the server's root credentials."""
    return Minio(
        minio.endpoint, access_key=minio.access_key, secret_key=minio.secret_key, secure=False
    )


@pytest.fixture
def topic_factory(kafka: KafkaProcess | SharedKafka) -> TopicFactory:
    """Create a uniquely named topic: `topic_factory(prefix="test", partitions=1) -> name`."""

    def create(prefix: str = "test", partitions: int = 1) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka.bootstrap, [name], partitions)
        return name

    return create


@pytest.fixture
def bucket_factory(minio_client: Minio) -> BucketFactory:
    """Create a uniquely named bucket: `bucket_factory(prefix="test", object_lock=True)`.

    With object lock (the default) the bucket is versioned, as S3 requires.
    """

    def create(prefix: str = "test", object_lock: bool = True) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        minio_client.make_bucket(name, object_lock=object_lock)
        return name

    return create
