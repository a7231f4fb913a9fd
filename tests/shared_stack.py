"""One Kafka, MinIO and PostgreSQL for every worker of a parallel run (`pytest -n N`).

When the run has workers and selects integration tests, the controller starts the three
servers in the background as soon as it is configured, and hands their addresses to each
worker as that worker starts; the worker's `kafka`, `minio` and `postgres` fixtures are then
these servers. A run without workers, or a worker given none, starts its own servers as
before. The tests isolate themselves by topic, bucket and database; a test that stops,
pauses or restarts a server uses servers of its own (`private_kafka`, `private_minio` in
tests/integration/conftest.py), never these.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.cache import LOOPBACK
from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess
from deploy.postgres import PostgresClient, PostgresProcess
from deploy.postgres_install import PostgresBinaries

_INTEGRATION = Path(__file__).parent / "integration"
_KEY = "keepline_stack"
_RUNNING = pytest.StashKey["_Controller"]()


@dataclass(frozen=True, slots=True)
class SharedKafka:
    """A broker another process started: what the tests use of a KafkaProcess."""

    bootstrap: str


@dataclass(frozen=True, slots=True)
class SharedMinio:
    """A MinIO server another process started: what the tests use of a MinioProcess."""

    port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        """host:port, as the minio SDK wants it."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The S3 endpoint URL."""
        return f"http://{self.endpoint}"


@dataclass(frozen=True, slots=True)
class SharedStack:
    """The servers a worker was handed."""

    kafka: SharedKafka
    minio: SharedMinio
    postgres: PostgresClient


def start_kafka(directory: Path) -> KafkaProcess:
    """A one-node KRaft broker in `directory`, ready."""
    kafka = KafkaProcess(directory, num_partitions=1)
    kafka.start(timeout_s=120)
    return kafka


def start_minio(directory: Path) -> MinioProcess:
    """A MinIO server with its data in `directory`, ready."""
    minio = MinioProcess(directory / "data")
    minio.start(timeout_s=60)
    return minio


def start_postgres(directory: Path) -> PostgresProcess:
    """A PostgreSQL cluster in `directory` that skips fsync (tests), ready."""
    postgres = PostgresProcess(directory, durable=False)
    postgres.start(timeout_s=60)
    return postgres


def handed(config: pytest.Config) -> SharedStack | None:
    """The servers this worker was handed by its controller, if any."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None or _KEY not in workerinput:
        return None
    data = json.loads(workerinput[_KEY])
    pg = data["postgres"]
    return SharedStack(
        kafka=SharedKafka(data["kafka"]),
        minio=SharedMinio(**data["minio"]),
        postgres=PostgresClient(
            port=pg["port"],
            password=pg["password"],
            binaries=PostgresBinaries(Path(pg["bin_dir"]), pg["version"]),
        ),
    )


class _Controller:
    """Starts the servers at once, in the background; describes them once they are ready."""

    def __init__(self, base: Path) -> None:
        self._pool = ThreadPoolExecutor(3, thread_name_prefix="shared-stack")
        self._kafka: Future[KafkaProcess] = self._pool.submit(start_kafka, base / "kafka")
        self._minio: Future[MinioProcess] = self._pool.submit(start_minio, base / "minio")
        self._postgres: Future[PostgresProcess] = self._pool.submit(
            start_postgres, base / "postgres"
        )
        self._described: str | None = None

    def describe(self) -> str:
        """The servers' addresses and credentials, as JSON; waits for them to be ready."""
        if self._described is None:
            kafka, minio = self._kafka.result(), self._minio.result()
            client = self._postgres.result().client
            self._described = json.dumps(
                {
                    "kafka": kafka.bootstrap,
                    "minio": {
                        "port": minio.port,
                        "access_key": minio.access_key,
                        "secret_key": minio.secret_key,
                    },
                    "postgres": {
                        "port": client.port,
                        "password": client.password,
                        "bin_dir": str(client.binaries.bin_dir),
                        "version": client.binaries.version,
                    },
                }
            )
        return self._described

    def stop(self) -> None:
        self._pool.shutdown(wait=True)
        for future in (self._kafka, self._minio):
            if future.exception() is None:
                future.result().stop()
        if self._postgres.exception() is None:
            self._postgres.result().close()


def _runs_integration_tests(config: pytest.Config) -> bool:
    # The controller collects nothing: it reads the arguments the workers will collect.
    if "not integration" in (config.getoption("markexpr", "") or ""):
        return False
    here = config.invocation_params.dir
    for arg in config.args:
        path = (here / arg.split("::", 1)[0]).resolve()
        if _INTEGRATION.is_relative_to(path) or path.is_relative_to(_INTEGRATION):
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return
    if not config.getoption("numprocesses", None) or not _runs_integration_tests(config):
        return
    base = config._tmp_path_factory.mktemp("shared-stack", numbered=False)  # type: ignore[attr-defined]
    config.stash[_RUNNING] = _Controller(base)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    controller = node.config.stash.get(_RUNNING, None)
    if controller is not None:
        node.workerinput[_KEY] = controller.describe()


def pytest_unconfigure(config: pytest.Config) -> None:
    controller = config.stash.get(_RUNNING, None)
    if controller is not None:
        controller.stop()
