"""Background jobs of `keepline serve` (sweeper, audit publisher, lock repair …).

Each job is a coroutine that runs until cancelled; `serve` starts them after the workers and
cancels them on shutdown. A job that fails is logged and restarted after a pause, so one
fault never stops retention or audit publishing for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A named background loop."""

    name: str
    run: Callable[[], Awaitable[None]]


async def supervise(job: Job, *, restart_after_s: float = 5.0) -> None:
    """Run job forever; restart it after an unexpected failure."""
    while True:
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "background job %s failed; restarting in %.0fs", job.name, restart_after_s
            )
            await asyncio.sleep(restart_after_s)
        else:
            return
