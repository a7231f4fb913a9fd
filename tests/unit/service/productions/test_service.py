"""ProductionService on a SQLite catalog and the filesystem object store: a production is
built, signed and verifiable offline; tampering is named; a lost builder is replaced."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from keepline.commands.verify import verify_file
from keepline.root import Keepline, build
from policies.holds import criteria_from_json
from policies.policy_file import parse_policy
from service.productions.archive import LOADFILE_COLUMNS, ZipPipe, object_key
from service.productions.models import ProductionNotFoundError, ProductionNotReadyError
from service.productions.models import ProductionRequest as Request
from service.productions.service import ProductionService
from storage.errors import HoldAlreadyReleasedError, HoldNotFoundError, ObjectStoreError
from storage.models import ProductionStatus
from storage.ports import PutResult
from storage.settings import StorageSettings
from storage.sql.productions import SqlProductionStore
from tests.catalog_contract.support import add_item

POLICY = """
purposes:
  legal: {basis: legal_obligation, retention: P5Y, roles: [legal]}
rules:
  - match: {}
    purposes: [legal]
"""
RECORDING = b"RIFF" + bytes(range(256)) * 40
EMAIL = b"From: a@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
CHAT = b"agent: hello\ncustomer: my router drops the line\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def root(tmp_path: Path) -> AsyncIterator[Keepline]:
    clock = Clock()
    keepline = build(
        StorageSettings(data_dir=tmp_path, object_store="filesystem", segment_size_bytes=1024),
        clock=clock,
    )
    await keepline.prepare(parse_policy(POLICY))
    yield keepline
    await keepline.close()


def service(root: Keepline) -> ProductionService:
    assert root.productions is not None
    return root.productions


async def item(
    root: Keepline, kind: str, data: bytes | None, content_type: str, *, subject: str = "cust-1"
) -> str:
    item_id = await add_item(
        root.storage.catalog,
        item_type=kind,
        subjects=[subject],
        staff=["agent-7"],
        occurred_at=root.clock() - timedelta(days=1),
        commit=False,
    )
    stored = None
    if data is not None:
        stored = root.storage.vault.seal(
            item_id=item_id,
            chunks=iter([data]),
            content_type=content_type,
            expected_size_bytes=len(data),
            expected_sha256=None,
            tags={"kl-type": kind},
        )
    await root.storage.catalog.commit_stored(
        item_id, stored=stored, purposes=[], hold_ids=[], s3_synced=True
    )
    return item_id


async def hold(root: Keepline, subject: str = "cust-1") -> str:
    record = await root.holds.place(
        matter="acme-v-keepline",
        description="",
        criteria=criteria_from_json({"subject_ids": [subject]}),
        by="legal-user",
        at=root.clock(),
    )
    return record.hold_id


async def download(root: Keepline, production_id: str, path: Path) -> Path:
    _, chunks = await service(root).download(production_id, actor="legal-user")
    with path.open("wb") as out:
        async for chunk in chunks:
            out.write(chunk)
    return path


def flip(source: Path, member: str, target: Path) -> Path:
    """A copy of the zip with one byte of one member's stored data flipped."""
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(member)
    data = bytearray(source.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x01
    target.write_bytes(data)
    return target


async def test_a_production_holds_every_native_a_loadfile_and_verifies_offline(
    root: Keepline, tmp_path: Path
) -> None:
    call = await item(root, "call_recording", RECORDING, "audio/wav")
    mail = await item(root, "email", EMAIL, "message/rfc822")
    chat = await item(root, "chat", CHAT, "text/plain")
    bare = await item(root, "email", None, "")
    other = await item(root, "chat", CHAT, "text/plain", subject="cust-2")
    hold_id = await hold(root)

    queued = await service(root).request(Request(hold_id=hold_id, requested_by="legal-user"))
    assert (queued.status, queued.items_total) == (ProductionStatus.QUEUED, 4)
    with pytest.raises(ProductionNotReadyError):
        await service(root).download(queued.production_id, actor="legal-user")
    assert await service(root).run_pending("builder-1") == 1
    ready = await service(root).get(queued.production_id)
    assert ready.status is ProductionStatus.READY
    assert (ready.items_done, ready.items_total) == (4, 4)
    assert ready.kid == root.storage.signer.current_key_id()

    path = await download(root, ready.production_id, tmp_path / "production.zip")
    verdict = verify_file(path, root.storage.signer.public_keys())
    assert verdict.ok, verdict.problems
    assert (verdict.kind, verdict.files) == ("production", 4)  # 3 natives + loadfile.csv
    with zipfile.ZipFile(path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("loadfile.csv").decode())))
        assert tuple(rows[0]) == LOADFILE_COLUMNS
        by_item = {row["item_id"]: row for row in rows}
        assert set(by_item) == {call, mail, chat, bare}
        assert other not in by_item
        assert by_item[call]["path"].endswith(".wav")
        assert by_item[mail]["path"].endswith(".eml")
        assert by_item[chat]["path"].endswith(".txt")
        assert (by_item[bare]["path"], by_item[bare]["sha256"]) == ("", "")
        for item_id, data in ((call, RECORDING), (mail, EMAIL), (chat, CHAT)):
            row = by_item[item_id]
            assert archive.read(row["path"]) == data
            assert row["staff"] == "agent-7"
            record = await root.storage.catalog.get(item_id)
            assert record is not None
            assert record.stored is not None
            assert row["sha256"] == record.stored.content.sha256
        controls = [row["control_number"] for row in rows]
        assert controls == sorted(controls)
        assert len(set(controls)) == 4
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["details"]["hold_id"] == hold_id
    assert manifest["details"]["matter"] == "acme-v-keepline"
    assert manifest["details"]["items"] == 4


async def test_a_production_is_audited_and_sealed_like_content(
    root: Keepline, tmp_path: Path
) -> None:
    call = await item(root, "call_recording", RECORDING, "audio/wav")
    hold_id = await hold(root)
    queued = await service(root).request(Request(hold_id=hold_id, requested_by="legal-user"))
    await service(root).run_pending("builder-1")
    ready = await service(root).get(queued.production_id)
    await download(root, ready.production_id, tmp_path / "production.zip")

    requested = await root.storage.audit.query(action="production.requested")
    assert [(e.actor, e.details["production_id"]) for e in requested] == [
        ("legal-user", ready.production_id)
    ]
    produced = await root.storage.audit.query(action="production.ready")
    assert produced[0].details["item_ids"] == [call]
    downloads = await root.storage.audit.query(action="production.downloaded")
    assert [e.actor for e in downloads] == ["legal-user"]
    # The zip is sealed like any content: no plaintext in the object store.
    stored = ready.stored
    assert stored is not None
    assert stored.object_key == object_key(ready.production_id)
    ciphertext = b"".join(
        root.storage.store.get_range(
            stored.object_key, stored.version_id, offset=0, length=stored.ciphertext_size_bytes
        )
    )
    assert b"loadfile.csv" not in ciphertext
    assert RECORDING[:256] not in ciphertext


async def test_a_flipped_byte_in_a_native_or_the_manifest_is_named(
    root: Keepline, tmp_path: Path
) -> None:
    await item(root, "call_recording", RECORDING, "audio/wav")
    await item(root, "email", EMAIL, "message/rfc822")
    record = await service(root).request(Request(hold_id=await hold(root), requested_by="l"))
    await service(root).run_pending("builder-1")
    path = await download(root, record.production_id, tmp_path / "production.zip")
    keys = root.storage.signer.public_keys()
    with zipfile.ZipFile(path) as archive:
        native = next(n for n in archive.namelist() if n.endswith(".wav"))

    bad_native = verify_file(flip(path, native, tmp_path / "native.zip"), keys)
    assert not bad_native.ok
    assert len(bad_native.problems) == 1
    assert bad_native.problems[0].startswith(f"{native}: ")

    bad_manifest = verify_file(flip(path, "manifest.json", tmp_path / "manifest.zip"), keys)
    assert not bad_manifest.ok
    assert "manifest.json" in bad_manifest.problems[0]


async def test_unknown_and_released_holds_and_unknown_productions_are_refused(
    root: Keepline,
) -> None:
    with pytest.raises(HoldNotFoundError):
        await service(root).request(Request(hold_id="no-such-hold", requested_by="l"))
    hold_id = await hold(root)
    await root.holds.release(hold_id, by="legal-user", at=root.clock())
    with pytest.raises(HoldAlreadyReleasedError):
        await service(root).request(Request(hold_id=hold_id, requested_by="l"))
    with pytest.raises(ProductionNotFoundError):
        await service(root).get("no-such-production")


async def test_a_production_whose_builder_died_is_built_again_then_given_up(
    root: Keepline, tmp_path: Path
) -> None:
    await item(root, "chat", CHAT, "text/plain")
    record = await service(root).request(Request(hold_id=await hold(root), requested_by="l"))
    store = SqlProductionStore(root.storage.db)
    now = root.clock()
    # A builder claims it and dies: nobody else takes it while its claim holds.
    assert await store.claim("dead-builder", now=now, ttl_s=60, max_attempts=5) is not None
    assert await service(root).run_pending("builder-2") == 0
    running = await service(root).get(record.production_id)
    assert running.status is ProductionStatus.RUNNING
    # Once the claim runs out the next builder builds it anew.
    root.clock.now = now + timedelta(seconds=61)  # type: ignore[attr-defined]  # test clock
    assert await service(root).run_pending("builder-2") == 1
    ready = await service(root).get(record.production_id)
    assert (ready.status, ready.attempts) == (ProductionStatus.READY, 2)
    path = await download(root, record.production_id, tmp_path / "p.zip")
    assert verify_file(path, root.storage.signer.public_keys()).ok
    # The dead builder cannot overwrite what the live one finished.
    assert ready.stored is not None
    assert not await store.finish(
        record.production_id, "dead-builder", stored=ready.stored, kid="k", bytes_done=0, at=now
    )

    # A production that never gets finished is marked failed after max_attempts claims.
    second = await service(root).request(Request(hold_id=await hold(root), requested_by="l"))
    later = root.clock()
    for attempt in range(3):
        at = later + timedelta(seconds=61 * attempt)
        assert await store.claim("crashing", now=at, ttl_s=60, max_attempts=3) is not None
    assert (
        await store.claim("next", now=later + timedelta(seconds=200), ttl_s=60, max_attempts=3)
        is None
    )
    failed = await service(root).get(second.production_id)
    assert failed.status is ProductionStatus.FAILED
    assert failed.error == "not finished after 3 attempts"


class RefusingStore:
    """The filesystem store, except that uploads under productions/ fail half-way."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def put_stream(
        self,
        key: str,
        reader: BinaryIO,
        *,
        content_type: str,
        tags: Mapping[str, str],
        retain_until: datetime | None = None,
    ) -> PutResult:
        if key.startswith("productions/"):
            reader.read(1 << 20)
            raise ObjectStoreError("refused")
        result: PutResult = self._inner.put_stream(
            key, reader, content_type=content_type, tags=tags, retain_until=retain_until
        )
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_an_upload_that_fails_fails_the_production_without_hanging(
    root: Keepline, tmp_path: Path
) -> None:
    for n in range(3):
        await item(root, "call_recording", RECORDING * (n + 20), "audio/wav")
    record = await service(root).request(Request(hold_id=await hold(root), requested_by="l"))
    vault = root.storage.vault
    vault._store = RefusingStore(vault._store)  # type: ignore[assignment]  # a failing upload
    assert await service(root).run_pending("builder-1") == 0
    failed = await service(root).get(record.production_id)
    assert failed.status is ProductionStatus.FAILED
    assert failed.error is not None
    assert "ObjectStoreError" in failed.error
    entries = await root.storage.audit.query(action="production.failed")
    assert [e.details["production_id"] for e in entries] == [record.production_id]


def test_the_pipe_hands_on_pieces_as_they_are_written() -> None:
    pipe = ZipPipe()
    chunks: Iterator[bytes] = pipe.chunks()
    pipe.write(b"x" * (1 << 20))
    assert next(chunks) == b"x" * (1 << 20)
    pipe.write(b"tail")
    pipe.close()
    assert list(chunks) == [b"tail"]


async def test_a_production_is_built_in_bounded_memory(tmp_path: Path) -> None:
    keepline = build(StorageSettings(data_dir=tmp_path, object_store="filesystem"), clock=Clock())
    await keepline.prepare(parse_policy(POLICY))
    try:
        recording = os.urandom(1 << 20)
        for _ in range(48):
            await item(keepline, "call_recording", recording, "audio/wav")
        record = await service(keepline).request(
            Request(hold_id=await hold(keepline), requested_by="l")
        )
        tracemalloc.start()
        try:
            assert await service(keepline).run_pending("builder-1") == 1
            _, peak_bytes = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        ready = await service(keepline).get(record.production_id)
        assert ready.stored is not None
        assert ready.stored.content.size_bytes > 48 << 20
        # A few pieces in the pipe, a segment or two being read and sealed: never the zip.
        assert peak_bytes < 20 << 20, peak_bytes
    finally:
        await keepline.close()
