"""Integrity passes on a real SQLite catalog and a filesystem store: what a pass finds, that it
resumes where it stopped, and GET /v1/fixity/latest (auditor)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import service.fixity.service as fixity_module
from service.fixity.models import FIXITY_LEASE, RunFixity
from service.fixity.service import FixityService, fixity_forever
from storage.models import object_key_for
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.ports import BucketProtection, FixityPass
from storage.sql.fixity import SqlFixityLog
from storage.sql.leases import SqlLeases
from storage.sql.schema import audit
from tests.unit.api.conftest import TOKENS, Harness


def _service(harness: Harness, store: Any = None) -> FixityService:
    storage = harness.storage
    return FixityService(
        catalog=storage.catalog,
        store=store or storage.store,
        vault=storage.vault,
        policies=storage.policies,
        passes=SqlFixityLog(storage.db),
        audit=storage.audit,
        clock=harness.clock,
        max_bytes_s=1 << 30,
    )


def _version_file(harness: Harness, item_id: str) -> Path:
    store = harness.storage.store
    assert isinstance(store, FilesystemObjectStore)
    folder = store.root.joinpath(*object_key_for(item_id).split("/"), ".kl-versions")
    (data,) = [p for p in folder.iterdir() if not p.name.endswith(".json")]
    return data


class _Suspended:
    """The store, with its bucket's versioning suspended and Object Lock gone."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def protection(self) -> BucketProtection:
        return BucketProtection(versioning="Suspended", object_lock=False)


async def test_a_clean_archive_passes_and_every_object_is_read(harness: Harness) -> None:
    ids = [await harness.add_content(bytes([n]) * (10_000 + n)) for n in range(3)]
    await harness.add_content(b"")
    done = await _service(harness).run(RunFixity())
    assert done is not None
    assert done.finished_at is not None
    assert (done.objects_checked, done.mismatched, done.missing, done.orphaned) == (4, 0, 0, 0)
    assert done.bytes_checked == sum(10_000 + n for n in range(3))
    assert done.bucket == {
        "versioning": "Enabled",
        "object_lock": True,
        "object_lock_required": True,
        "versioning_ok": True,
        "object_lock_ok": True,
    }
    assert done.problems == ()
    assert ids


async def test_a_pass_finds_flipped_removed_and_orphaned_objects(harness: Harness) -> None:
    intact = await harness.add_content(b"a" * 9000)
    flipped = await harness.add_content(b"b" * 9000)
    removed = await harness.add_content(b"c" * 9000)
    path = _version_file(harness, flipped)
    body = bytearray(path.read_bytes())
    body[6000] ^= 0x01
    path.write_bytes(bytes(body))
    _version_file(harness, removed).unlink()
    orphan = await asyncio.to_thread(
        harness.storage.vault.seal,
        item_id="not-in-the-catalog",
        chunks=iter([b"x"]),
        content_type="text/plain",
        expected_size_bytes=1,
        expected_sha256=None,
        tags={},
    )

    done = await _service(harness).run(RunFixity(actor="tester"))
    assert done is not None
    assert (done.objects_checked, done.mismatched, done.missing, done.orphaned) == (3, 1, 1, 1)
    by_kind = {p["kind"]: p for p in done.problems}
    assert by_kind["mismatched"]["item_id"] == flipped
    assert "segment 1" in by_kind["mismatched"]["detail"]
    assert by_kind["missing"]["item_id"] == removed
    assert by_kind["orphaned"]["object_key"] == orphan.object_key
    assert intact not in {p["item_id"] for p in done.problems}
    async with harness.storage.db.connect() as conn:
        completed = audit.select().where(audit.c.action == "fixity.completed")
        rows = (await conn.execute(completed)).all()
    assert [(r.actor, r.details["mismatched"], r.details["missing"]) for r in rows] == [
        ("tester", 1, 1)
    ]


async def test_an_altered_catalog_digest_is_a_mismatch(harness: Harness) -> None:
    item_id = await harness.add_content(b"hello world")
    record = await harness.storage.catalog.get(item_id)
    assert record is not None
    assert record.stored is not None
    wrong = replace(record.stored, content=replace(record.stored.content, sha256="0" * 64))
    problem = (await _service(harness).check(replace(record, stored=wrong)))[1]
    assert problem is not None
    assert problem.detail == "sha256 differs from the catalog's"


async def test_a_suspended_versioning_and_a_lost_object_lock_are_reported(
    harness: Harness,
) -> None:
    done = await _service(harness, _Suspended(harness.storage.store)).run(RunFixity())
    assert done is not None
    assert done.bucket is not None
    assert done.bucket["versioning"] == "Suspended"
    assert (done.bucket["versioning_ok"], done.bucket["object_lock_ok"]) == (False, False)


async def test_an_interrupted_pass_resumes_after_its_cursor(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixity_module, "_SAVE_EVERY_S", 0.0)
    for n in range(5):
        await harness.add_content(bytes([n]) * 100)
    calls = 0

    async def stop_after_two() -> bool:
        nonlocal calls
        calls += 1
        return calls < 2

    service = _service(harness)
    stopped = await service.run(RunFixity(), keep_going=stop_after_two)
    assert stopped is not None
    assert stopped.finished_at is None
    assert (stopped.phase, stopped.objects_checked) == ("objects", 2)
    assert await service.latest() is None
    resumed = await service.run(RunFixity())
    assert resumed is not None
    assert resumed.pass_id == stopped.pass_id
    assert resumed.finished_at is not None
    assert (resumed.objects_checked, resumed.mismatched) == (5, 0)


async def test_a_recent_pass_makes_a_new_one_wait(harness: Harness) -> None:
    service = _service(harness)
    assert await service.due(3600)
    assert await service.run(RunFixity(not_within_s=3600)) is not None
    assert not await service.due(3600)
    assert await service.run(RunFixity(not_within_s=3600)) is None
    harness.clock.now += fixity_module.timedelta(hours=2)
    assert await service.due(3600)


async def test_the_latest_pass_is_shown_to_auditors_only(harness: Harness) -> None:
    async with harness.client("auditor") as http:
        none_yet = await http.get("/v1/fixity/latest")
    assert none_yet.status_code == 404
    await harness.add_content(b"z" * 5000)
    services = harness.app.state.services
    await services.fixity.run(RunFixity())
    async with harness.client("auditor") as http:
        latest = await http.get("/v1/fixity/latest")
    assert latest.status_code == 200
    body = latest.json()
    assert {k: body[k] for k in ("objects_checked", "mismatched", "missing", "orphaned")} == {
        "objects_checked": 1,
        "mismatched": 0,
        "missing": 0,
        "orphaned": 0,
    }
    assert (body["versioning_ok"], body["object_lock_ok"], body["ok"]) == (True, True, True)
    assert body["bucket"]["versioning"] == "Enabled"
    assert body["problems"] == []
    for role in sorted(set(TOKENS) - {"auditor"}):
        async with harness.client(role) as http:
            assert (await http.get("/v1/fixity/latest")).status_code == 403, role


class _CountingLeases(SqlLeases):
    """The catalog's leases, saying when one was refused."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.refused = asyncio.Event()

    async def acquire(self, name: str, holder: str, *, ttl_s: float, now: Any) -> bool:
        taken = await super().acquire(name, holder, ttl_s=ttl_s, now=now)
        if not taken and holder == "me":
            self.refused.set()
        return taken


async def test_the_background_job_runs_a_pass_under_its_lease_and_reports_it(
    harness: Harness,
) -> None:
    await harness.add_content(b"q" * 3000)
    reported: list[FixityPass] = []
    seen = asyncio.Event()

    def on_result(state: FixityPass) -> None:
        reported.append(state)
        seen.set()

    leases = _CountingLeases(harness.storage.db)
    # Another holder has the lease: the job waits for it rather than running beside it.
    assert await leases.acquire(FIXITY_LEASE, "other", ttl_s=60, now=harness.clock())
    job = asyncio.create_task(
        fixity_forever(
            _service(harness),
            leases,
            interval_s=3600,
            holder="me",
            clock=harness.clock,
            check_s=0.05,
            on_result=on_result,
        )
    )
    try:
        await asyncio.wait_for(leases.refused.wait(), timeout=30)
        assert reported == []
        assert await leases.release(FIXITY_LEASE, "other")
        await asyncio.wait_for(seen.wait(), timeout=30)
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
    assert reported[0].objects_checked == 1
    assert reported[0].finished_at is not None
    assert await leases.current(FIXITY_LEASE) is None  # given up after the pass
