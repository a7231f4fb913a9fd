"""KeyedLocks: mutual exclusion per key, first come first served, nothing left behind."""

from __future__ import annotations

import asyncio

import pytest

from service.ingest.keyed_locks import KeyedLocks


async def test_one_holder_per_key_in_arrival_order() -> None:
    locks = KeyedLocks()
    order: list[int] = []
    inside = 0

    async def user(n: int) -> None:
        nonlocal inside
        async with locks.hold("k"):
            inside += 1
            assert inside == 1
            await asyncio.sleep(0)
            order.append(n)
            inside -= 1

    await asyncio.gather(*(user(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert len(locks) == 0


async def test_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("a"):
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    async with locks.hold("b"):
        assert len(locks) == 2
    release.set()
    await task
    assert len(locks) == 0


async def test_a_cancelled_waiter_neither_holds_nor_blocks() -> None:
    locks = KeyedLocks()
    await locks.acquire("k")
    waiter = asyncio.create_task(locks.acquire("k"))
    second = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    locks.release("k")
    await asyncio.wait_for(second, timeout=5)
    locks.release("k")
    assert len(locks) == 0


async def test_a_waiter_cancelled_as_it_is_handed_the_lock_passes_it_on() -> None:
    locks = KeyedLocks()
    await locks.acquire("k")
    waiter = asyncio.create_task(locks.acquire("k"))
    second = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)
    locks.release("k")  # hands the lock to waiter ...
    waiter.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(second, timeout=5)
    locks.release("k")
    assert len(locks) == 0


async def test_an_error_inside_releases_the_key() -> None:
    locks = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("k"):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with locks.hold("k"):
        pass
