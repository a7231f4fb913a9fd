"""Pacing and listing for integrity passes: reads kept to a byte rate, a listing cut in batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

from storage.ports import ObjectVersion

Sleep = Callable[[float], Awaitable[None]]


class Throttle:
    """Paces reads to at most ``max_bytes_s`` on average since the pass (re)started."""

    def __init__(self, max_bytes_s: int, *, sleep: Sleep = asyncio.sleep) -> None:
        self._rate = max_bytes_s
        self._sleep = sleep
        self._started = time.monotonic()
        self._spent = 0

    async def spend(self, size_bytes: int) -> None:
        """Account for bytes read; wait until reading them kept to the rate."""
        self._spent += size_bytes
        ahead_s = self._spent / self._rate - (time.monotonic() - self._started)
        if ahead_s > 0:
            await self._sleep(ahead_s)


class KeyBatches:
    """Cuts a listing into batches of whole keys after ``after`` (blocking: run in a thread)."""

    def __init__(self, listing: Iterator[ObjectVersion], limit: int, after: str) -> None:
        self._listing = listing
        self._limit = limit
        self._after = after
        self._next: ObjectVersion | None = None

    def take(self) -> list[tuple[str, list[ObjectVersion]]]:
        """The next batch; empty at the end."""
        batch: list[tuple[str, list[ObjectVersion]]] = []
        while True:
            version = self._next if self._next is not None else next(self._listing, None)
            self._next = None
            if version is None:
                return batch
            if version.key <= self._after:
                continue  # checked before the pass was interrupted
            if batch and batch[-1][0] == version.key:
                batch[-1][1].append(version)
            elif len(batch) >= self._limit:
                self._next = version
                return batch
            else:
                batch.append((version.key, [version]))
