"""The bench's own Kafka, MinIO and catalog server, on free ports in the run's directory."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

from minio import Minio

from bench.catalogs import CatalogKind, CatalogServer
from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess


class Stack:
    """One Kafka broker, one MinIO server and the catalog server, started and stopped together.

    Args:
        root: Where their data and logs go.
        catalog: Where every keepline's catalog lives (PostgreSQL: one server, a database
            per keepline).
    """

    def __init__(self, root: Path, catalog: CatalogKind = CatalogKind.SQLITE) -> None:
        self.kafka = KafkaProcess(root / "kafka", num_partitions=1)
        self.minio = MinioProcess(root / "minio" / "data")
        self.catalog = CatalogServer(catalog, root)
        self._client: Minio | None = None

    @property
    def bootstrap(self) -> str:
        """Kafka's bootstrap address."""
        return self.kafka.bootstrap

    @property
    def s3(self) -> Minio:
        """A `minio` SDK client with the server's root credentials."""
        if self._client is None:
            self._client = Minio(
                self.minio.endpoint,
                access_key=self.minio.access_key,
                secret_key=self.minio.secret_key,
                secure=False,
            )
        return self._client

    def start(self) -> None:
        """Start the servers at once and wait until all are ready."""
        with ThreadPoolExecutor(3, thread_name_prefix="bench-stack") as pool:
            kafka = pool.submit(self.kafka.start, 120.0)
            minio = pool.submit(self.minio.start, 60.0)
            catalog = pool.submit(self.catalog.start)
            errors = [f.exception() for f in (kafka, minio, catalog)]
        for error in errors:
            if error is not None:
                self.stop()
                raise error

    def stop(self) -> None:
        """Stop the servers (each one only if it runs)."""
        self.catalog.stop()
        self.minio.stop()
        self.kafka.stop()

    def scratch_bucket(self, prefix: str) -> str:
        """A new bucket made like keepline's own: with Object Lock, hence versioned."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.s3.make_bucket(name, object_lock=True)
        return name

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
