"""The system a chaos run attacks: Kafka, MinIO, a catalog and two workers of one group.

Both `keepline serve` processes share the topics, the consumer group, the bucket, the key
ring and the catalog (one SQLite file, as two workers of the integration tests do, or a
PostgreSQL server of the run's own); each has its own API port. Faults are methods here;
when they run is the fault plan's business. A watchdog brings back a worker that exited
without being killed, and records it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.catalogs import CatalogKind
from bench.chaos_accounting import ItemRow, VersionRef
from bench.chaos_faults import FaultKind, FaultRecord
from bench.chaos_kafka import group_progress, read_topic
from bench.context import object_versions
from bench.errors import BenchError, ServiceExitedError, WaitTimeoutError
from bench.service import KeeplineProcess
from bench.stack import Stack
from deploy.errors import DeployError
from deploy.postgres import PostgresProcess
from storage.settings import StorageSettings
from storage.sql.schema import items
from streams.kafka_admin import ensure_topics, run_blocking

__all__ = ["Catalog", "CatalogKind", "ChaosCluster", "Worker"]

PARTITIONS = 4
ARTEFACT_KINDS = ("calls", "emails", "chats")
TOPIC_KINDS = (*ARTEFACT_KINDS, "consent", "dlq", "audit")
READY_TIMEOUT_S = 120.0
LOCK_WAIT_S = 0.5


class Catalog:
    """The run's catalog database.

    Args:
        kind: SQLite (a file under root) or PostgreSQL (a server of its own, data under root).
        root: Where its data goes.
    """

    def __init__(self, kind: CatalogKind, root: Path) -> None:
        self.kind = kind
        self._root = root
        self._server: PostgresProcess | None = None
        self.url = f"sqlite:///{(root / 'catalog' / 'keepline.db').resolve()}"

    def start(self) -> None:
        """Start PostgreSQL if that is the kind, and learn its URL."""
        if self.kind is CatalogKind.SQLITE:
            (self._root / "catalog").mkdir(parents=True, exist_ok=True)
            return
        self._server = PostgresProcess(self._root / "postgres", database="keepline_chaos")
        self._server.start()
        self.url = self._server.url(driver=None)

    def stop(self) -> None:
        """Stop PostgreSQL and remove its private directory, if it was started."""
        if self._server is not None:
            self._server.close()

    def read_items(self) -> list[ItemRow]:
        """Every row of the items table."""
        return run_blocking(self._read_items())

    async def _read_items(self) -> list[ItemRow]:
        url = StorageSettings(catalog_url=self.url).resolved_catalog_url()
        engine = create_async_engine(url, hide_parameters=True)
        columns = (
            items.c.item_id,
            items.c.source,
            items.c.event_id,
            items.c.status,
            items.c.object_key,
            items.c.object_version_id,
            items.c.content_size_bytes,
            items.c.content_sha256,
        )
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(*columns))).all()
        finally:
            await engine.dispose()
        return [ItemRow(*row) for row in rows]


@dataclass
class Worker:
    """One `keepline serve` of the group, and the lock held while it is down on purpose."""

    name: str
    process: KeeplineProcess
    lock: threading.Lock

    def alive(self) -> bool:
        """Whether the process runs."""
        try:
            self.process.check_alive()
        except ServiceExitedError:
            return False
        return True

    def ready(self) -> bool:
        """Whether it runs and /readyz answers 200."""
        if not self.alive():
            return False
        try:
            return httpx.get(f"{self.process.url}/readyz", timeout=2).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False

    def send_kill(self) -> None:
        """SIGKILL its process group (no waiting)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, ServiceExitedError):  # died meanwhile
                os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL its process group, and wait until it is gone."""
        self.send_kill()
        while self.alive():
            time.sleep(0.05)

    def bring_up(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start it until it is ready: one that exits while starting is started again.

        A restarted worker may find MinIO or Kafka down (another fault); it is ready only
        once both are back.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.process.start(timeout_s=max(1.0, deadline - time.monotonic()))
            except ServiceExitedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
            else:
                return


class ChaosCluster:
    """Kafka, MinIO, the catalog and the workers of one run.

    Args:
        root: The run's directory.
        run_id: Unique to the run; in topic, group and bucket names.
        catalog: Where the catalog lives.
        content_origin: The content server's origin (KEEPLINE_CONTENT_SOURCES).
        file_root: The only directory file:// content may name.
        workers: How many workers share the group.
        say: Progress lines.
    """

    def __init__(
        self,
        *,
        root: Path,
        run_id: str,
        catalog: CatalogKind,
        content_origin: str,
        file_root: Path,
        workers: int = 2,
        say: Callable[[str], None],
    ) -> None:
        self.stack = Stack(root)
        self.catalog = Catalog(catalog, root)
        self.topics = {
            kind: f"{'comms' if kind in ARTEFACT_KINDS else 'keepline'}.{kind}.chaos-{run_id}"
            for kind in TOPIC_KINDS
        }
        self.group = f"keepline-chaos-{run_id}"
        self.bucket = f"chaos-{run_id}"
        self._root = root
        self._content_origin = content_origin
        self._file_root = file_root
        self._count = workers
        self._say = say
        self.workers: list[Worker] = []
        self.unplanned_exits: list[dict[str, Any]] = []
        self._watching = threading.Event()
        self._watchdog: threading.Thread | None = None

    def _env(self) -> dict[str, str]:
        return {
            "KEEPLINE_DATA_DIR": str(self._root / "keepline-data"),
            "KEEPLINE_CATALOG_URL": self.catalog.url,
            "KEEPLINE_S3_BUCKET": self.bucket,
            "KEEPLINE_APP_ID": self.group,
            "KEEPLINE_TOPIC_PARTITIONS": str(PARTITIONS),
            **{f"KEEPLINE_TOPIC_{kind.upper()}": name for kind, name in self.topics.items()},
            "KEEPLINE_CONTENT_SOURCES": self._content_origin,
            "KEEPLINE_ALLOW_FILE_URIS": "1",
            "KEEPLINE_FILE_URI_ROOT": str(self._file_root),
            # Short backoff and session: recovery within seconds of a fault ending.
            "KEEPLINE_RETRY_MAX_S": "1",
            "KEEPLINE_SESSION_TIMEOUT_S": "6",
            "KEEPLINE_LAG_INTERVAL_S": "1",
        }

    def start(self) -> None:
        """Start Kafka and MinIO, the catalog, the topics, then each worker in turn.

        Workers start one after the other: the first creates the schema and the key ring
        the second then finds.
        """
        self._say("starting Kafka and MinIO")
        self.stack.start()
        self.catalog.start()
        ensure_topics(self.stack.bootstrap, list(self.topics.values()), PARTITIONS)
        env = self._env()
        for index in range(self._count):
            name = f"worker-{index}"
            process = KeeplineProcess(
                name=name, stack=self.stack, workdir=self._root / name, env=env
            )
            worker = Worker(name, process, threading.Lock())
            self.workers.append(worker)
            self._say(f"starting {name} (API {process.url}, catalog {self.catalog.kind})")
            worker.bring_up()
        self._watching.set()
        self._watchdog = threading.Thread(target=self._watch, name="chaos-watchdog", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while self._watching.is_set():
            for worker in self.workers:
                if not worker.lock.acquire(blocking=False):
                    continue  # down on purpose: its fault brings it back
                try:
                    if self._watching.is_set() and not worker.alive():
                        self.unplanned_exits.append(
                            {"worker": worker.name, "log_tail": worker.process.log_tail(3)}
                        )
                        self._say(f"{worker.name} exited by itself; starting it again")
                        worker.bring_up()
                except BenchError as err:  # the edge of the watchdog loop: reported, not fatal
                    self._say(f"{worker.name} did not come back: {err}")
                finally:
                    worker.lock.release()
            time.sleep(1.0)

    def stop(self) -> None:
        """Stop the watchdog, the workers (at once), the catalog, MinIO and Kafka."""
        self._watching.clear()
        if self._watchdog is not None:
            self._watchdog.join(timeout=READY_TIMEOUT_S)
        with ThreadPoolExecutor(max(1, len(self.workers))) as pool:
            list(pool.map(lambda worker: worker.process.stop(), self.workers))
        self.catalog.stop()
        self.stack.stop()

    # -- faults --------------------------------------------------------------------------

    def kill_and_restart(self, planned: int, started: float) -> FaultRecord:
        """SIGKILL a worker and start it again: the planned one unless it is down already.

        Args:
            planned: The index of the worker the plan names.
            started: When the workload started (`time.monotonic()`); the record's time
                counts from it.
        """
        order = [self.workers[(planned + n) % len(self.workers)] for n in range(len(self.workers))]
        up = next((w for w in order if not w.lock.locked()), order[0])
        return self._kill([up], FaultKind.KILL_WORKER, started)

    def kill_all_and_restart(self, started: float) -> FaultRecord:
        """SIGKILL every worker at once (as a host failure would) and start them all again."""
        return self._kill(self.workers, FaultKind.KILL_ALL_WORKERS, started)

    def _kill(self, workers: list[Worker], kind: FaultKind, started: float) -> FaultRecord:
        """Kill workers at once and start them again.

        A worker that another fault is restarting is killed too; that fault starts it
        again (its start sees the process gone and tries once more).
        """
        # The watchdog holds a lock for an instant; another fault holds it while restarting.
        owned = [worker for worker in workers if worker.lock.acquire(timeout=LOCK_WAIT_S)]
        killed = time.monotonic()
        for worker in workers:
            worker.send_kill()
        try:
            with ThreadPoolExecutor(max(1, len(owned)), thread_name_prefix="chaos-up") as pool:
                errors = [error for error in pool.map(self._restart, owned) if error]
        finally:
            for worker in owned:
                worker.lock.release()
        others = [worker.name for worker in workers if worker not in owned]
        return FaultRecord(
            kind,
            killed - started,
            target=",".join(worker.name for worker in workers),
            recovered_after_s=time.monotonic() - killed if owned else None,
            error="; ".join(errors) or None,
            note=f"{', '.join(others)} already restarting: that fault brings it back"
            if others
            else None,
        )

    @staticmethod
    def _restart(worker: Worker) -> str | None:
        """Start a killed worker again; what went wrong, if anything."""
        note: str | None = None
        try:
            worker.kill()  # waits until it is gone
            try:
                worker.bring_up()
            except WaitTimeoutError as err:
                # Running but never ready: a hang, which the record reports; killed and
                # started again so that the run can still account for every event.
                note = f"{worker.name} restart hung: {err}"
                worker.kill()
                worker.bring_up()
        except BenchError as err:
            return f"{note or worker.name}: {err}"
        return note

    def minio_outage(self, down_s: float, started: float) -> FaultRecord:
        """Stop MinIO, keep it down for down_s, start it on the same port and data."""
        stopped = time.monotonic()
        at_s = stopped - started
        self.stack.minio.stop()
        time.sleep(max(0.0, stopped + down_s - time.monotonic()))
        down = time.monotonic() - stopped
        try:
            self.stack.minio.start(60.0)
        except DeployError as err:
            return FaultRecord(FaultKind.MINIO_OUTAGE, at_s, down_s=down, error=str(err))
        took = time.monotonic() - stopped
        return FaultRecord(FaultKind.MINIO_OUTAGE, at_s, down_s=down, recovered_after_s=took)

    def kafka_restart(self, started: float) -> FaultRecord:
        """Stop the broker (SIGTERM) and start it on the same ports and log directory."""
        stopped = time.monotonic()
        at_s = stopped - started
        self.stack.kafka.stop()
        try:
            self.stack.kafka.start(120.0)
        except DeployError as err:
            return FaultRecord(FaultKind.KAFKA_RESTART, at_s, error=str(err))
        took = time.monotonic() - stopped
        return FaultRecord(FaultKind.KAFKA_RESTART, at_s, recovered_after_s=took)

    # -- observations --------------------------------------------------------------------

    def ready_worker(self) -> Worker | None:
        """A worker that is up and ready, if any."""
        return next((w for w in self.workers if w.ready()), None)

    def all_ready(self) -> bool:
        """Whether every worker is up, none held down by a fault, and /readyz says so."""
        return all(not w.lock.locked() and w.ready() for w in self.workers)

    def progress(self) -> dict[TopicPartition, tuple[int | None, int]]:
        """The group's committed offset and the end of each artefact partition."""
        topics = [self.topics[kind] for kind in ARTEFACT_KINDS]
        return run_blocking(group_progress(self.stack.bootstrap, self.group, topics))

    def dead_letters(self) -> list[bytes]:
        """Every dead letter so far."""
        return run_blocking(read_topic(self.stack.bootstrap, self.topics["dlq"]))

    def versions(self) -> list[VersionRef]:
        """Every object version in the bucket (delete markers left out)."""
        return [(name, version) for name, version, _ in object_versions(self.stack.s3, self.bucket)]
