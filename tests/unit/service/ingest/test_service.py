import asyncio
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

import pytest
from sqlalchemy import insert, select

from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.models import validate_artefact
from storage.crypto.cipher import HEADER_SIZE_BYTES, parse_header
from storage.errors import CatalogError, CatalogUnavailableError, ObjectStoreUnavailableError
from storage.models import ClaimCommit, ItemStatus, StoredContent, WrappedKey, object_key_for
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.ports import PutResult
from storage.sql.catalog import SqlCatalog
from storage.sql.schema import holds, items
from streams.processor import is_transient
from tests.unit.conftest import NOW, EnvFactory, IngestEnv

BY = "kafka:comms.calls"


async def _rows(env: IngestEnv) -> list[Any]:
    async with env.db.connect() as conn:
        return list((await conn.execute(select(items))).all())


def _versions(env: IngestEnv, item_id: str) -> list[str | None]:
    return [v.version_id for v in env.store.versions(object_key_for(item_id))]


async def test_call_is_encrypted_catalogued_and_worm_locked(env_factory: EnvFactory) -> None:
    env = await env_factory()
    recording = os.urandom(50_000) + b"PLAINTEXT-MARKER"
    outcome = await env.service.ingest(
        validate_artefact(env.call("e-1", recording)), submitted_by=BY
    )

    assert outcome.created
    assert outcome.size_bytes == len(recording)
    record = await env.catalog.get(outcome.item_id)
    assert record is not None
    assert record.status is ItemStatus.STORED
    assert {p.name for p in record.purposes} == {"quality", "training", "legal"}
    assert await env.plaintext(outcome.item_id) == recording
    key = object_key_for(outcome.item_id)
    raw = b"".join(env.store.get_range(key, None, offset=0, length=1 << 20))
    assert b"PLAINTEXT-MARKER" not in raw
    assert env.store.tags(key, None) == {
        "kl-type": "call_recording",
        "kl-purposes": "legal+quality+training",
    }
    legal = next(p for p in record.purposes if p.name == "legal")
    assert env.store.retention(key, None) == legal.expires_at
    assert record.s3_synced


class _CountingLockCalls(FilesystemObjectStore):
    """Counts the calls that change an object's lock state after its upload."""

    calls: ClassVar[list[str]] = []

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        self.calls.append("set_retention")
        super().set_retention(key, version_id, until=until)

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        self.calls.append("set_legal_hold")
        super().set_legal_hold(key, version_id, on=on)


@pytest.mark.parametrize(
    ("lock_at_upload", "calls"), [(True, []), (False, ["set_retention", "set_legal_hold"])]
)
async def test_the_worm_retention_comes_with_the_upload_where_the_lock_mode_allows(
    env_factory: EnvFactory, lock_at_upload: bool, calls: list[str]
) -> None:
    env = await env_factory(store_cls=_CountingLockCalls, lock_at_upload=lock_at_upload)
    _CountingLockCalls.calls = []
    outcome = await env.service.ingest(
        validate_artefact(env.call("e-lock", b"x" * 5000)), submitted_by=BY
    )
    record = await env.catalog.get(outcome.item_id)
    assert record is not None
    legal = next(p for p in record.purposes if p.name == "legal")
    assert env.store.retention(object_key_for(outcome.item_id), None) == legal.expires_at
    assert (record.s3_synced, record.s3_retain_until) == (True, legal.expires_at)
    assert _CountingLockCalls.calls == calls
    # The lock repair finds nothing to do either way.
    assert await env.catalog.unsynced_ids(after="", limit=10) == []


async def test_header_names_the_key_that_wrapped_the_data_key(env_factory: EnvFactory) -> None:
    env = await env_factory()
    env.keyring.rotate()
    outcome = await env.service.ingest(
        validate_artefact(env.chat("c-1", b"hi there")), submitted_by=BY
    )
    record = await env.catalog.get(outcome.item_id)
    assert record is not None
    assert record.stored is not None
    key = record.stored.object_key
    header = parse_header(b"".join(env.store.get_range(key, None, offset=0, length=64)))
    assert header.key_id == record.stored.key_id == "k2"
    assert WrappedKey.from_str(record.stored.wrapped_key).key_id == "k2"
    assert HEADER_SIZE_BYTES == 51


async def test_redelivery_and_republishing_never_make_a_second_item(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory()
    event = env.call("e-dup", b"abc" * 1000)
    first = await env.service.ingest(validate_artefact(event), submitted_by=BY)
    again = await env.service.ingest(validate_artefact(event), submitted_by=BY)
    # Republished with its keys in another order: the same event.
    reordered = dict(reversed(list(event.items())))
    third = await env.service.ingest(validate_artefact(reordered), submitted_by=BY)

    assert first.created
    assert not again.created
    assert not third.created
    assert again.item_id == third.item_id == first.item_id
    assert len(await _rows(env)) == 1
    assert len(_versions(env, first.item_id)) == 1


@pytest.mark.parametrize("kind", ["call", "email"])
async def test_a_republished_event_with_other_content_is_a_conflicting_duplicate(
    env_factory: EnvFactory, kind: str
) -> None:
    env = await env_factory()
    event = env.call("e-conflict", b"abc" * 1000) if kind == "call" else env.email("m-conflict")
    first = await env.service.ingest(validate_artefact(event), submitted_by=BY)
    changed = dict(event, attributes={"queue": "desk-9917"})

    with pytest.raises(BadEventError) as refused:
        await env.service.ingest(validate_artefact(changed), submitted_by=BY)

    assert refused.value.reason is DeadLetterReason.CONFLICTING_DUPLICATE
    assert first.item_id in refused.value.error
    assert "queue" not in refused.value.error
    assert "desk-9917" not in refused.value.error
    rows = await _rows(env)
    assert len(rows) == 1
    assert rows[0].event.get("attributes", {}) == event.get("attributes", {})
    # The original is still a plain duplicate of itself.
    again = await env.service.ingest(validate_artefact(event), submitted_by=BY)
    assert (again.created, again.item_id) == (False, first.item_id)


async def test_items_stored_without_a_fingerprint_take_any_republished_event_as_a_duplicate(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory()
    event = env.email("m-old")
    first = await env.service.ingest(validate_artefact(event), submitted_by=BY)
    async with env.db.begin() as conn:  # as an item stored before revision 0010
        await conn.execute(items.update().values(event_sha256=None))
    changed = dict(event, attributes={"queue": "other"})
    again = await env.service.ingest(validate_artefact(changed), submitted_by=BY)
    assert (again.created, again.item_id) == (False, first.item_id)


async def test_concurrent_copies_of_one_event_store_one_item(env_factory: EnvFactory) -> None:
    env = await env_factory()
    event = validate_artefact(env.call("e-race", os.urandom(20_000)))
    outcomes = await asyncio.gather(*(env.service.ingest(event, submitted_by=BY) for _ in range(5)))

    assert sum(o.created for o in outcomes) == 1
    assert len({o.item_id for o in outcomes}) == 1
    assert len(await _rows(env)) == 1
    assert len(_versions(env, outcomes[0].item_id)) == 1
    # The per-event locks are gone once nobody holds or waits for them.
    assert len(env.service._locks) == 0


async def test_a_claim_left_by_a_crash_is_resumed_and_its_orphan_dropped(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory()
    recording = os.urandom(30_000)
    event = validate_artefact(env.call("e-crash", recording))
    policy = await env.policies.active()
    # What a worker killed between upload and commit leaves: a pending claim, an upload.
    claim = await env.catalog.claim(
        source=event.source,
        event_id=event.event_id,
        item_type=event.type,
        occurred_at=event.occurred_at,
        ingested_at=NOW,
        policy_version=policy.version,
        event=event.metadata(),
        parties=[],
        attributes={},
    )
    orphan = env.vault.seal(
        item_id=claim.item_id,
        chunks=iter([recording]),
        content_type="audio/wav",
        expected_size_bytes=None,
        expected_sha256=None,
        tags={},
    )
    assert _versions(env, claim.item_id) == [orphan.version_id]

    outcome = await env.service.ingest(event, submitted_by=BY)

    assert outcome.created
    assert outcome.item_id == claim.item_id
    versions = _versions(env, claim.item_id)
    assert len(versions) == 1
    assert versions != [orphan.version_id]
    assert await env.plaintext(claim.item_id) == recording


class _CatalogDownAtCommit(SqlCatalog):
    """The catalog connection drops once, after the upload, at the commit."""

    failures = 1

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> list[bool]:
        if self.failures:
            self.failures -= 1
            raise CatalogUnavailableError("catalog unavailable", code="08006")
        return await super().commit_claimed_many(commits)


async def test_catalog_outage_mid_ingest_resumes_cleanly(env_factory: EnvFactory) -> None:
    env = await env_factory(catalog_cls=_CatalogDownAtCommit)
    recording = os.urandom(25_000)
    event = validate_artefact(env.call("e-outage", recording))

    with pytest.raises(CatalogUnavailableError) as failed:
        await env.service.ingest(event, submitted_by=BY)
    assert is_transient(failed.value)
    rows = await _rows(env)
    assert [r.status for r in rows] == [ItemStatus.PENDING.value]
    assert len(_versions(env, rows[0].item_id)) == 1  # uploaded, not committed

    outcome = await env.service.ingest(event, submitted_by=BY)  # the processor's retry
    assert outcome.created
    assert outcome.item_id == rows[0].item_id
    assert [r.status for r in await _rows(env)] == [ItemStatus.STORED.value]
    assert len(_versions(env, outcome.item_id)) == 1
    assert await env.plaintext(outcome.item_id) == recording


class _LosesTheRace(SqlCatalog):
    """Another worker's attempt at the same event commits first."""

    competitor: StoredContent | None = None
    vault: Any = None

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> list[bool]:
        if self.competitor is None:
            (commit,) = commits
            self.competitor = self.vault.seal(
                item_id=commit.item_id,
                chunks=iter([b"the other worker's upload"]),
                content_type="audio/wav",
                expected_size_bytes=None,
                expected_sha256=None,
                tags={},
            )
            theirs = replace(commit, stored=self.competitor, s3_retain_until=None)
            assert await super().commit_claimed_many([theirs]) == [True]
        return await super().commit_claimed_many(commits)


@pytest.mark.parametrize("lock_at_upload", [False, True])
async def test_an_attempt_that_loses_the_commit_drops_only_its_own_upload(
    env_factory: EnvFactory, lock_at_upload: bool
) -> None:
    # Retained from its upload on or not, the losing upload is dropped.
    env = await env_factory(catalog_cls=_LosesTheRace, lock_at_upload=lock_at_upload)
    catalog = env.catalog
    assert isinstance(catalog, _LosesTheRace)
    catalog.vault = env.vault
    outcome = await env.service.ingest(
        validate_artefact(env.call("e-lost", b"mine" * 100)), submitted_by=BY
    )

    assert not outcome.created
    assert catalog.competitor is not None
    assert _versions(env, outcome.item_id) == [catalog.competitor.version_id]
    assert await env.plaintext(outcome.item_id) == b"the other worker's upload"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sha256": "0" * 64}, DeadLetterReason.CHECKSUM_MISMATCH),
        ({"size_bytes": 10}, DeadLetterReason.SIZE_MISMATCH),
        ({"size_bytes": 10_000_000}, DeadLetterReason.SIZE_MISMATCH),
        # Outside KEEPLINE_FILE_URI_ROOT: refused whether or not it exists.
        ({"uri": "file:///nonexistent/keepline/recording.wav"}, DeadLetterReason.CONTENT_FORBIDDEN),
    ],
)
async def test_bad_content_frees_the_claim_and_leaves_nothing(
    env_factory: EnvFactory, change: dict[str, Any], reason: DeadLetterReason
) -> None:
    env = await env_factory()
    recording = os.urandom(40_000)
    event = env.call("e-bad", recording)
    event["content"].update(change)

    with pytest.raises(BadEventError) as refused:
        await env.service.ingest(validate_artefact(event), submitted_by=BY)
    assert refused.value.reason is reason
    assert await _rows(env) == []
    assert list(env.store.list_keys("items/")) == []

    corrected = await env.service.ingest(
        validate_artefact(env.call("e-bad", recording)), submitted_by=BY
    )
    assert corrected.created
    assert await env.plaintext(corrected.item_id) == recording


async def test_file_uris_are_refused_unless_enabled(env_factory: EnvFactory) -> None:
    env = await env_factory(allow_file_uris=False)
    with pytest.raises(BadEventError) as refused:
        await env.service.ingest(validate_artefact(env.call("e-file", b"x")), submitted_by=BY)
    assert refused.value.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert await _rows(env) == []


async def test_content_events_are_claimed_and_committed_in_batches(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory(uploads=4)
    events = [validate_artefact(env.chat(f"c-{i}", f"hello {i}".encode())) for i in range(40)]
    outcomes = await asyncio.gather(
        *(env.service.ingest(e, submitted_by=BY) for e in [*events, *events[:5]])
    )
    assert sum(o.created for o in outcomes) == 40
    # The claims arrive together (the uploads, and so the commits, finish as they may).
    claims, _commits = env.service.content_batches
    assert claims < 20
    rows = await _rows(env)
    assert len(rows) == 40
    assert {r.status for r in rows} == {ItemStatus.STORED.value}
    for outcome, event in zip(outcomes, events, strict=False):
        assert await env.plaintext(outcome.item_id) == event.content_inline.data()  # type: ignore[union-attr]
        assert len(_versions(env, outcome.item_id)) == 1


class _OneCommitFailsForGood(SqlCatalog):
    """The commit of one chosen item fails, for good, whatever batch it is in."""

    poisoned: str | None = None

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> list[bool]:
        if self.poisoned is None:
            self.poisoned = commits[0].item_id
        if any(c.item_id == self.poisoned for c in commits):
            raise CatalogError("a constraint the commit breaks")
        return await super().commit_claimed_many(commits)


async def test_a_commit_that_fails_for_good_fails_only_its_own_event(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory(catalog_cls=_OneCommitFailsForGood, uploads=8)
    events = [validate_artefact(env.chat(f"p-{i}", f"text {i}".encode())) for i in range(8)]
    results = await asyncio.gather(
        *(env.service.ingest(e, submitted_by=BY) for e in events), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1
    assert isinstance(failed[0], CatalogError)
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.created) == 7


async def test_metadata_only_events_are_written_in_batches(env_factory: EnvFactory) -> None:
    env = await env_factory()
    events = [validate_artefact(env.email(f"m-{i}")) for i in range(60)]
    copies = events[:10]
    outcomes = await asyncio.gather(
        *(env.service.ingest(e, submitted_by=BY) for e in [*events, *copies])
    )

    assert sum(o.created for o in outcomes) == 60
    assert env.service.metadata_batches < 20
    rows = await _rows(env)
    assert len(rows) == 60
    assert {r.status for r in rows} == {ItemStatus.STORED.value}
    assert all(r.object_key is None for r in rows)
    record = await env.catalog.get(outcomes[0].item_id)
    assert record is not None
    assert [p.name for p in record.purposes] == ["legal"]
    assert record.event["message_id"] == "<20261121.4711@mail.example.co.uk>"


async def test_a_standing_hold_covers_new_items_and_flags_the_object(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory()
    hold_id = str(uuid.uuid4())
    async with env.db.begin() as conn:
        await conn.execute(
            insert(holds).values(
                hold_id=hold_id,
                matter="M-1",
                description="",
                criteria={"subject_ids": ["cust-42"]},
                created_by="legal-user",
                created_at=NOW,
            )
        )
    call = await env.service.ingest(
        validate_artefact(env.call("e-held", b"held" * 10)), submitted_by=BY
    )
    mail = await env.service.ingest(validate_artefact(env.email("m-held")), submitted_by=BY)

    for outcome in (call, mail):
        record = await env.catalog.get(outcome.item_id)
        assert record is not None
        assert record.hold_ids == (hold_id,)
    assert env.store.legal_hold(object_key_for(call.item_id), None)


async def test_uploads_are_bounded(env_factory: EnvFactory) -> None:
    env = await env_factory(uploads=2)
    active = 0
    peak = 0
    original = env.vault.seal

    def counting_seal(**kwargs: Any) -> StoredContent:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            return original(**kwargs)
        finally:
            active -= 1

    env.vault.seal = counting_seal  # type: ignore[method-assign]  # observe concurrency
    events: Sequence[Any] = [
        validate_artefact(env.call(f"e-b{i}", os.urandom(200_000))) for i in range(8)
    ]
    outcomes = await asyncio.gather(*(env.service.ingest(e, submitted_by=BY) for e in events))
    assert all(o.created for o in outcomes)
    assert peak <= 2


class _DownStore(FilesystemObjectStore):
    """An object store that is down until told otherwise."""

    down = True

    def ping(self) -> None:
        if self.down:
            raise ObjectStoreUnavailableError("ConnectionRefused")
        super().ping()

    def put_stream(self, key: str, reader: BinaryIO, **kwargs: Any) -> PutResult:
        if self.down:
            raise ObjectStoreUnavailableError("ConnectionRefused")
        return super().put_stream(key, reader, **kwargs)


async def test_retries_during_a_store_outage_do_not_fetch_the_content_again(
    env_factory: EnvFactory,
) -> None:
    env = await env_factory(store_cls=_DownStore)
    opened: list[str] = []
    original = env.fetcher.open

    def counting_open(uri: str, *, size_bytes: int | None = None) -> Iterator[bytes]:
        opened.append(uri)
        return original(uri, size_bytes=size_bytes)

    env.fetcher.open = counting_open  # type: ignore[method-assign]  # observe fetches
    recording = os.urandom(10_000)
    event = validate_artefact(env.call("e-down", recording))
    for _ in range(3):
        with pytest.raises(ObjectStoreUnavailableError):
            await env.service.ingest(event, submitted_by=BY)
    assert len(opened) == 1

    assert isinstance(env.store, _DownStore)
    env.store.down = False
    outcome = await env.service.ingest(event, submitted_by=BY)
    assert outcome.created
    assert len(opened) == 2
    assert await env.plaintext(outcome.item_id) == recording


async def _place_hold(catalog: SqlCatalog, hold_id: str) -> None:
    async with catalog.db.begin() as conn:
        await conn.execute(
            insert(holds).values(
                hold_id=hold_id,
                matter="M-late",
                description="",
                criteria={"subject_ids": ["cust-42"]},
                created_by="legal-user",
                created_at=NOW,
            )
        )


class _HoldPlacedDuringIngest(SqlCatalog):
    """A hold is placed after ingest read the holds, before its commit."""

    placed: str | None = None

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> list[bool]:
        await self._place()
        return await super().commit_claimed_many(commits)

    async def insert_stored_many(self, entries: Any) -> Any:
        await self._place()
        return await super().insert_stored_many(entries)

    async def _place(self) -> None:
        if self.placed is None:
            self.placed = str(uuid.uuid4())
            await _place_hold(self, self.placed)


@pytest.mark.parametrize("kind", ["call", "email"])
async def test_a_hold_placed_while_the_item_is_pending_still_covers_it(
    env_factory: EnvFactory, kind: str
) -> None:
    env = await env_factory(catalog_cls=_HoldPlacedDuringIngest)
    event = env.call("e-late", b"late" * 50) if kind == "call" else env.email("m-late")
    outcome = await env.service.ingest(validate_artefact(event), submitted_by=BY)

    catalog = env.catalog
    assert isinstance(catalog, _HoldPlacedDuringIngest)
    record = await env.catalog.get(outcome.item_id)
    assert record is not None
    assert record.hold_ids == (catalog.placed,)
    if kind == "call":
        assert env.store.legal_hold(object_key_for(outcome.item_id), None)
        assert record.s3_legal_hold
        assert record.s3_synced


async def test_each_stored_item_is_told_with_its_subjects_redeliveries_as_such(
    env_factory: EnvFactory,
) -> None:
    told: list[tuple[str, frozenset[str], bool]] = []

    async def after_stored(arrivals: Sequence[tuple[str, frozenset[str], bool]]) -> None:
        told.extend(arrivals)

    env = await env_factory(after_stored=after_stored)
    call = validate_artefact(env.call("e-told", b"abc" * 100))
    mail = validate_artefact(env.email("m-told"))
    stored = await env.service.ingest(call, submitted_by=BY)
    listed = await env.service.ingest(mail, submitted_by=BY)
    await env.service.ingest(call, submitted_by=BY)  # redelivered
    await env.service.ingest(mail, submitted_by=BY)

    assert call.subject_ids()
    assert mail.subject_ids()
    assert told == [
        (stored.item_id, frozenset(call.subject_ids()), True),
        (listed.item_id, frozenset(mail.subject_ids()), True),
        (stored.item_id, frozenset(call.subject_ids()), False),
        (listed.item_id, frozenset(mail.subject_ids()), False),
    ]
