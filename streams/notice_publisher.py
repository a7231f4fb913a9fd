"""The notices outbox onto the notices topic, and restrictions lifted once announced.

Notices are written to the catalog first and marked published only after Kafka acknowledged
them, so none is lost (a crash re-sends some). Each record's key is the notice id, never a
subject id. After each pass the restrictions whose lifting is due, and whose notice is now on
the topic, are lifted: a lifting never takes effect before its notice is out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from storage.models import Notice
from storage.ports import NoticeOutbox
from streams.audit_publisher import RecordPublisher
from streams.jobs import Job
from streams.kafka_publisher import AiokafkaEventPublisher

log = logging.getLogger(__name__)

LiftDue = Callable[[datetime], Awaitable[int]]


def notice_record(notice: Notice) -> tuple[bytes, bytes]:
    """The (key, value) of a notice on the topic."""
    body = {**notice.body, "notice_id": notice.notice_id, "at": notice.created_at.isoformat()}
    value = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return str(notice.notice_id).encode("ascii"), value.encode("utf-8")


class NoticePublisher:
    """Publishes the outbox to the notices topic and lifts due restrictions, until cancelled."""

    def __init__(
        self,
        outbox: NoticeOutbox,
        publisher: RecordPublisher,
        topic: str,
        *,
        lift_due: LiftDue,
        clock: Callable[[], datetime],
        batch_size: int = 200,
        idle_s: float = 0.5,
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._topic = topic
        self._lift_due = lift_due
        self._clock = clock
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._started = False

    async def publish_pending(self) -> int:
        """Publish every notice waiting now; the number published.

        Raises:
            Exception: Whatever the producer raises when Kafka does not acknowledge; the
                notices of the failed batch stay unpublished and are sent again later.
        """
        total = 0
        while notices := await self._outbox.unpublished(self._batch_size):
            if not self._started:
                await self._publisher.start()
                self._started = True
            for notice in notices:  # in order: a lifting's notice before any later one
                await self._publisher.publish(self._topic, *notice_record(notice))
            await self._outbox.mark_published([n.notice_id for n in notices])
            total += len(notices)
            if len(notices) < self._batch_size:
                break
        return total

    async def run(self) -> None:
        """Publish, lift what is due, wait a little, forever; the producer closes on exit."""
        try:
            while True:
                published = await self.publish_pending()
                lifted = await self._lift_due(self._clock())
                if published or lifted:
                    log.info("%d notices published, %d restrictions lifted", published, lifted)
                await asyncio.sleep(self._idle_s)
        finally:
            await self._publisher.stop()


def notice_publisher_job(
    outbox: NoticeOutbox,
    *,
    bootstrap: str,
    topic: str,
    lift_due: LiftDue,
    clock: Callable[[], datetime],
    publisher_factory: Callable[[str], RecordPublisher] | None = None,
) -> Job:
    """The `keepline serve` job; each (re)start gets a fresh producer."""
    factory = publisher_factory or (
        lambda servers: AiokafkaEventPublisher(servers, client_id="keepline-notices")
    )

    async def run() -> None:
        publisher = NoticePublisher(
            outbox, factory(bootstrap), topic, lift_due=lift_due, clock=clock
        )
        await publisher.run()

    return Job(name="notice-publisher", run=run)
