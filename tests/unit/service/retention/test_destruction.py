"""Nothing is destroyed while a request names it: a production in progress for a hold, an
open export or erasure for a subject. On a SQLite catalog and the filesystem object store,
through the composition root (the sweeper, holds, subject rights and productions as wired)."""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.presenters import item_json
from keepline.root import Keepline, build
from policies.holds import criteria_from_json
from policies.policy_file import parse_policy
from service.productions.models import ProductionRequest
from service.retention.destruction import ItemGuardedError
from service.subjects.export import SubjectExporter
from service.subjects.service import REQUEST_IN_PROGRESS
from storage.models import ItemStatus, ProductionStatus, PurposeRow, object_key_for
from storage.settings import StorageSettings
from tests.catalog_contract.support import add_item

POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: PT10S, roles: [qa, legal]}
rules:
  - match: {}
    purposes: [quality]
"""
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TEXT = b"agent: hello\ncustomer: my router drops the line\n"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def root(tmp_path: Path) -> AsyncIterator[Keepline]:
    keepline = build(
        StorageSettings(data_dir=tmp_path, object_store="filesystem", segment_size_bytes=1024),
        clock=Clock(),
    )
    await keepline.prepare(parse_policy(POLICY))
    yield keepline
    await keepline.close()


def clock(root: Keepline) -> Clock:
    assert isinstance(root.clock, Clock)
    return root.clock


async def chat(root: Keepline, subject: str = "cust-1") -> str:
    """A chat with content whose only purpose expires 10 s from now."""
    item_id = await add_item(
        root.storage.catalog, item_type="chat", subjects=[subject], occurred_at=T0, commit=False
    )
    stored = root.storage.vault.seal(
        item_id=item_id,
        chunks=iter([TEXT]),
        content_type="text/plain",
        expected_size_bytes=len(TEXT),
        expected_sha256=None,
        tags={"kl-type": "chat"},
    )
    expires = PurposeRow("quality", "legitimate_interests", T0 + timedelta(seconds=10), False)
    await root.storage.catalog.commit_stored(
        item_id, stored=stored, purposes=[expires], hold_ids=[], s3_synced=True
    )
    return item_id


async def stored(root: Keepline, item_id: str) -> bool:
    record = await root.storage.catalog.get(item_id)
    return record is not None and record.status is ItemStatus.STORED


class HeldFile(io.BytesIO):
    """An export's output that stalls at its first write until let go (a slow download)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.go = threading.Event()

    def write(self, data: bytes) -> int:  # type: ignore[override]  # BytesIO's buffer type
        self.writing.set()
        if not self.go.wait(timeout=30):
            raise TimeoutError("the test never let the export go on")
        return super().write(data)


async def stalled_export(root: Keepline, subject: str) -> tuple[asyncio.Task[object], HeldFile]:
    """An export of the subject, started and stalled while it writes."""
    out = HeldFile()
    exporter = SubjectExporter(
        rights=root.rights, vault=root.storage.vault, audit=root.storage.audit, clock=root.clock
    )
    task: asyncio.Task[object] = asyncio.create_task(
        exporter.export(subject, actor="privacy-user", out=out, present=item_json)
    )
    while not out.writing.is_set():
        assert not task.done(), task
        await asyncio.sleep(0.01)
    return task, out


async def test_a_production_in_progress_keeps_the_items_of_a_hold_released_meanwhile(
    root: Keepline,
) -> None:
    item_id = await chat(root)
    hold = await root.holds.place(
        matter="m-1",
        description="",
        criteria=criteria_from_json({"subject_ids": ["cust-1"]}),
        by="legal-user",
        at=root.clock(),
    )
    assert root.productions is not None
    production = await root.productions.request(
        ProductionRequest(hold_id=hold.hold_id, requested_by="legal-user")
    )
    await root.holds.release(hold.hold_id, by="legal-user", at=root.clock())
    clock(root).advance(11)  # its purpose expired, no hold: destroyable but for the production

    report = await root.sweeper().sweep()
    assert (report.destroyed, report.kept) == (0, 1)
    assert await stored(root, item_id)

    assert await root.productions.run_pending("builder") == 1
    ready = await root.productions.get(production.production_id)
    assert ready.status is ProductionStatus.READY
    entries = await root.storage.audit.query(action="production.ready")
    assert entries[-1].details["item_ids"] == [item_id]
    report = await root.sweeper().sweep()
    assert report.destroyed == 1
    assert not await stored(root, item_id)


async def test_an_export_in_progress_keeps_the_items_it_reads(root: Keepline) -> None:
    item_id = await chat(root)
    clock(root).advance(11)
    task, out = await stalled_export(root, "cust-1")

    report = await root.sweeper().sweep()
    assert (report.destroyed, report.kept) == (0, 1)
    assert await stored(root, item_id)

    out.go.set()
    await task
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert archive.read(f"content/{item_id}.txt") == TEXT
    report = await root.sweeper().sweep()
    assert report.destroyed == 1


async def test_an_erasure_queues_an_item_an_export_reads_and_erases_it_after(
    root: Keepline,
) -> None:
    read = await chat(root, "cust-2")
    task, out = await stalled_export(root, "cust-2")

    result = await root.rights.erasure("cust-2", actor="privacy-user")
    assert result.erased == ()
    assert [(r.item_id, r.reason) for r in result.retained] == [(read, REQUEST_IN_PROGRESS)]
    assert result.deferred == (read,)
    assert await root.rights.run_deferred_erasures(root.clock()) == 0  # the export still runs
    assert await stored(root, read)

    out.go.set()
    await task
    assert await root.rights.run_deferred_erasures(root.clock()) == 1
    assert not await stored(root, read)
    tombstone = await root.storage.catalog.tombstone(read)
    assert tombstone is not None
    assert tombstone["reason"] == "erasure"


async def test_an_erasure_destroys_what_only_its_own_guard_names(root: Keepline) -> None:
    first, second = await chat(root, "cust-3"), await chat(root, "cust-3")
    result = await root.rights.erasure("cust-3", actor="privacy-user")
    assert sorted(result.erased) == sorted([first, second])
    assert await root.storage.guards.guarded([first, second], now=root.clock()) == set()


async def test_a_guard_expires_unless_renewed_and_closing_it_frees_its_items(
    root: Keepline,
) -> None:
    item_id = await chat(root)
    guards = root.storage.guards
    now = root.clock()
    guard = await guards.open("export", [item_id], at=now, ttl_s=5)
    assert await guards.guarded([item_id], now=now) == {item_id}
    assert await guards.guarded([item_id], now=now, exempt=guard) == set()
    record = await root.storage.catalog.get(item_id)
    assert record is not None
    with pytest.raises(ItemGuardedError):
        await root.destroyer.destroy(record, reason="test", actor="t", at=now)
    await guards.renew(guard, at=now + timedelta(seconds=4), ttl_s=5)
    assert await guards.guarded([item_id], now=now + timedelta(seconds=8)) == {item_id}
    # A request whose process died stops renewing: its items are free once it expires.
    assert await guards.guarded([item_id], now=now + timedelta(seconds=10)) == set()
    await guards.close(guard)
    assert await guards.guarded([item_id], now=now) == set()


async def test_a_sweep_destroys_a_batch_in_one_transaction_and_one_bulk_delete(
    root: Keepline, monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = [await chat(root, f"cust-b{i}") for i in range(4)]
    held, guarded = await chat(root, "cust-held"), await chat(root, "cust-guarded")
    await root.holds.place(
        matter="m-2",
        description="",
        criteria=criteria_from_json({"subject_ids": ["cust-held"]}),
        by="legal-user",
        at=root.clock(),
    )
    await root.holds.settle()
    await root.storage.guards.open("export", [guarded], at=root.clock(), ttl_s=3600)
    store = root.storage.store
    deletes: list[list[str]] = []
    real_delete = store.delete_versions

    def counted(versions: list[Any], *, bypass_governance: bool) -> None:
        deletes.append(sorted(v.key for v in versions))
        real_delete(versions, bypass_governance=bypass_governance)

    monkeypatch.setattr(store, "delete_versions", counted)
    clock(root).advance(11)

    report = await root.sweeper().sweep()
    # The held item loses its expired purpose and stays; the guarded one waits.
    assert (report.destroyed, report.purposes_dropped, report.kept, report.failed) == (4, 1, 1, 0)
    assert len(deletes) == 1  # one bulk delete for the batch
    assert len(deletes[0]) == 4
    for item_id in doomed:
        assert not await stored(root, item_id)
        assert root.storage.store.versions(object_key_for(item_id)) == []
    assert await stored(root, held)
    assert await stored(root, guarded)
    assert root.storage.store.versions(object_key_for(held))
    entries = await root.storage.audit.query(action="item.destroyed")
    assert sorted(e.item_id or "" for e in entries) == sorted(doomed)
    seqs = [e.seq for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + 4))  # appended together
    assert (await root.storage.audit.verify()).ok


async def test_a_refused_version_leaves_the_rest_of_the_batch_removed(root: Keepline) -> None:
    first, second = await chat(root, "cust-r1"), await chat(root, "cust-r2")
    store = root.storage.store
    (locked,) = store.versions(object_key_for(first))
    store.set_legal_hold(object_key_for(first), locked.version_id, on=True)
    clock(root).advance(11)
    # The catalog knows of no hold on the first: its key is shredded and its ciphertext,
    # whose removal the store refuses, is left for reconcile; the second is removed.
    report = await root.sweeper().sweep()
    assert report.destroyed == 2
    assert [v.version_id for v in store.versions(object_key_for(first))] == [locked.version_id]
    assert store.versions(object_key_for(second)) == []
