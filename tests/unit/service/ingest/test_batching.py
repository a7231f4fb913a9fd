import asyncio
from collections.abc import Sequence

import pytest

from service.ingest.batching import Batcher


async def test_concurrent_requests_share_a_flush() -> None:
    seen: list[list[int]] = []

    async def flush(requests: Sequence[int]) -> list[int]:
        seen.append(list(requests))
        await asyncio.sleep(0.01)
        return [r * 10 for r in requests]

    batcher: Batcher[int, int] = Batcher(flush, max_batch=50)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(120)))

    assert results == [i * 10 for i in range(120)]
    assert sorted(r for batch in seen for r in batch) == list(range(120))
    assert all(len(batch) <= 50 for batch in seen)
    assert len(seen) < 10
    assert batcher.batches == len(seen)


async def test_a_lone_request_is_not_delayed() -> None:
    async def flush(requests: Sequence[str]) -> list[str]:
        return [r.upper() for r in requests]

    batcher: Batcher[str, str] = Batcher(flush)
    assert await asyncio.wait_for(batcher.submit("a"), timeout=0.5) == "A"
    assert await batcher.submit("b") == "B"
    assert batcher.batches == 2


async def test_a_failed_flush_fails_each_request_of_its_batch_only() -> None:
    calls = 0

    async def flush(requests: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("catalog away")
        return list(requests)

    batcher: Batcher[int, int] = Batcher(flush)
    first = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    assert await batcher.submit(3) == 3


async def test_close_cancels_waiting_requests() -> None:
    release = asyncio.Event()

    async def flush(requests: Sequence[int]) -> list[int]:
        await release.wait()
        return list(requests)

    batcher: Batcher[int, int] = Batcher(flush)
    waiting = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.01)
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_max_batch_must_be_positive() -> None:
    async def flush(requests: Sequence[int]) -> list[int]:
        return list(requests)

    with pytest.raises(ValueError, match="max_batch"):
        Batcher(flush, max_batch=0)
