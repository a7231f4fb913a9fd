"""The worker's composition root: a faust-streaming app whose agents never raise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT

from storage.runtime import StorageRuntime
from streams.fetch import ContentFetcher
from streams.ingest import IngestService
from streams.metrics import StreamMetrics
from streams.processor import ConsentHandler, MessageProcessor, RawMessage
from streams.settings import StreamSettings


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


def _raw(event: EventT[Any, Any]) -> RawMessage:
    message = event.message
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )


def build_worker_app(
    settings: StreamSettings,
    storage: StorageRuntime,
    *,
    consents: ConsentHandler,
    metrics: StreamMetrics,
    clock: Callable[[], datetime] = _now,
) -> tuple[faust.App, MessageProcessor]:
    """A faust app with one agent over the three artefact topics and one over consent."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
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
    s3_client = getattr(storage.store, "client", None)
    fetcher = ContentFetcher(
        s3_client=s3_client,
        allow_file_uris=settings.allow_file_uris,
        timeout_s=settings.fetch_timeout_s,
    )
    ingest = IngestService(
        catalog=storage.catalog,
        policies=storage.policies,
        vault=storage.vault,
        fetcher=fetcher,
        lock_sync=storage.lock_sync,
        clock=clock,
    )
    processor = MessageProcessor(
        ingest=ingest,
        consents=consents,
        dead_letters=FaustDeadLetterSink(dlq_topic),
        metrics=metrics,
        retry_initial_s=settings.retry_initial_s,
        retry_max_s=settings.retry_max_s,
    )

    async def artefacts(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            await processor.process_artefact(_raw(event))
            yield None

    async def consent_events(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            await processor.process_consent(_raw(event))
            yield None

    app.agent(artefact_topics, name="keepline.ingest", concurrency=settings.concurrency)(
        artefacts
    )
    # One at a time: consent, objection and restriction of a subject apply in order.
    app.agent(consent_topic, name="keepline.consent", concurrency=1)(consent_events)
    return app, processor
