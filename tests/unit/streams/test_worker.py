import asyncio
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from streams.metrics import ConsumerLag, StreamMetrics
from streams.worker import InFlight


async def test_in_flight_is_bounded_and_acks_only_finished_work() -> None:
    in_flight = InFlight(3)
    running = 0
    peak = 0
    acked: list[int] = []
    gate = asyncio.Event()

    def job(n: int) -> tuple[object, object]:
        async def work() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await gate.wait()
            await asyncio.sleep(0.001 * (10 - n))  # finish out of order
            running -= 1

        async def ack() -> None:
            acked.append(n)

        return work, ack

    async def feed() -> None:
        for n in range(10):
            work, ack = job(n)
            await in_flight.submit(work, ack)  # type: ignore[arg-type]

    feeder = asyncio.create_task(feed())
    async with asyncio.timeout(30):
        while running < 3:  # noqa: ASYNC110 - waiting for the three slots to fill
            await asyncio.sleep(0.001)
    assert peak == 3
    assert not feeder.done()  # the fourth waits for a slot
    gate.set()
    await feeder
    async with asyncio.timeout(2):
        while len(acked) < 10:  # noqa: ASYNC110 - polling the outcome of the tasks under test
            await asyncio.sleep(0.005)
    assert sorted(acked) == list(range(10))
    assert peak == 3


async def test_cancelled_work_is_never_acked() -> None:
    in_flight = InFlight(2)
    acked: list[str] = []
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def ack() -> None:
        acked.append("acked")

    await in_flight.submit(forever, ack)
    await started.wait()
    await in_flight.cancel()
    assert acked == []
    assert len(in_flight) == 0


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


class StaticConsumer:
    """A consumer frozen at given offsets."""

    def __init__(self, highwaters: dict[TP, int], committed: dict[TP, int | None]) -> None:
        self.highwaters = highwaters
        self._committed_offset = committed
        self.positions: dict[TP, int | None] = dict(highwaters)

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int:
        return self.highwaters[tp]

    async def position(self, tp: TP) -> int | None:
        return self.positions[tp]


def _lag(registry: CollectorRegistry, topic: str, partition: int) -> float | None:
    return registry.get_sample_value(
        "keepline_consumer_lag", {"topic": topic, "partition": str(partition)}
    )


async def test_lag_is_highwater_minus_committed_per_partition() -> None:
    registry = CollectorRegistry()
    lag = ConsumerLag(StreamMetrics(registry))
    a, b = TP("comms.calls", 0), TP("comms.calls", 1)
    consumer = StaticConsumer({a: 120, b: 40}, {a: 100, b: None})
    consumer.positions[b] = 35
    await lag.update(consumer)
    assert _lag(registry, "comms.calls", 0) == 20
    assert _lag(registry, "comms.calls", 1) == 5  # nothing committed yet: the position

    await lag.update(StaticConsumer({a: 120}, {a: 120}))
    assert _lag(registry, "comms.calls", 0) == 0
    assert _lag(registry, "comms.calls", 1) is None  # no longer assigned


async def test_work_that_fails_unexpectedly_is_tried_again_never_skipped() -> None:
    in_flight = InFlight(1, retry_initial_s=0.001, retry_max_s=0.001)
    attempts: list[int] = []
    acked = asyncio.Event()

    async def flaky() -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise RuntimeError("a bug on the first tries")

    async def ack() -> None:
        acked.set()

    await in_flight.submit(flaky, ack)
    async with asyncio.timeout(5):
        await acked.wait()
    assert len(attempts) == 3
