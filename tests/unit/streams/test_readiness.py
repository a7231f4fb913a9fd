from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from streams.metrics import StreamMetrics
from streams.readiness import AssignmentWatch


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class Coordinator:
    generation: int = 3
    rejoin_requested: int = 0

    def request_rejoin(self) -> None:
        self.rejoin_requested += 1


@dataclass
class Client:
    metadata_updates: int = 0

    async def force_metadata_update(self) -> bool:
        self.metadata_updates += 1
        return True


@dataclass
class AioConsumer:
    _coordinator: Coordinator = field(default_factory=Coordinator)
    _client: Client = field(default_factory=Client)


@dataclass
class ConsumerThread:
    """faust's consumer thread: `assignment()` and `call_thread(fn)`."""

    assigned: set[TP] = field(default_factory=set)
    _consumer: AioConsumer | None = field(default_factory=AioConsumer)
    calls: int = 0

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    async def call_thread(self, fun: Any) -> Any:
        self.calls += 1
        return await fun()


@dataclass
class Consumer:
    _thread: ConsumerThread


@dataclass
class App:
    _consumer: Consumer | None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _watch(thread: ConsumerThread | None) -> tuple[AssignmentWatch, Clock, StreamMetrics]:
    clock = Clock()
    metrics = StreamMetrics(CollectorRegistry())
    app = App(Consumer(thread) if thread is not None else None)
    watch = AssignmentWatch(
        app, topics=["comms.calls", "comms.chats"], stale_after_s=15, metrics=metrics, clock=clock
    )
    return watch, clock, metrics


async def test_not_ready_before_the_worker_starts() -> None:
    watch, _, _ = _watch(None)
    assert "not started" in str(await watch.ready())


async def test_not_ready_before_joining_a_group() -> None:
    thread = ConsumerThread(assigned={TP("comms.calls", 0)})
    assert thread._consumer is not None
    thread._consumer._coordinator.generation = -1
    watch, _, _ = _watch(thread)
    assert "group" in str(await watch.ready())


async def test_not_ready_while_owning_no_partition_of_its_topics() -> None:
    thread = ConsumerThread(assigned={TP("some.other.topic", 0)})
    watch, _, _ = _watch(thread)
    assert "owns no partition" in str(await watch.ready())
    thread.assigned.add(TP("comms.chats", 1))
    assert await watch.ready() is None


async def test_owning_nothing_longer_than_a_session_timeout_refreshes_and_rejoins() -> None:
    thread = ConsumerThread()
    watch, clock, metrics = _watch(thread)
    consumer = thread._consumer
    assert consumer is not None

    await watch.check()  # empty from now on
    clock.now += 14
    await watch.check()
    assert consumer._coordinator.rejoin_requested == 0  # not yet a session timeout

    clock.now += 2
    await watch.check()
    assert consumer._client.metadata_updates == 1
    assert consumer._coordinator.rejoin_requested == 1
    assert thread.calls == 1  # on the consumer's own thread
    assert metrics.rejoins._value.get() == 1

    clock.now += 5
    await watch.check()
    assert consumer._coordinator.rejoin_requested == 1  # the next rejoin waits another timeout

    thread.assigned.add(TP("comms.calls", 0))
    await watch.check()
    clock.now += 60
    await watch.check()
    assert consumer._coordinator.rejoin_requested == 1  # owning partitions: nothing to mend
    assert metrics.assigned._value.get() == 1
