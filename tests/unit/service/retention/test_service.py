"""The Sweeper and HoldsService on a real SQLite catalog and an in-memory object store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from policies.models import ArtefactType, HoldCriteria
from policies.policy_file import parse_policy
from policies.retention import purposes_at_ingest
from service.holds.service import HoldsService
from service.retention.destruction import ItemDestroyer
from service.retention.locks import ObjectLockSync
from service.retention.service import SWEEP_LEASE, Sweeper, sweep_forever
from storage.crypto.cipher import AesGcmSegmentCipher
from storage.crypto.keyring import InMemoryKeyRing
from storage.crypto.vault import ContentVault
from storage.errors import ObjectNotFoundError, ObjectStoreError, ObjectStoreUnavailableError
from storage.models import ItemRecord, PartyRow, PurposeRow
from storage.ports import ObjectVersion, PutResult
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.holds import SqlHoldStore
from storage.sql.leases import SqlLeases
from storage.sql.policies import SqlPolicyStore
from storage.sql.schema import items
from tests.catalog_templates import migrated_sqlite

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = """
purposes:
  quality:  {basis: legitimate_interests, retention: PT10S, roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: PT20S, roles: [qa]}
  legal:    {basis: legal_obligation,     retention: PT30S, roles: [legal], worm: true}
rules:
  - match: {type: chat}
    purposes: [quality, training]
  - match: {type: call_recording}
    purposes: [quality, legal]
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class _Version:
    version_id: str
    data: bytes
    legal_hold: bool = False
    retain_until: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)


class MemoryObjectStore:
    """An ObjectStore in a dict that refuses what S3 Object Lock refuses."""

    def __init__(self, clock: Clock, *, compliance: bool = False) -> None:
        self.objects: dict[str, list[_Version]] = {}
        self.clock = clock
        self.compliance = compliance
        self.unreachable: set[str] = set()

    def ensure_bucket(self) -> None:
        """Nothing to create."""

    def ping(self) -> None:
        """Raises while any object is unreachable (the store is down)."""
        if self.unreachable:
            raise ObjectStoreUnavailableError("connection refused")

    def put_stream(
        self,
        key: str,
        reader: BinaryIO,
        *,
        content_type: str,
        tags: Mapping[str, str],
        retain_until: datetime | None = None,
    ) -> PutResult:
        data = b"".join(iter(lambda: reader.read(1 << 16), b""))
        version = _Version(uuid.uuid4().hex, data, tags=dict(tags), retain_until=retain_until)
        self.objects.setdefault(key, []).append(version)
        return PutResult(key=key, version_id=version.version_id, size_bytes=len(data))

    def version(self, key: str, version_id: str | None) -> _Version:
        for version in self.objects.get(key, []):
            if version.version_id == version_id:
                return version
        raise ObjectNotFoundError(key)

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        yield self.version(key, version_id).data[offset : offset + length]

    def versions(self, key: str) -> list[ObjectVersion]:
        if key in self.unreachable:
            raise ObjectStoreUnavailableError("connection refused")
        return [ObjectVersion(key, v.version_id) for v in self.objects.get(key, [])]

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        for ref in versions:
            version = self.version(ref.key, ref.version_id)
            if version.legal_hold:
                raise ObjectStoreError("delete refused: legal hold")
            locked = version.retain_until is not None and version.retain_until > self.clock()
            if locked and (self.compliance or not bypass_governance):
                raise ObjectStoreError("delete refused: retention")
            self.objects[ref.key].remove(version)

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        self.version(key, version_id).legal_hold = on

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        self.version(key, version_id).retain_until = until

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
        self.version(key, version_id).tags = dict(tags)

    def list_keys(self, prefix: str) -> Iterator[str]:
        yield from (k for k, v in self.objects.items() if k.startswith(prefix) and v)


@dataclass
class Env:
    db: Database
    clock: Clock
    catalog: SqlCatalog
    policies: SqlPolicyStore
    audit: SqlAuditLog
    store: MemoryObjectStore
    vault: ContentVault
    lock_sync: ObjectLockSync
    holds: SqlHoldStore
    service: HoldsService
    hooked: list[datetime] = field(default_factory=list)

    def sweeper(self, **kwargs: Any) -> Sweeper:
        async def hook(now: datetime) -> None:
            self.hooked.append(now)

        options: dict[str, Any] = {
            "catalog": self.catalog,
            "holds": self.holds,
            "policies": self.policies,
            "destroyer": ItemDestroyer(self.catalog, self.store, self.audit),
            "lock_sync": self.lock_sync,
            "store": self.store,
            "audit": self.audit,
            "clock": self.clock,
            "after_sweep": hook,
            "batch_size": 2,
        }
        options.update(kwargs)
        return Sweeper(**options)

    async def add(
        self,
        item_type: str = "chat",
        *,
        subject: str = "cust-1",
        staff: str | None = None,
        content: bytes | None = b"hello, this is a chat",
        hold_ids: tuple[str, ...] = (),
    ) -> str:
        policy = await self.policies.active()
        parties = [PartyRow(f"addr-{subject}", subject, None)]
        if staff:
            parties.append(PartyRow(f"addr-{staff}", None, staff))
        claim = await self.catalog.claim(
            source="test",
            event_id=uuid.uuid4().hex,
            item_type=item_type,
            occurred_at=self.clock.now,
            ingested_at=self.clock.now,
            policy_version=policy.version,
            event={
                "type": item_type,
                "parties": [
                    {"address": p.address, "subject_id": p.subject_id, "staff_id": p.staff_id}
                    for p in parties
                ],
                "attributes": {},
            },
            parties=parties,
            attributes={},
        )
        states = purposes_at_ingest(
            item_type=ArtefactType(item_type),
            attributes={},
            occurred_at=self.clock.now,
            subject_ids=frozenset({subject}),
            policy=policy,
            consents={},
        )
        stored = None
        if content is not None:
            stored = self.vault.seal(
                item_id=claim.item_id,
                chunks=iter([content]),
                content_type="text/plain",
                expected_size_bytes=len(content),
                expected_sha256=None,
                tags={"kl-type": item_type, "kl-purposes": "+".join(s.name for s in states)},
            )
        await self.catalog.commit_stored(
            claim.item_id,
            stored=stored,
            purposes=[PurposeRow(s.name, s.basis.value, s.expires_at, s.worm) for s in states],
            hold_ids=hold_ids,
            s3_synced=False,
        )
        record = await self.catalog.get(claim.item_id)
        assert record is not None
        await self.lock_sync.sync(record, self.clock.now)
        return claim.item_id

    async def purposes(self, item_id: str) -> list[str]:
        record = await self.catalog.get(item_id)
        assert record is not None
        return [p.name for p in record.purposes]

    def versions(self, item_id: str) -> list[_Version]:
        return [v for key, vs in self.store.objects.items() if item_id in key for v in vs]

    async def hold(self, **given: Any) -> str:
        record = await self.service.place(
            matter="m-1",
            description="",
            criteria=HoldCriteria.from_json(given),
            by="legal-user",
            at=self.clock.now,
        )
        await self.service.settle()  # the S3 flags follow in the background
        return record.hold_id

    async def release(self, hold_id: str, **given: Any) -> None:
        await self.service.release(hold_id, **given)
        await self.service.settle()

    async def actions(self, action: str) -> list[Any]:
        return await self.audit.query(action=action)


async def _env(tmp_path: Path, *, compliance: bool = False) -> Env:
    db = Database(migrated_sqlite(tmp_path / f"catalog-{uuid.uuid4().hex}.db"))
    await db.create_schema()
    clock = Clock()
    catalog = SqlCatalog(db)
    audit = SqlAuditLog(db)
    policies = SqlPolicyStore(db, cache_ttl_s=0)
    await policies.bootstrap(parse_policy(POLICY), at=clock.now)
    store = MemoryObjectStore(clock, compliance=compliance)
    lock_sync = ObjectLockSync(catalog, store)
    holds = SqlHoldStore(db)
    return Env(
        db=db,
        clock=clock,
        catalog=catalog,
        policies=policies,
        audit=audit,
        store=store,
        vault=ContentVault(store, InMemoryKeyRing(), AesGcmSegmentCipher(64)),
        lock_sync=lock_sync,
        holds=holds,
        service=HoldsService(holds=holds, catalog=catalog, lock_sync=lock_sync, audit=audit),
    )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    environment = await _env(tmp_path)
    yield environment
    await environment.service.aclose()
    await environment.db.dispose()


async def _row(env: Env, item_id: str) -> Any:
    async with env.db.connect() as conn:
        return (await conn.execute(select(items).where(items.c.item_id == item_id))).one()


async def test_each_purpose_expires_on_its_own_then_the_item_goes(env: Env) -> None:
    item_id = await env.add("chat")
    sweeper = env.sweeper()
    env.clock.advance(9)
    report = await sweeper.sweep()
    assert (report.purposes_dropped, report.destroyed) == (0, 0)
    env.clock.advance(1)  # quality expires at +10s, inclusive
    report = await sweeper.sweep()
    assert report.purposes_dropped == 1
    assert await env.purposes(item_id) == ["training"]
    assert env.versions(item_id)[0].tags["kl-purposes"] == "training"
    expired = await env.actions("purposes.expired")
    assert [(e.item_id, e.details["expired"]) for e in expired] == [(item_id, ["quality"])]
    env.clock.advance(10)
    report = await sweeper.sweep()
    assert report.destroyed == 1
    assert await env.catalog.get(item_id) is None
    assert env.versions(item_id) == []
    row = await _row(env, item_id)
    assert (row.status, row.wrapped_key, row.object_key, row.event) == ("destroyed", None, None, {})
    tombstone = await env.catalog.tombstone(item_id)
    assert tombstone is not None
    assert tombstone["reason"] == "retention_expired"
    assert tombstone["type"] == "chat"
    destroyed = await env.actions("item.destroyed")
    assert [e.item_id for e in destroyed] == [item_id]
    assert env.hooked == [T0 + timedelta(seconds=s) for s in (9, 10, 20)]


async def test_item_without_any_purpose_goes_at_once(env: Env) -> None:
    item_id = await env.add("email")  # no rule matches e-mails
    report = await env.sweeper().sweep()
    assert report.destroyed == 1
    tombstone = await env.catalog.tombstone(item_id)
    assert tombstone is not None
    assert tombstone["reason"] == "no_purpose"


async def test_held_item_survives_expiry_and_goes_after_release(env: Env) -> None:
    held = await env.add("chat", subject="cust-held")
    free = await env.add("chat", subject="cust-free")
    hold_id = await env.hold(subject_ids=["cust-held"])
    assert env.versions(held)[0].legal_hold
    assert not env.versions(free)[0].legal_hold
    sweeper = env.sweeper()
    env.clock.advance(30)
    report = await sweeper.sweep()
    assert report.destroyed == 1
    assert await env.catalog.get(free) is None
    record = await env.catalog.get(held)
    assert record is not None
    assert record.purposes == ()  # QA loses access on time; legal keeps the item
    assert record.hold_ids == (hold_id,)
    assert (await sweeper.sweep()).destroyed == 0
    await env.release(hold_id, by="legal-user", at=env.clock.now)
    assert not env.versions(held)[0].legal_hold
    report = await sweeper.sweep()
    assert report.destroyed == 1
    assert await env.catalog.get(held) is None
    assert env.versions(held) == []
    placed = await env.actions("hold.placed")
    released = await env.actions("hold.released")
    assert placed[0].details["matched"] == 1
    assert released[0].details == {"hold_id": hold_id, "matter": "m-1", "items_freed": 1}


async def test_several_holds_are_counted_independently(env: Env) -> None:
    item_id = await env.add("chat", subject="cust-1", staff="agent-1")
    first = await env.hold(subject_ids=["cust-1"])
    second = await env.hold(staff_ids=["agent-1"])
    sweeper = env.sweeper()
    env.clock.advance(30)
    await env.release(first, by="legal-user", at=env.clock.now)
    assert env.versions(item_id)[0].legal_hold
    assert (await sweeper.sweep()).destroyed == 0
    record = await env.catalog.get(item_id)
    assert record is not None
    assert record.hold_ids == (second,)
    await env.release(second, by="legal-user", at=env.clock.now)
    assert (await sweeper.sweep()).destroyed == 1


async def test_hold_placed_while_an_item_is_judged_still_protects(env: Env) -> None:
    item_id = await env.add("email", subject="cust-late")

    class HoldArrivesAfterRead(SqlCatalog):
        async def get_many(self, item_ids: Sequence[str]) -> list[ItemRecord]:
            records = await super().get_many(item_ids)
            if records and not await env.holds.active():
                await env.hold(subject_ids=["cust-late"])  # placed after the item was read
            return records

    report = await env.sweeper(catalog=HoldArrivesAfterRead(env.db)).sweep()
    assert (report.destroyed, report.kept) == (0, 1)
    assert await env.catalog.get(item_id) is not None
    assert env.versions(item_id)[0].legal_hold


async def test_worm_object_is_locked_until_expiry_then_destroyed(env: Env) -> None:
    item_id = await env.add("call_recording")
    version = env.versions(item_id)[0]
    assert version.retain_until == T0 + timedelta(seconds=30)
    with pytest.raises(ObjectStoreError):
        env.store.delete_versions(
            [ObjectVersion(k, version.version_id) for k in env.store.objects],
            bypass_governance=False,
        )
    sweeper = env.sweeper()
    env.clock.advance(10)
    await sweeper.sweep()
    assert await env.purposes(item_id) == ["legal"]
    env.clock.advance(20)
    assert (await sweeper.sweep()).destroyed == 1
    assert env.versions(item_id) == []


async def test_compliance_lock_is_waited_out_not_failed(tmp_path: Path) -> None:
    env = await _env(tmp_path, compliance=True)
    item_id = await env.add("call_recording")
    # A policy change took the worm purpose away early: the object stays locked to +30s.
    await env.catalog.set_purposes(item_id, [])
    sweeper = env.sweeper(compliance_lock=True)
    report = await sweeper.sweep()
    assert (report.destroyed, report.locked, report.failed) == (0, 1, 0)
    env.clock.advance(30)
    assert (await sweeper.sweep()).destroyed == 1
    await env.db.dispose()


async def test_store_fault_leaves_the_items_for_the_next_pass(env: Env) -> None:
    first = await env.add("email")
    second = await env.add("email")
    record = await env.catalog.get(first)
    assert record is not None
    assert record.stored is not None
    env.store.unreachable.add(record.stored.object_key)
    report = await env.sweeper().sweep()
    assert (report.destroyed, report.failed) == (0, 2)
    assert await env.catalog.get(first) is not None
    assert await env.catalog.get(second) is not None
    env.store.unreachable.clear()
    assert (await env.sweeper().sweep()).destroyed == 2
    assert env.versions(first) == []
    assert env.versions(second) == []


async def test_a_destruction_cut_short_is_completed(env: Env) -> None:
    item_id = await env.add("email")
    record = await env.catalog.get(item_id)
    assert record is not None
    assert record.stored is not None
    # As if the process died after removing the objects, before the catalog changed.
    env.store.delete_versions(env.store.versions(record.stored.object_key), bypass_governance=True)
    assert (await env.sweeper().sweep()).destroyed == 1
    assert await env.catalog.tombstone(item_id) is not None


async def test_lock_state_left_unsynced_is_repaired(env: Env) -> None:
    item_id = await env.add("chat", subject="cust-1")
    hold_id = str(uuid.uuid4())
    await env.holds.create(
        matter="m",
        description="",
        criteria=HoldCriteria.from_json({"subject_ids": ["cust-1"]}),
        created_by="legal-user",
        created_at=env.clock.now,
        hold_id=hold_id,
    )  # the catalog only: as if the flags were never set
    assert not env.versions(item_id)[0].legal_hold
    report = await env.sweeper().sweep()
    assert report.repaired == 1
    assert env.versions(item_id)[0].legal_hold
    assert (await _row(env, item_id)).s3_synced


async def test_item_stored_while_a_hold_was_placed_gets_covered(env: Env) -> None:
    hold_id = await env.hold(subject_ids=["cust-race"])
    # Ingest read the holds before this one existed, and committed after it was placed.
    item_id = await env.add("chat", subject="cust-race")
    report = await env.sweeper().sweep()
    assert report.covered == 1
    record = await env.catalog.get(item_id)
    assert record is not None
    assert record.hold_ids == (hold_id,)
    assert env.versions(item_id)[0].legal_hold


async def test_dry_run_lists_and_changes_nothing(env: Env) -> None:
    chat = await env.add("chat")
    email = await env.add("email")
    env.clock.advance(10)
    progress: list[tuple[int, int]] = []
    report = await env.sweeper().sweep(dry_run=True, progress=lambda d, t: progress.append((d, t)))
    assert {(e.item_id, e.action.value, e.reason) for e in report.entries} == {
        (chat, "drop_purposes", "retention_expired"),
        (email, "destroy", "no_purpose"),
    }
    assert progress[-1] == (2, 2)
    assert await env.purposes(chat) == ["quality", "training"]
    assert await env.catalog.get(email) is not None
    assert env.hooked == []
    assert await env.actions("item.destroyed") == []


async def test_keep_going_false_stops_between_batches(env: Env) -> None:
    for _ in range(5):
        await env.add("email")

    async def lost_lease() -> bool:
        return False

    report = await env.sweeper(batch_size=2).sweep(keep_going=lost_lease)
    assert report.interrupted
    assert report.destroyed == 2
    assert env.hooked == []


class CountingLeases(SqlLeases):
    """The real leases, counting how often "me" was refused the lease."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.refused = 0
        self.refused_twice = asyncio.Event()

    async def acquire(self, name: str, holder: str, *, ttl_s: float, now: datetime) -> bool:
        got = await super().acquire(name, holder, ttl_s=ttl_s, now=now)
        if not got and holder == "me":
            self.refused += 1
            if self.refused >= 2:
                self.refused_twice.set()
        return got


async def test_sweep_forever_sweeps_only_with_the_lease(env: Env) -> None:
    item_id = await env.add("email")
    leases = CountingLeases(env.db)
    assert await leases.acquire(SWEEP_LEASE, "other-process", ttl_s=3600, now=env.clock.now)
    task = asyncio.create_task(
        sweep_forever(env.sweeper(), leases, interval_s=0.05, holder="me", clock=env.clock)
    )
    try:
        async with asyncio.timeout(30):
            await leases.refused_twice.wait()  # two passes found the lease taken...
        assert await env.catalog.get(item_id) is not None  # ...and destroyed nothing
        await leases.release(SWEEP_LEASE, "other-process")
        async with asyncio.timeout(60):  # a deadline for a loaded machine, not a timing
            while await env.catalog.get(item_id) is not None:  # noqa: ASYNC110 - the outcome
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await leases.current(SWEEP_LEASE) is None  # given up between passes


_offsets = st.lists(
    st.tuples(st.sampled_from(["chat", "call_recording", "email"]), st.integers(0, 40)),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items_at=_offsets,
    held=st.sets(st.integers(0, 5), max_size=3),
    released=st.sets(st.integers(0, 5), max_size=2),
    sweep_after_s=st.integers(0, 45),
)
async def test_nothing_held_destroyed_nothing_expired_and_unheld_survives(
    tmp_path: Path,
    items_at: list[tuple[str, int]],
    held: set[int],
    released: set[int],
    sweep_after_s: int,
) -> None:
    env = await _env(tmp_path)
    try:
        ids = []
        for n, (kind, offset) in enumerate(items_at):
            env.clock.now = T0 + timedelta(seconds=offset)
            ids.append(await env.add(kind, subject=f"s{n}"))
        env.clock.now = T0
        holds = {n: await env.hold(subject_ids=[f"s{n}"]) for n in held}
        for n in released & held:
            await env.release(holds[n], by="legal-user", at=T0)
        env.clock.now = T0 + timedelta(seconds=sweep_after_s)
        await env.sweeper().sweep()
        for n, item_id in enumerate(ids):
            record = await env.catalog.get(item_id)
            is_held = n in held and n not in released
            if is_held:
                assert record is not None, "a held item was destroyed"
                assert env.versions(item_id)[0].legal_hold
                continue
            kind, offset = items_at[n]
            # E-mails get no purpose under POLICY: nothing keeps them, whenever they occurred.
            gone = kind == "email" or offset + {"chat": 20, "call_recording": 30}[kind] <= (
                sweep_after_s
            )
            if gone:
                assert record is None, "an expired, unheld item survived the sweep"
                assert env.versions(item_id) == []
            else:
                assert record is not None
                assert all(p.expires_at > env.clock.now for p in record.purposes)
    finally:
        await env.db.dispose()


async def test_unsynced_marker_is_set_by_purpose_drop_and_cleared(env: Env) -> None:
    item_id = await env.add("chat")
    async with env.db.begin() as conn:
        await conn.execute(update(items).values(s3_synced=True))
    env.clock.advance(10)
    await env.sweeper().sweep()
    assert (await _row(env, item_id)).s3_synced


class _RefusingFlags(MemoryObjectStore):
    """An object store that cannot be reached for legal-hold flags."""

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        raise ObjectStoreUnavailableError("connection refused")


async def test_the_route_answers_before_the_flags_which_follow_in_the_background(
    env: Env,
) -> None:
    item_id = await env.add("chat", subject="cust-big")
    record = await env.service.place(
        matter="m",
        description="",
        criteria=HoldCriteria.from_json({"subject_ids": ["cust-big"]}),
        by="legal-user",
        at=env.clock.now,
    )
    # In force in the catalog at once: the item cannot be destroyed from here on.
    assert (record.matched, record.flags_pending) == (1, 1)
    assert (await env.catalog.get(item_id)).hold_ids == (record.hold_id,)  # type: ignore[union-attr]
    await env.service.settle()
    assert env.versions(item_id)[0].legal_hold
    after = await env.holds.get(record.hold_id)
    assert after is not None
    assert after.flags_pending == 0
    assert env.service.flags_synced == 1


class _GoneWhileFlagging(SqlCatalog):
    """Some items are gone by the time their page is read (as if destroyed meanwhile)."""

    doomed: frozenset[str] = frozenset()

    async def get_many(self, item_ids: Sequence[str]) -> list[ItemRecord]:
        return [r for r in await super().get_many(item_ids) if r.item_id not in self.doomed]


async def test_the_flags_of_a_hold_go_page_after_page_to_the_last(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.holds.service._PAGE", 3)
    ids = sorted([await env.add("chat", subject="cust-pages") for _ in range(11)])
    catalog = _GoneWhileFlagging(env.db)
    catalog.doomed = frozenset(ids[3:6])  # the whole second page
    service = HoldsService(
        holds=env.holds, catalog=catalog, lock_sync=env.lock_sync, audit=env.audit
    )
    record = await service.place(
        matter="m",
        description="",
        criteria=HoldCriteria.from_json({"subject_ids": ["cust-pages"]}),
        by="legal-user",
        at=env.clock.now,
    )
    await service.settle()
    assert record.matched == 11
    assert service.flags_synced == 8
    for item_id in ids:
        flagged = [v.legal_hold for v in env.versions(item_id)]
        assert flagged == [item_id not in catalog.doomed]
    after = await env.holds.get(record.hold_id)
    assert after is not None
    assert after.flags_pending == 3  # the ones read as gone


async def test_flags_the_store_refuses_are_left_to_the_sweeper(env: Env) -> None:
    item_id = await env.add("chat", subject="cust-big")
    refusing = _RefusingFlags(env.clock)
    refusing.objects = env.store.objects
    service = HoldsService(
        holds=env.holds,
        catalog=env.catalog,
        lock_sync=ObjectLockSync(env.catalog, refusing),
        audit=env.audit,
    )
    record = await service.place(
        matter="m",
        description="",
        criteria=HoldCriteria.from_json({"subject_ids": ["cust-big"]}),
        by="legal-user",
        at=env.clock.now,
    )
    await service.settle()
    assert record.matched == 1
    assert not env.versions(item_id)[0].legal_hold
    assert not (await _row(env, item_id)).s3_synced
    pending = await env.holds.get(record.hold_id)
    assert pending is not None
    assert pending.flags_pending == 1
    assert (await env.sweeper().sweep()).repaired == 1
    assert env.versions(item_id)[0].legal_hold


async def test_release_runs_the_deferred_erasure_hook_and_survives_its_failure(env: Env) -> None:
    calls: list[datetime] = []

    async def erasures(now: datetime) -> int:
        calls.append(now)
        raise ObjectStoreUnavailableError("connection refused")

    service = HoldsService(
        holds=env.holds,
        catalog=env.catalog,
        lock_sync=env.lock_sync,
        audit=env.audit,
        after_release=erasures,
    )
    record = await service.place(
        matter="m",
        description="",
        criteria=HoldCriteria.from_json({"types": ["chat"]}),
        by="legal-user",
        at=env.clock.now,
    )
    released = await service.release(record.hold_id, by="legal-user", at=env.clock.now)
    await service.settle()
    assert released.released_at == env.clock.now
    assert calls == [env.clock.now]
    assert len(await env.actions("hold.released")) == 1


class _HoldBeforeDestroying:
    """The audit log, placing a hold just before the destroying transaction begins.

    That is after the sweeper decided and listed the object's versions: the last moment a
    hold can arrive, and the one the destroying transaction must still see.
    """

    def __init__(self, log: SqlAuditLog, place: Callable[[], Awaitable[Any]]) -> None:
        self._log = log
        self._place: Callable[[], Awaitable[Any]] | None = place

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._place is not None:
            place, self._place = self._place, None
            await place()
        async with self._log.transaction():
            yield

    async def append(self, **entry: Any) -> Any:
        return await self._log.append(**entry)

    async def append_many(self, drafts: Any) -> Any:
        return await self._log.append_many(drafts)

    async def query(self, **filters: Any) -> Any:
        return await self._log.query(**filters)

    async def verify(self, *, batch: int = 1000) -> Any:
        return await self._log.verify(batch=batch)


async def test_a_hold_placed_between_the_decision_and_the_destroy_wins(env: Env) -> None:
    item_id = await env.add("email", subject="cust-late")
    audit = _HoldBeforeDestroying(env.audit, lambda: env.hold(subject_ids=["cust-late"]))
    destroyer = ItemDestroyer(env.catalog, env.store, audit)  # type: ignore[arg-type]  # a wrapper
    report = await env.sweeper(destroyer=destroyer).sweep()
    assert (report.destroyed, report.kept, report.failed) == (0, 1, 0)
    record = await env.catalog.get(item_id)
    assert record is not None
    assert record.hold_ids
    assert record.stored is not None
    assert env.versions(item_id)  # the content is all there
    assert [v.legal_hold for v in env.versions(item_id)] == [True]
    assert await env.actions("item.destroyed") == []
