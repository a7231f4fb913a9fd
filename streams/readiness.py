"""Whether the worker really consumes: it owns partitions, in a group that is stable.

After a broker restart the group leader may assign while the cluster metadata still lacks
the topics: faust's assignor logs `Ignoring missing topic` and every member sits in a
stable group with nothing assigned until the consumer's next metadata refresh (five
minutes by default), while every health check says all is well. `AssignmentWatch` makes
readiness fail for as long as the worker owns no partition of its topics, and when that
lasts longer than a session timeout it refreshes the metadata and asks the group to
rebalance, so consumption resumes within a session timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from streams.errors import StreamsError
from streams.metrics import StreamMetrics

log = logging.getLogger(__name__)

#: aiokafka's generation id before the first successful join.
_NO_GENERATION = -1


class WorkerNotReadyError(StreamsError):
    """The worker does not consume now (starting, rebalancing, or owning no partition)."""

    retriable = True


class AssignmentWatch:
    """Readiness of one worker's consumer, and the rejoin when it owns nothing for too long.

    Args:
        app: The faust app (its consumer exists once the app has started).
        topics: The topics the worker subscribes to.
        stale_after_s: How long owning nothing is tolerated before a rejoin (a session
            timeout: by then a member that died has been dropped from the group).
        metrics: Where the assignment gauge and rejoin counter are.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        app: Any,
        *,
        topics: Iterable[str],
        stale_after_s: float,
        metrics: StreamMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._topics = frozenset(topics)
        self._stale_after_s = stale_after_s
        self._metrics = metrics
        self._clock = clock
        self._empty_since: float | None = None
        self.rejoins = 0

    def _consumer_thread(self) -> Any:
        consumer = getattr(self._app, "_consumer", None)  # None until the app starts
        if consumer is None:
            raise WorkerNotReadyError("the stream worker has not started")
        return consumer._thread  # faust's aiokafka driver runs the consumer in a thread

    def owned(self) -> int:
        """How many partitions of the subscribed topics this worker owns now."""
        thread = self._consumer_thread()
        return sum(1 for tp in thread.assignment() if tp.topic in self._topics)

    async def ready(self) -> str | None:
        """None if the worker consumes; else why not."""
        try:
            thread = self._consumer_thread()
        except WorkerNotReadyError as err:
            return str(err)
        consumer = getattr(thread, "_consumer", None)
        if consumer is None:
            return "the Kafka consumer has not started"
        if consumer._coordinator.generation == _NO_GENERATION:
            return "not in a consumer group yet"
        if self.owned() == 0:
            return "the worker owns no partition of its topics"
        return None

    async def check(self) -> None:
        """Called periodically: after owning nothing for too long, refresh and rejoin."""
        try:
            owned = self.owned()
        except WorkerNotReadyError:
            return
        if self._metrics is not None:
            self._metrics.assigned.set(owned)
        if owned:
            self._empty_since = None
            return
        now = self._clock()
        if self._empty_since is None:
            self._empty_since = now
            return
        if now - self._empty_since < self._stale_after_s:
            return
        log.warning(
            "the worker has owned no partition for %.0fs: refreshing metadata and rejoining",
            now - self._empty_since,
        )
        self._empty_since = now
        await self.rejoin()

    async def rejoin(self) -> None:
        """Refresh the cluster metadata and ask the group to rebalance."""
        thread = self._consumer_thread()
        consumer = thread._consumer

        async def kick() -> None:
            await consumer._client.force_metadata_update()
            consumer._coordinator.request_rejoin()

        # The consumer lives on its own thread's event loop.
        await thread.call_thread(kick)
        self.rejoins += 1
        if self._metrics is not None:
            self._metrics.rejoins.inc()
