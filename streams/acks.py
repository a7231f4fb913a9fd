"""Acknowledgements released to the stream library in offset order, per partition.

An event may finish before an earlier event of its partition (the earlier one is retrying
through an object-store outage, or is simply a larger recording). If its acknowledgement
reached the stream library at once, the library could commit over the earlier event:
faust-streaming 0.15.3 withholds a commit only when the lowest acknowledged offset is more
than one past the committed offset, so a single unacknowledged event at the head of a
partition is committed over as soon as its successor is acknowledged (faust-streaming#606).
The event is then never delivered again, whatever happens to the worker.

`PartitionOrder` makes that impossible whatever the library does: every delivered event
takes a ticket in its partition's queue, and an event's acknowledgement is released only
when every event delivered before it on that partition is finished (stored or
dead-lettered). The library never sees a gap, so every commit it makes is below the oldest
unfinished event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

#: A topic and partition, as the stream library names them.
Partition = tuple[str, int]


@dataclass(slots=True, eq=False)
class Ticket:
    """One delivered event's place in its partition's queue."""

    partition: Partition
    offset: int
    release: Callable[[], Awaitable[object]] = field(repr=False)
    queue: deque[Ticket] = field(repr=False)
    finished: bool = False


class PartitionOrder:
    """Holds each finished event's acknowledgement until all before it are finished.

    Args:
        window: Most tickets outstanding at once (running or withheld). While an event at
            the head of a partition retries, later events go on being stored; past this
            many, `room` makes the consumer wait, so memory and the redelivery after a
            crash stay bounded.
    """

    def __init__(self, window: int = 10_000) -> None:
        self._queues: dict[Partition, deque[Ticket]] = {}
        self._window = window
        self._outstanding = 0
        self._room = asyncio.Event()
        self._room.set()

    async def room(self) -> None:
        """Wait until a ticket may be taken."""
        await self._room.wait()

    def enter(
        self, partition: Partition, offset: int, release: Callable[[], Awaitable[object]]
    ) -> Ticket:
        """Take a ticket for an event just delivered.

        Deliveries of a partition come in offset order, except that the library seeks back
        to the committed offset when a partition is assigned again: an offset at or below
        the newest one queued starts the partition afresh, and the tickets taken before it
        are never released (every event they stood for is delivered again after it).
        """
        queue = self._queues.get(partition)
        if queue and offset <= queue[-1].offset:
            self.forget([partition])
            queue = None
        if queue is None:
            queue = self._queues[partition] = deque()
        ticket = Ticket(partition, offset, release, queue)
        queue.append(ticket)
        self._count(+1)
        return ticket

    def _count(self, change: int) -> None:
        self._outstanding += change
        if self._outstanding >= self._window:
            self._room.clear()
        else:
            self._room.set()

    async def finish(self, ticket: Ticket) -> int:
        """Mark the event finished; release every acknowledgement now free, in order.

        Returns:
            How many acknowledgements were released (0 while an earlier event runs).
        """
        ticket.finished = True
        queue = ticket.queue
        if self._queues.get(ticket.partition) is not queue:
            return 0  # the partition was revoked meanwhile: its new owner redelivers it
        ready: list[Ticket] = []
        while queue and queue[0].finished:
            ready.append(queue.popleft())
        if not queue:
            del self._queues[ticket.partition]
        self._count(-len(ready))
        for done in ready:
            await done.release()
        return len(ready)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop the queues of partitions this worker no longer owns (nothing is released)."""
        for partition in partitions:
            dropped = self._queues.pop(partition, None)
            if dropped is not None:
                self._count(-len(dropped))

    def withheld(self) -> Iterator[tuple[Partition, int, int | None]]:
        """Each partition with its finished-but-withheld count and its oldest unfinished offset."""
        for partition, queue in self._queues.items():
            waiting = sum(1 for t in queue if t.finished)
            oldest = next((t.offset for t in queue if not t.finished), None)
            yield partition, waiting, oldest

    def __len__(self) -> int:
        return self._outstanding
