import asyncio
import random
from collections.abc import Awaitable, Callable

from hypothesis import given
from hypothesis import strategies as st

from streams.acks import PartitionOrder

P0 = ("comms.chats", 0)
P1 = ("comms.chats", 1)


Released = list[tuple[tuple[str, int], int]]


def _recorder(
    released: Released, partition: tuple[str, int], n: int
) -> Callable[[], Awaitable[None]]:
    async def release() -> None:
        released.append((partition, n))

    return release


async def test_a_finished_event_waits_for_the_event_before_it() -> None:
    order = PartitionOrder()
    released: Released = []
    head = order.enter(P0, 9, _recorder(released, P0, 9))
    after = order.enter(P0, 10, _recorder(released, P0, 10))

    assert await order.finish(after) == 0
    assert released == []  # faust would commit 11 over the retrying 9
    assert list(order.withheld()) == [(P0, 1, 9)]

    assert await order.finish(head) == 2
    assert released == [(P0, 9), (P0, 10)]
    assert list(order.withheld()) == []
    assert len(order) == 0


async def test_partitions_are_independent() -> None:
    order = PartitionOrder()
    released: Released = []
    order.enter(P0, 0, _recorder(released, P0, 0))
    other = order.enter(P1, 0, _recorder(released, P1, 0))
    await order.finish(other)
    assert released == [(P1, 0)]


async def test_a_seek_back_starts_the_partition_afresh() -> None:
    order = PartitionOrder()
    released: Released = []
    stale = [order.enter(P0, n, _recorder(released, P0, n)) for n in (10, 11)]
    # Assigned again: the library seeks back to the committed offset 9 and redelivers.
    again = [order.enter(P0, n, _recorder(released, P0, n)) for n in (9, 10, 11)]
    for ticket in stale:
        assert await order.finish(ticket) == 0
    for ticket in reversed(again):
        await order.finish(ticket)
    assert released == [(P0, 9), (P0, 10), (P0, 11)]


async def test_a_revoked_partition_releases_nothing() -> None:
    order = PartitionOrder()
    released: Released = []
    head = order.enter(P0, 5, _recorder(released, P0, 5))
    order.forget([P0])
    assert await order.finish(head) == 0
    assert released == []
    assert len(order) == 0


async def test_the_window_holds_the_consumer_back_until_acks_are_released() -> None:
    order = PartitionOrder(window=2)
    released: Released = []
    head = order.enter(P0, 0, _recorder(released, P0, 0))
    after = order.enter(P0, 1, _recorder(released, P0, 1))
    await order.finish(after)
    waiting = asyncio.create_task(order.room())
    await asyncio.sleep(0)
    assert not waiting.done()  # two outstanding: the head runs, one is withheld
    await order.finish(head)
    async with asyncio.timeout(1):
        await waiting


@given(
    st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=30),
    st.randoms(use_true_random=False),
)
def test_released_offsets_are_always_a_prefix_of_the_delivered_ones(
    gaps: list[int], rnd: random.Random
) -> None:
    async def run() -> None:
        order = PartitionOrder()
        released: Released = []
        offsets = []
        offset = 0
        for gap in gaps:  # gaps: offsets skipped by transaction markers or compaction
            offset += gap
            offsets.append(offset)
        tickets = [order.enter(P0, n, _recorder(released, P0, n)) for n in offsets]
        finishing = list(tickets)
        rnd.shuffle(finishing)
        for done, ticket in enumerate(finishing, start=1):
            await order.finish(ticket)
            got = [n for _, n in released]
            assert got == offsets[: len(got)]
            finished = {t.offset for t in finishing[:done]}
            # Released exactly the finished prefix: the first unfinished event holds the rest.
            prefix = 0
            while prefix < len(offsets) and offsets[prefix] in finished:
                prefix += 1
            assert len(got) == prefix
        assert [n for _, n in released] == offsets

    asyncio.run(run())
