"""`keepline serve`: the stream workers, the HTTP API and the background jobs in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import UTC, datetime, timedelta

import uvicorn
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.settings import ApiSettings
from keepline.commands.check import Configuration, exit_on_mistakes
from keepline.fixity_metrics import FixityMetrics
from keepline.root import Keepline, api_services, build, configured_policy
from keepline.startup_policy import SHIPPED, activate_and_log
from policies.settings import PolicySettings
from service.audit.service import AuditCheckpointer
from service.fixity.service import fixity_forever
from service.fixity.settings import FixitySettings
from service.retention.service import default_holder, sweep_forever
from service.subjects.consent import ConsentService
from storage.errors import StorageError
from storage.runtime import StorageRuntime, prepare_storage
from storage.settings import StorageSettings
from storage.sql.dead_letters import SqlDeadLetters
from streams.audit_publisher import audit_publisher_job
from streams.job_metrics import JobMetrics, watch_audit_chain
from streams.jobs import Job, supervise
from streams.kafka_admin import ensure_topics_async
from streams.metrics import StreamMetrics
from streams.notice_publisher import notice_publisher_job
from streams.settings import StreamSettings
from streams.worker import build_worker_app

log = logging.getLogger("keepline")
#: How often `serve` recomputes the audit chain for `keepline_audit_chain_ok` (the first
#: check runs at start-up).
AUDIT_CHECK_INTERVAL_S = 900.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: this process owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave signals to the caller."""
        yield


def _now() -> datetime:
    return datetime.now(UTC)


class StartupGate:
    """Readiness while `serve` waits for its dependencies: not ready, saying for what."""

    def __init__(self) -> None:
        self.waiting_for: str | None = "start-up"

    async def ready(self) -> str | None:
        """None once start-up is done; else what it waits for."""
        return None if self.waiting_for is None else f"waiting for {self.waiting_for}"


async def until_answered(
    what: str,
    attempt: Callable[[], Awaitable[object]],
    *,
    gate: StartupGate,
    stop: asyncio.Event,
    initial_s: float = 0.5,
    max_s: float = 10.0,
) -> bool:
    """Run `attempt` until it succeeds, with backoff and a progress line per failure.

    Returns:
        True once it succeeded; False if `stop` was set first.

    Raises:
        StorageError: A storage fault that waiting cannot mend (a configuration error).
    """
    gate.waiting_for = what
    delay, tries, started = initial_s, 0, time.monotonic()
    while not stop.is_set():
        tries += 1
        try:
            await attempt()
        except StorageError as err:
            if not err.retriable:
                raise
            failure: Exception = err
        except Exception as err:  # the edge of the start-up loop: a dependency not answering
            failure = err
        else:
            if tries > 1:
                log.info("%s answered after %.0fs", what, time.monotonic() - started)
            return True
        log.warning(
            "waiting for %s (try %d, %.0fs so far: %s); retrying in %.1fs",
            what,
            tries,
            time.monotonic() - started,
            type(failure).__name__,
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, max_s)
    return False


async def watch_stale_claims(
    storage: StorageRuntime,
    metrics: StreamMetrics,
    *,
    stale_after: timedelta,
    interval_s: float = 60.0,
) -> None:
    """Keep `keepline_stale_pending_claims` current, and say so in the log when it is not 0."""
    while True:
        count, oldest = await storage.catalog.stale_claims(
            attempted_before=_now() - stale_after, limit=5
        )
        metrics.stale_claims.set(count)
        if count:
            log.error(
                "%d pending claims have had no attempt for %.0f minutes (oldest: %s); their "
                "events were not delivered again: republish them, see `keepline reconcile`",
                count,
                stale_after.total_seconds() / 60,
                ", ".join(item_id for item_id, _ in oldest),
            )
        await asyncio.sleep(interval_s)


def production_jobs(root: Keepline) -> list[Job]:
    """The builder of legal productions, when this process builds them."""
    productions = root.productions
    if productions is None:
        return []
    return [Job("productions", lambda: productions.run_forever(default_holder()))]


def fixity_job(root: Keepline, registry: CollectorRegistry) -> Job:
    """The background integrity pass under its lease, and the gauges of the last one."""
    settings = FixitySettings()
    metrics = FixityMetrics(registry)
    return Job(
        "fixity",
        lambda: fixity_forever(
            root.fixity(settings),
            root.leases,
            interval_s=settings.fixity_interval_s,
            holder=default_holder(),
            clock=_now,
            lease_ttl_s=settings.fixity_lease_ttl_s,
            on_result=metrics.update,
        ),
    )


async def serve(
    *,
    api_settings: ApiSettings,
    storage_settings: StorageSettings,
    stream_settings: StreamSettings,
    policy_settings: PolicySettings,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set), then stop everything cleanly.

    The API answers from the start (`/readyz` says what start-up waits for); the catalog,
    the object store and Kafka are retried with backoff until they answer, so a worker
    restarted during an outage comes back by itself. Only a configuration error ends it.

    Raises:
        SystemExit: Status 2 when `keepline check` finds a mistake (one line each, first).
    """
    exit_on_mistakes(
        Configuration(api_settings, storage_settings, stream_settings, policy_settings)
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    policy = configured_policy(policy_settings)
    root = build(storage_settings, clock=_now)
    storage = root.storage
    registry = CollectorRegistry()
    metrics, job_metrics = StreamMetrics(registry), JobMetrics(registry)
    worker_dir = storage_settings.data_dir / "worker"
    worker_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # faust makes only the last level
    worker = build_worker_app(
        stream_settings,
        ingest=root.ingest(stream_settings),
        consents=ConsentService(root.rights),
        metrics=metrics,
        dead_letter_log=SqlDeadLetters(root.storage.db),
        datadir=worker_dir,
    )
    gate = StartupGate()
    services = api_services(
        root,
        api_settings,
        stream_settings=stream_settings,
        registry=registry,
        extra_readiness=(gate.ready, worker.readiness.ready),
        reader_roles=policy.reader_roles,
    )
    api = create_app(services)
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
    topics = [
        stream_settings.topic_calls,
        stream_settings.topic_emails,
        stream_settings.topic_chats,
        stream_settings.topic_consent,
        stream_settings.topic_dlq,
        stream_settings.topic_audit,
        stream_settings.topic_notices,
    ]
    steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("the catalog and the object store", lambda: prepare_storage(storage)),
        (
            "the policy to be activated",
            lambda: activate_and_log(
                root, policy, source=str(policy_settings.policy_file or SHIPPED)
            ),
        ),
        (
            f"Kafka at {stream_settings.kafka_bootstrap}",
            lambda: ensure_topics_async(
                stream_settings.kafka_bootstrap,
                topics,
                partitions=stream_settings.topic_partitions,
                security=stream_settings.kafka_security(),
            ),
        ),
    ]
    jobs: list[Job] = [
        audit_publisher_job(
            storage.audit,
            bootstrap=stream_settings.kafka_bootstrap,
            topic=stream_settings.topic_audit,
            security=stream_settings.kafka_security(),
            checkpoints=storage.checkpoints,
        ),
        notice_publisher_job(
            root.notices,
            bootstrap=stream_settings.kafka_bootstrap,
            topic=stream_settings.topic_notices,
            lift_due=root.rights.run_due_liftings,
            clock=_now,
        ),
        Job(
            "stale-claims",
            lambda: watch_stale_claims(
                storage,
                metrics,
                stale_after=timedelta(seconds=stream_settings.stale_claim_after_s),
            ),
        ),
        Job(
            "sweeper",
            lambda: sweep_forever(
                root.sweeper(),
                root.leases,
                interval_s=stream_settings.sweep_interval_s,
                holder=default_holder(),
                clock=_now,
                observe=job_metrics.sweep_done,
            ),
        ),
        Job(
            "audit-check",
            lambda: watch_audit_chain(
                storage.audit, job_metrics, interval_s=AUDIT_CHECK_INTERVAL_S
            ),
        ),
        *production_jobs(root),
        fixity_job(root, registry),
        Job(
            "audit-checkpoints",
            lambda: AuditCheckpointer(
                storage.checkpoints,
                clock=_now,
                every_s=storage.settings.audit_checkpoint_every_s,
                every_entries=storage.settings.audit_checkpoint_every_entries,
            ).run(),
        ),
    ]
    # The API first, so /readyz can say what start-up waits for; after a crash the worker
    # may also wait for the old group member's session to expire.
    api_task = asyncio.create_task(server.serve(), name="keepline-api")
    stop_task = asyncio.create_task(stop.wait())
    job_tasks: list[asyncio.Task[None]] = []
    worker_started = False
    try:
        for what, attempt in steps:
            if not await until_answered(what, attempt, gate=gate, stop=stop):
                return
        job_tasks = [asyncio.create_task(supervise(job), name=job.name) for job in jobs]
        gate.waiting_for = "the stream worker to join its group"
        await worker.app.start()
        worker_started = True
        gate.waiting_for = None
        log.info(
            "keepline serving: API http://%s:%d, Kafka %s over %s",
            api_settings.api_host,
            api_settings.api_port,
            stream_settings.kafka_bootstrap,
            stream_settings.kafka_security().describe(),
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
        if worker_started:
            await worker.app.stop()
        await services.publisher.stop()
        await storage.close()
        log.info("keepline stopped")
