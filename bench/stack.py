"""The bench's own Kafka and MinIO, on free ports in the run's directory."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

from minio import Minio

from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess


class Stack:
    """One Kafka broker and one MinIO server, started together and stopped together.

    Args:
        root: Where their data and logs go.
    """

    def __init__(self, root: Path) -> None:
        self.kafka = KafkaProcess(root / "kafka", num_partitions=1)
        self.minio = MinioProcess(root / "minio" / "data")
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
        """Start both servers at once and wait until both are ready."""
        with ThreadPoolExecutor(2, thread_name_prefix="bench-stack") as pool:
            kafka = pool.submit(self.kafka.start, 120.0)
            minio = pool.submit(self.minio.start, 60.0)
            errors = [f.exception() for f in (kafka, minio)]
        for error in errors:
            if error is not None:
                self.stop()
                raise error

    def stop(self) -> None:
        """Stop both servers (each one only if it runs)."""
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
