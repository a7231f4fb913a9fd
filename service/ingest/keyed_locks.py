"""KeyedLocks: one lock per key, costing a dict lookup when nobody else holds the key.

Every event takes the lock of its (source, event_id) so that two deliveries of one event in
one worker run one after the other; nearly always nobody else holds it, so the uncontended
path must cost next to nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable
from types import TracebackType


class KeyedLocks:
    """Mutual exclusion per key; a key's entry lives only while someone holds or awaits it."""

    def __init__(self) -> None:
        # key -> the futures of those waiting for it, in order; present while it is held.
        self._held: dict[Hashable, deque[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, key: Hashable) -> _Holding:
        """``async with locks.hold(key):`` runs the block holding key's lock."""
        return _Holding(self, key)

    async def acquire(self, key: Hashable) -> None:
        """Wait until key is free and take it (first come, first served)."""
        waiters = self._held.get(key)
        if waiters is None:
            self._held[key] = deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(key)  # handed the lock as the wait was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # release() may have skipped it already
                    waiters.remove(turn)
            raise

    def release(self, key: Hashable) -> None:
        """Hand key to its next waiter, or free it."""
        waiters = self._held[key]
        while waiters:
            turn = waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._held[key]


class _Holding:
    __slots__ = ("_key", "_locks")

    def __init__(self, locks: KeyedLocks, key: Hashable) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        await self._locks.acquire(self._key)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._locks.release(self._key)
