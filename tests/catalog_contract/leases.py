"""SqlLeases' contract: one holder at a time, expiry, renewal, hand-over."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from storage.errors import LeaseUnavailableError
from storage.sql.database import Database
from storage.sql.leases import SqlLeases
from tests.catalog_contract.support import T0


class LeasesContract:
    """What the sweeper and the maintenance commands rely on from leases."""

    @pytest.fixture
    def leases(self, db: Database) -> SqlLeases:
        return SqlLeases(db)

    async def test_only_one_holder_at_a_time(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0)
        assert not await leases.acquire("sweeper", "b", ttl_s=30, now=T0 + timedelta(seconds=29))
        current = await leases.current("sweeper")
        assert current is not None
        assert current.holder == "a"
        assert current.expires_at == T0 + timedelta(seconds=30)

    async def test_holder_reacquiring_extends_its_lease(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0)
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0 + timedelta(seconds=20))
        current = await leases.current("sweeper")
        assert current is not None
        assert current.expires_at == T0 + timedelta(seconds=50)

    async def test_expired_lease_is_taken_over_and_old_holder_cannot_renew(
        self, leases: SqlLeases
    ) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0)
        later = T0 + timedelta(seconds=30)
        assert await leases.acquire("sweeper", "b", ttl_s=30, now=later)
        assert not await leases.renew("sweeper", "a", ttl_s=30, now=later)
        assert await leases.renew("sweeper", "b", ttl_s=30, now=later + timedelta(seconds=10))
        current = await leases.current("sweeper")
        assert current is not None
        assert (current.holder, current.expires_at) == ("b", later + timedelta(seconds=40))

    async def test_an_expired_lease_nobody_took_is_still_renewable(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=5, now=T0)
        assert await leases.renew("sweeper", "a", ttl_s=5, now=T0 + timedelta(seconds=60))

    async def test_release_only_by_the_holder(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0)
        assert not await leases.release("sweeper", "b")
        assert await leases.release("sweeper", "a")
        assert await leases.current("sweeper") is None
        assert not await leases.release("sweeper", "a")
        assert await leases.acquire("sweeper", "b", ttl_s=30, now=T0)

    async def test_leases_are_independent_by_name(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "a", ttl_s=30, now=T0)
        assert await leases.acquire("reconcile", "b", ttl_s=30, now=T0)

    async def test_concurrent_acquirers_of_a_new_lease_get_exactly_one(
        self, leases: SqlLeases
    ) -> None:
        results = await asyncio.gather(
            *(leases.acquire("sweeper", f"h{n}", ttl_s=30, now=T0) for n in range(12))
        )
        assert results.count(True) == 1

    async def test_concurrent_takers_of_an_expired_lease_get_exactly_one(
        self, leases: SqlLeases
    ) -> None:
        assert await leases.acquire("sweeper", "old", ttl_s=5, now=T0)
        later = T0 + timedelta(seconds=10)
        results = await asyncio.gather(
            *(leases.acquire("sweeper", f"h{n}", ttl_s=30, now=later) for n in range(12))
        )
        assert results.count(True) == 1
        current = await leases.current("sweeper")
        assert current is not None
        assert current.holder == f"h{results.index(True)}"

    async def test_holding_releases_on_exit_and_renews(self, leases: SqlLeases) -> None:
        now = [T0]
        async with leases.holding("sweeper", "a", ttl_s=10, clock=lambda: now[0]) as renew:
            now[0] = T0 + timedelta(seconds=8)
            assert await renew()
            current = await leases.current("sweeper")
            assert current is not None
            assert current.expires_at == T0 + timedelta(seconds=18)
        assert await leases.current("sweeper") is None

    async def test_holding_refuses_while_another_holds(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "other", ttl_s=30, now=T0)
        with pytest.raises(LeaseUnavailableError) as caught:
            async with leases.holding("sweeper", "me", ttl_s=30, clock=lambda: T0, wait_s=0.2):
                pytest.fail("the block must not run without the lease")
        assert caught.value.holder == "other"
        assert caught.value.expires_at == T0 + timedelta(seconds=30)

    async def test_holding_waits_for_a_release(self, leases: SqlLeases) -> None:
        assert await leases.acquire("sweeper", "other", ttl_s=30, now=T0)
        acquiring = asyncio.Event()

        def clock() -> datetime:
            acquiring.set()  # the holder polls: release the lease now
            return T0

        async def release_once_polled() -> None:
            await acquiring.wait()
            await leases.release("sweeper", "other")

        task = asyncio.create_task(release_once_polled())
        async with leases.holding(
            "sweeper", "me", ttl_s=30, clock=clock, wait_s=30, poll_s=0.05
        ) as renew:
            current = await leases.current("sweeper")
            assert current is not None
            assert current.holder == "me"
            assert await renew()
        await task

    async def test_renew_fails_once_taken_over_inside_holding(self, leases: SqlLeases) -> None:
        now = [T0]
        async with leases.holding("sweeper", "a", ttl_s=5, clock=lambda: now[0]) as renew:
            now[0] = T0 + timedelta(seconds=6)
            assert await leases.acquire("sweeper", "b", ttl_s=5, now=now[0])
            assert not await renew()
        # Leaving the block did not release b's lease.
        current = await leases.current("sweeper")
        assert current is not None
        assert current.holder == "b"
