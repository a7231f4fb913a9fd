"""AuditCheckpointer: signs the audit chain head periodically, and after every N entries.

A checkpoint is due when entries follow the last one and either `every_entries` of them
have arrived or `every_s` has passed since it was signed. Several processes may run it: a
head already checkpointed is simply not signed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from storage.models import AuditCheckpoint
from storage.ports import AuditCheckpoints

log = logging.getLogger(__name__)


class AuditCheckpointer:
    """Decides when the chain head is signed, and signs it."""

    def __init__(
        self,
        checkpoints: AuditCheckpoints,
        *,
        clock: Callable[[], datetime],
        every_s: float = 300.0,
        every_entries: int = 1000,
    ) -> None:
        self._checkpoints = checkpoints
        self._clock = clock
        self._every = timedelta(seconds=every_s)
        self._every_entries = every_entries

    async def due(self) -> bool:
        """Whether the head should be signed now."""
        seq, _ = await self._checkpoints.head()
        latest = await self._checkpoints.latest()
        if seq == 0 or (latest is not None and latest.seq >= seq):
            return False
        if latest is None:
            return True
        return seq - latest.seq >= self._every_entries or self._clock() - latest.at >= self._every

    async def tick(self) -> AuditCheckpoint | None:
        """Sign the head if a checkpoint is due; the checkpoint written, or None."""
        if not await self.due():
            return None
        checkpoint = await self._checkpoints.write(self._clock())
        if checkpoint is not None:
            log.info("audit checkpoint at seq %d signed by %s", checkpoint.seq, checkpoint.kid)
        return checkpoint

    async def run(self, *, poll_s: float = 1.0) -> None:
        """Tick, then wait, until cancelled (supervised as a job: failures restart it)."""
        while True:
            await self.tick()
            await asyncio.sleep(poll_s)
