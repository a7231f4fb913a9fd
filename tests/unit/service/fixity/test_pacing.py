"""The pace of a pass: reads kept to the byte rate, never faster."""

from __future__ import annotations

from service.fixity.pacing import Throttle


async def test_reads_are_paced_to_the_byte_rate() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    throttle = Throttle(1000, sleep=sleep)
    await throttle.spend(5000)
    assert len(slept) == 1
    assert 4.5 < slept[0] <= 5.0
    # The fake sleep lets no time pass: the whole 6000 bytes are still owed at this rate.
    await throttle.spend(1000)
    assert 5.5 < slept[1] <= 6.0


async def test_a_slow_read_is_not_slowed_further() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    throttle = Throttle(1 << 40, sleep=sleep)
    await throttle.spend(1 << 20)
    assert slept == []
