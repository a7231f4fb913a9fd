"""`keepline serve`: the stream workers, the HTTP API and the background jobs in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from datetime import UTC, datetime

import uvicorn
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.settings import ApiSettings
from policies.policy_file import load_default_policy, load_policy
from policies.settings import PolicySettings
from storage.retention import build_sweeper, default_holder, sweep_forever
from storage.runtime import build_storage, prepare_storage
from storage.settings import StorageSettings
from storage.sql_leases import SqlLeases
from storage.subject_rights import SubjectRightsService
from streams.audit_publisher import audit_publisher_job
from streams.consent import ConsentService
from streams.jobs import Job, supervise
from streams.kafka_admin import ensure_topics_async
from streams.metrics import StreamMetrics
from streams.settings import StreamSettings
from streams.worker import build_worker_app

log = logging.getLogger("keepline")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: this process owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave signals to the caller."""
        yield


def _now() -> datetime:
    return datetime.now(UTC)


async def serve(
    *,
    api_settings: ApiSettings,
    storage_settings: StorageSettings,
    stream_settings: StreamSettings,
    policy_settings: PolicySettings,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set), then stop everything cleanly."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    policy = (
        load_policy(policy_settings.policy_file)
        if policy_settings.policy_file
        else load_default_policy()
    )
    storage = build_storage(storage_settings)
    await prepare_storage(storage)
    await storage.policies.bootstrap(policy, at=_now(), audit=storage.audit)
    await ensure_topics_async(
        stream_settings.kafka_bootstrap,
        [
            stream_settings.topic_calls,
            stream_settings.topic_emails,
            stream_settings.topic_chats,
            stream_settings.topic_consent,
            stream_settings.topic_dlq,
            stream_settings.topic_audit,
        ],
        partitions=stream_settings.topic_partitions,
    )
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    rights = SubjectRightsService.from_runtime(storage, _now)
    consents = ConsentService(rights)
    worker, _processor = build_worker_app(
        stream_settings, storage, consents=consents, metrics=metrics
    )
    api = create_app(
        api_settings,
        storage_settings=storage_settings,
        stream_settings=stream_settings,
        policy_settings=policy_settings,
        registry=registry,
    )
    server = _EmbeddedServer(
        uvicorn.Config(
            api,
            host=api_settings.api_host,
            port=api_settings.api_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    jobs: list[Job] = [
        audit_publisher_job(
            storage.audit,
            bootstrap=stream_settings.kafka_bootstrap,
            topic=stream_settings.topic_audit,
        ),
        Job(
            "sweeper",
            lambda: sweep_forever(
                build_sweeper(storage, clock=_now, after_sweep=rights.run_deferred_erasures),
                SqlLeases(storage.db),
                interval_s=stream_settings.sweep_interval_s,
                holder=default_holder(),
                clock=_now,
            ),
        ),
    ]
    # The API and jobs first: after a crash the worker may wait for the old group member's
    # session to expire, and reads, holds and subject requests need not wait with it.
    api_task = asyncio.create_task(server.serve(), name="keepline-api")
    job_tasks = [asyncio.create_task(supervise(job), name=job.name) for job in jobs]
    stop_task = asyncio.create_task(stop.wait())
    try:
        await worker.start()
        log.info(
            "keepline serving: API http://%s:%d, Kafka %s",
            api_settings.api_host,
            api_settings.api_port,
            stream_settings.kafka_bootstrap,
        )
        done, _ = await asyncio.wait({api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if api_task in done and api_task.exception() is not None:
            raise api_task.exception()  # type: ignore[misc]  # checked not None just above
    finally:
        log.info("keepline stopping")
        server.should_exit = True
        with contextlib.suppress(Exception):
            await api_task
        stop_task.cancel()
        for task in job_tasks:
            task.cancel()
        await asyncio.gather(*job_tasks, return_exceptions=True)
        await worker.stop()
        await storage.close()
        log.info("keepline stopped")
