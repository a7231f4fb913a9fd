"""The audit outbox: every audit entry of the catalog reaches the audit topic, at least once.

Entries are appended to the hash chain in the catalog first (the source of truth) and marked
published only after Kafka acknowledged them, so a crash between the two re-sends some
entries rather than losing any. Each record's key is the entry's `seq`; a SIEM de-duplicates
and orders on it. Signed checkpoints of the chain head go the same way, keyed
`checkpoint-<seq>`, with `"type": "audit.checkpoint"` in the value.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from storage.models import AuditCheckpoint, AuditEntry
from streams.jobs import Job
from streams.kafka_publisher import AiokafkaEventPublisher
from streams.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)


class AuditOutbox(Protocol):
    """Where unpublished audit entries wait (SqlAuditLog)."""

    async def unpublished(self, limit: int = 500) -> list[AuditEntry]:
        """Entries not yet sent, oldest first."""
        ...

    async def mark_published(self, seqs: Sequence[int]) -> None:
        """Record that entries reached the topic."""
        ...


class CheckpointOutbox(Protocol):
    """Where unpublished checkpoints wait (SqlAuditCheckpoints)."""

    async def unpublished(self, limit: int = 500) -> list[AuditCheckpoint]:
        """Checkpoints not yet sent, oldest first."""
        ...

    async def mark_published(self, seqs: Sequence[int]) -> None:
        """Record that checkpoints reached the topic."""
        ...


class RecordPublisher(Protocol):
    """Sends one Kafka record and waits for the acknowledgement."""

    async def start(self) -> None:
        """Connect (raises if Kafka cannot be reached)."""
        ...

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send and wait."""
        ...

    async def stop(self) -> None:
        """Flush and disconnect."""
        ...


def audit_record(entry: AuditEntry) -> tuple[bytes, bytes]:
    """The (key, value) of an entry on the audit topic."""
    value = json.dumps(entry.as_record(), separators=(",", ":"), sort_keys=True)
    return str(entry.seq).encode("ascii"), value.encode("utf-8")


def checkpoint_record(checkpoint: AuditCheckpoint) -> tuple[bytes, bytes]:
    """The (key, value) of a signed checkpoint on the audit topic."""
    body = {"type": "audit.checkpoint", **checkpoint.as_record()}
    value = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return f"checkpoint-{checkpoint.seq}".encode("ascii"), value.encode("utf-8")


class AuditPublisher:
    """Publishes the outbox to the audit topic until cancelled."""

    def __init__(
        self,
        outbox: AuditOutbox,
        publisher: RecordPublisher,
        topic: str,
        *,
        batch_size: int = 500,
        idle_s: float = 0.5,
        checkpoints: CheckpointOutbox | None = None,
    ) -> None:
        self._outbox = outbox
        self._checkpoints = checkpoints
        self._publisher = publisher
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._started = False

    async def publish_pending(self) -> int:
        """Publish every entry waiting now; the number published.

        Raises:
            Exception: Whatever the producer raises when Kafka does not acknowledge; the
                entries of the failed batch stay unpublished and are sent again later.
        """
        total = 0
        while True:
            entries = await self._outbox.unpublished(self._batch_size)
            if not entries:
                return total + await self._publish_checkpoints()
            await self._start()
            # One partition per key, so concurrent sends keep each key's order.
            await asyncio.gather(
                *(self._publisher.publish(self._topic, *audit_record(e)) for e in entries)
            )
            await self._outbox.mark_published([e.seq for e in entries])
            total += len(entries)
            if len(entries) < self._batch_size:
                return total

    async def _start(self) -> None:
        if not self._started:
            # Once, before the concurrent sends: a producer starts only once.
            await self._publisher.start()
            self._started = True

    async def _publish_checkpoints(self) -> int:
        """After the entries they sign: every checkpoint waiting now."""
        if self._checkpoints is None:
            return 0
        pending = await self._checkpoints.unpublished(self._batch_size)
        if not pending:
            return 0
        await self._start()
        for checkpoint in pending:
            await self._publisher.publish(self._topic, *checkpoint_record(checkpoint))
        await self._checkpoints.mark_published([c.seq for c in pending])
        return len(pending)

    async def run(self) -> None:
        """Publish, then wait a little, forever; the producer is closed on the way out."""
        try:
            while True:
                published = await self.publish_pending()
                if published:
                    log.debug("%d audit entries published", published)
                else:
                    await asyncio.sleep(self._idle_s)
        finally:
            await self._publisher.stop()


def audit_publisher_job(
    outbox: AuditOutbox,
    *,
    bootstrap: str,
    topic: str,
    security: KafkaSecurity = PLAINTEXT,
    publisher_factory: Callable[[str], RecordPublisher] | None = None,
    checkpoints: CheckpointOutbox | None = None,
) -> Job:
    """The `keepline serve` job; each (re)start gets a fresh producer."""
    factory = publisher_factory or (
        lambda servers: AiokafkaEventPublisher(
            servers, client_id="keepline-audit", security=security
        )
    )

    async def run() -> None:
        await AuditPublisher(outbox, factory(bootstrap), topic, checkpoints=checkpoints).run()

    return Job(name="audit-publisher", run=run)
