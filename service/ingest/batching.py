"""Batcher: concurrent callers' requests served by one call per batch.

Requests that arrive while a batch is being written wait and go together in the next one,
so under load each write carries many requests and an idle system adds no delay at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Serves `submit(request)` calls with `flush(requests) -> results`, one result each.

    Args:
        flush: Handles one batch; returns one result per request, in order. If it raises,
            every request of that batch gets the error (each caller retries its own).
        max_batch: Most requests per flush.
    """

    def __init__(
        self, flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 200
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch is at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, request: T) -> R:
        """Queue one request and wait for its result (or the error of its batch)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="batcher-drain")
        return await future

    async def close(self) -> None:
        """Stop draining; requests queued or being flushed fail with CancelledError."""
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        for _request, future in self._waiting:
            future.cancel()
        self._waiting.clear()

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            live = [(request, future) for request, future in batch if not future.done()]
            if not live:
                continue
            self.batches += 1
            try:
                results = await self._flush([request for request, _ in live])
            except asyncio.CancelledError:
                for _request, future in live:
                    future.cancel()
                raise
            except Exception as err:  # handed to every caller of the batch, who decides
                for _request, future in live:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_request, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
