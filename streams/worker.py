"""The worker's composition root: a faust-streaming app whose agents never raise.

Each agent reads its stream without automatic acknowledgement and hands every event to a
bounded set of tasks. An event's acknowledgement reaches faust only once it is stored or
dead-lettered *and* every earlier event of its partition is too (`streams.acks`), so faust
can never commit over an event that is still being retried, and a crash or a shutdown at
any moment redelivers exactly what was not finished.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import faust
from faust.sensors import Monitor
from faust.types import TP, EventT, Message

from service.ingest.service import IngestService
from streams.acks import Partition, PartitionOrder
from streams.metrics import ConsumerLag, StreamMetrics
from streams.processor import ConsentHandler, DeadLetterLog, MessageProcessor, RawMessage
from streams.readiness import AssignmentWatch
from streams.settings import StreamSettings

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class FaustDeadLetterSink:
    """Dead letters through the app's producer, awaited until the broker acknowledges."""

    def __init__(self, topic: faust.TopicT) -> None:
        self._topic = topic

    async def send(self, key: bytes | None, letter: dict[str, Any]) -> None:
        """Publish one dead letter and wait for its acknowledgement."""
        value = json.dumps(letter, separators=(",", ":")).encode("utf-8")
        pending = await self._topic.send(key=key, value=value)
        await pending


class LeanMonitor(Monitor):
    """faust's monitor without its bookkeeping per message and per event.

    keepline counts what it consumes, stores and retries itself (`StreamMetrics`); faust's
    own tallies of every message would cost a share of each event and nobody reads them.
    Commits, sends and rebalances are still recorded by the base class.
    """

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        """Not recorded."""

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: faust.StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        """Not recorded."""
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: faust.StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        """Not recorded."""

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        """Not recorded."""


class InFlight:
    """At most `limit` events processed at once; each is acknowledged when it is done.

    A task that is cancelled (shutdown, lost partition) is never acknowledged, so its event
    is delivered again.
    """

    def __init__(
        self, limit: int, *, retry_initial_s: float = 0.5, retry_max_s: float = 15.0
    ) -> None:
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def submit(
        self, work: Callable[[], Awaitable[None]], ack: Callable[[], Awaitable[object]]
    ) -> None:
        """Start work once a slot is free; ack runs after work returns."""
        await self._slots.acquire()
        task = asyncio.create_task(self._run(work, ack))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, work: Callable[[], Awaitable[None]], ack: Callable[[], Awaitable[object]]
    ) -> None:
        delay = self._retry_initial_s
        try:
            while True:
                try:
                    await work()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:  # the edge of the consumer loop: retried, never skipped
                    # Acknowledgements go in offset order, so an event given up here would
                    # hold its partition until a restart: it is tried again instead.
                    log.exception("event processing failed; trying again in %.1fs", delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
            await ack()
        finally:
            self._slots.release()

    async def cancel(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _raw(event: EventT[Any]) -> RawMessage:
    message = event.message
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=_headers(message.headers),
    )


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    """Message headers as (name, value) pairs, whatever shape the library hands over."""
    if not raw:
        return ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(name), bytes(value or b"")) for name, value in pairs)


class OrderedAgent:
    """An agent body: events to `process` through InFlight, acknowledged in offset order.

    Args:
        process: Runs one event to its outcome (stored or dead-lettered); never raises.
        limit: Most events processed at once.
        window: Most events outstanding at once (running, or finished and withheld).
        beside: Runs for as long as the agent does (e.g. a gauge refresher).
    """

    def __init__(
        self,
        process: Callable[[RawMessage], Awaitable[None]],
        limit: int,
        *,
        window: int = 10_000,
        beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._process = process
        self._limit = limit
        self._beside = beside
        self.order = PartitionOrder(window)

    def revoked(self, partitions: set[Partition]) -> None:
        """Partitions taken away: their withheld acknowledgements are never released."""
        self.order.forget(partitions)

    async def __call__(self, stream: faust.StreamT[Any]) -> None:
        """Consume the stream until the agent stops.

        A coroutine, not a generator: faust logs and inspects every value an agent yields,
        which costs more than the rest of an event's handling in the stream library.
        """
        in_flight = InFlight(self._limit)
        manual = stream.noack()  # type: ignore[attr-defined]  # StreamT omits noack
        companion = asyncio.create_task(self._beside()) if self._beside is not None else None
        try:
            async for event in manual.events():
                message = event.message
                await self.order.room()
                ticket = self.order.enter(
                    (message.topic, message.partition), message.offset, partial(manual.ack, event)
                )
                await in_flight.submit(
                    partial(self._process, _raw(event)), partial(self.order.finish, ticket)
                )
        finally:
            if companion is not None:
                companion.cancel()
            await in_flight.cancel()


@dataclass(frozen=True, slots=True)
class Worker:
    """The faust app, its message processor and what tells whether it is ready."""

    app: faust.App
    processor: MessageProcessor
    readiness: AssignmentWatch


def build_worker_app(
    settings: StreamSettings,
    *,
    ingest: IngestService,
    consents: ConsentHandler,
    metrics: StreamMetrics,
    datadir: Path | None = None,
    dead_letter_log: DeadLetterLog | None = None,
) -> Worker:
    """A faust app with one agent over the three artefact topics and one over consent."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=settings.kafka_security().faust_credentials(),
        store="memory://",
        # faust keeps table state in <datadir>/<app id>-data; keepline's tables are in
        # memory, so only the folder is made: under the data directory, not the cwd.
        datadir=str(datadir) if datadir is not None else None,
        web_enabled=settings.worker_web_port > 0,
        web_port=settings.worker_web_port or 6066,
        web_host="127.0.0.1",
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        topic_disable_leader=True,
        # Shutdown does not wait for events in flight: they were never acknowledged, so
        # they are delivered again, and a store that is down cannot hold the process up.
        stream_wait_empty=False,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        monitor=LeanMonitor(),
    )
    artefact_topics = app.topic(
        settings.topic_calls,
        settings.topic_emails,
        settings.topic_chats,
        key_serializer="raw",
        value_serializer="raw",
    )
    consent_topic = app.topic(settings.topic_consent, key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(settings.topic_dlq, key_serializer="raw", value_serializer="raw")
    processor = MessageProcessor(
        ingest=ingest,
        consents=consents,
        dead_letters=FaustDeadLetterSink(dlq_topic),
        dead_letter_log=dead_letter_log,
        metrics=metrics,
        retry_initial_s=settings.retry_initial_s,
        retry_max_s=settings.retry_max_s,
        content_deadline_s=settings.content_unavailable_deadline_s,
    )
    lag = ConsumerLag(metrics)
    watch = AssignmentWatch(
        app,
        topics=[
            settings.topic_calls,
            settings.topic_emails,
            settings.topic_chats,
            settings.topic_consent,
        ],
        stale_after_s=settings.session_timeout_s,
        metrics=metrics,
    )

    async def refresh_gauges() -> None:
        while True:
            try:
                await lag.update(app.consumer)
                metrics.show_withheld(agent.order for agent in agents)
                await watch.check()
            except Exception as err:  # the edge of a background loop: a gauge never stops work
                log.debug("worker gauges not refreshed (%s)", type(err).__name__)
            await asyncio.sleep(settings.lag_interval_s)

    agents = (
        OrderedAgent(
            processor.process_artefact,
            settings.max_in_flight,
            window=settings.ack_window,
            beside=refresh_gauges,
        ),
        # One at a time: consent, objection and restriction of a subject apply in order.
        OrderedAgent(processor.process_consent, 1, window=settings.ack_window),
    )
    app.agent(artefact_topics, name="keepline.ingest", concurrency=1)(agents[0])
    app.agent(consent_topic, name="keepline.consent", concurrency=1)(agents[1])

    async def on_revoked(_sender: Any, /, *args: Any, **_kwargs: Any) -> None:
        revoked: set[Any] = args[0]  # faust sends the revoked partitions as its one argument
        partitions = {(str(tp.topic), int(tp.partition)) for tp in revoked}
        for agent in agents:
            agent.revoked(partitions)

    app.on_partitions_revoked.connect(on_revoked)

    async def release() -> None:
        await ingest.close()

    app.on_before_shutdown.connect(_receiver(release))
    return Worker(app=app, processor=processor, readiness=watch)


def _receiver(release: Callable[[], Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    async def receiver(_sender: object, **_kwargs: object) -> None:
        await release()

    return receiver
