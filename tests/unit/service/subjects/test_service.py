"""SubjectRightsService on a real SQLite catalog and the filesystem object store."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from api.presenters import item_json
from policies.models import ArtefactType
from policies.policy_file import parse_policy
from policies.retention import purposes_at_ingest
from service.errors import InvalidRequestError
from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.models import ConsentEvent, validate_consent
from service.retention.destruction import ItemDestroyer
from service.retention.locks import ObjectLockSync
from service.subjects.consent import ConsentService
from service.subjects.export import SubjectExporter
from service.subjects.service import SubjectRightsService
from storage.crypto.cipher import AesGcmSegmentCipher
from storage.crypto.keyring import InMemoryKeyRing
from storage.crypto.vault import ContentVault
from storage.models import Change, ItemQuery, PartyRow, PurposeRow, object_key_for
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.ports import ObjectVersion
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.policies import SqlPolicyStore
from storage.sql.schema import deferred_erasures, hold_items, holds, tombstones
from storage.sql.subjects import SqlSubjectStore
from tests.catalog_templates import migrated_sqlite

POLICY = """
reader_roles: [marketing]
purposes:
  quality:   {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  training:  {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:     {basis: legal_obligation,     retention: P5Y,  roles: [legal], worm: true}
  marketing: {basis: consent,              retention: P2Y,  roles: [marketing]}
rules:
  - match: {type: call_recording, attributes: {queue: sales}}
    purposes: [quality, training, legal, marketing]
  - match: {type: call_recording}
    purposes: [quality, training]
  - match: {type: chat}
    purposes: [quality, legal]
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    db: Database
    catalog: SqlCatalog
    subjects: SqlSubjectStore
    audit: SqlAuditLog
    policies: SqlPolicyStore
    store: FilesystemObjectStore
    vault: ContentVault
    lock_sync: ObjectLockSync
    rights: SubjectRightsService
    clock: Clock

    async def add_item(
        self,
        *,
        subject_ids: tuple[str, ...] = ("cust-1",),
        item_type: str = "call_recording",
        attributes: dict[str, str] | None = None,
        content: bytes | None = b"RIFF recording bytes",
        content_type: str = "audio/wav",
    ) -> str:
        attributes = attributes or {}
        occurred_at = self.clock.now - timedelta(days=1)
        policy = await self.policies.active()
        parties = [PartyRow(f"+4477009{n:05d}", s, None) for n, s in enumerate(subject_ids)]
        claim = await self.catalog.claim(
            source="pbx",
            event_id=uuid.uuid4().hex,
            item_type=item_type,
            occurred_at=occurred_at,
            ingested_at=self.clock.now,
            policy_version=policy.version,
            event={
                "type": item_type,
                "parties": [{"address": p.address, "subject_id": p.subject_id} for p in parties],
                "attributes": attributes,
            },
            parties=parties,
            attributes=attributes,
        )
        states = purposes_at_ingest(
            item_type=ArtefactType(item_type),
            attributes=attributes,
            occurred_at=occurred_at,
            subject_ids=frozenset(subject_ids),
            policy=policy,
            consents=await self.catalog.standing_consents(subject_ids),
            objections=await self.subjects.objections(subject_ids),
        )
        stored = None
        if content is not None:
            stored = self.vault.seal(
                item_id=claim.item_id,
                chunks=iter([content]),
                content_type=content_type,
                expected_size_bytes=len(content),
                expected_sha256=None,
                tags={"kl-type": item_type},
            )
        held = [
            hold_id
            for hold_id, _matter, criteria in await self.catalog.active_hold_criteria()
            if attributes.get("desk") in criteria.get("attributes", {}).get("desk", [])
        ]
        await self.catalog.commit_stored(
            claim.item_id,
            stored=stored,
            purposes=[PurposeRow(s.name, s.basis.value, s.expires_at, s.worm) for s in states],
            hold_ids=held,
            s3_synced=False,
        )
        record = await self.catalog.get(claim.item_id)
        assert record is not None
        await self.lock_sync.sync(record, self.clock.now)
        return claim.item_id

    async def place_hold(self, matter: str, desk: str) -> str:
        hold_id = str(uuid.uuid4())
        async with self.db.begin() as conn:
            await conn.execute(
                insert(holds).values(
                    hold_id=hold_id,
                    matter=matter,
                    description="",
                    criteria={"attributes": {"desk": [desk]}},
                    created_by="legal-user",
                    created_at=self.clock.now,
                )
            )
        return hold_id

    async def cover(self, hold_id: str, item_id: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(insert(hold_items).values(hold_id=hold_id, item_id=item_id))

    async def release(self, hold_id: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(holds).where(holds.c.hold_id == hold_id).values(released_at=self.clock.now)
            )

    async def purposes(self, item_id: str) -> set[str]:
        record = await self.catalog.get(item_id)
        assert record is not None
        return {p.name for p in record.purposes}

    def versions(self, item_id: str) -> list[ObjectVersion]:
        return self.store.versions(object_key_for(item_id))

    def tags(self, item_id: str) -> dict[str, str]:
        return self.store.tags(object_key_for(item_id), self.versions(item_id)[0].version_id)

    def legal_hold(self, item_id: str) -> bool:
        return self.store.legal_hold(object_key_for(item_id), self.versions(item_id)[0].version_id)


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await db.create_schema()
    clock = Clock()
    catalog = SqlCatalog(db)
    audit = SqlAuditLog(db)
    policies = SqlPolicyStore(db, cache_ttl_s=0)
    await policies.bootstrap(parse_policy(POLICY), at=clock.now)
    store = FilesystemObjectStore(tmp_path / "bucket")
    store.ensure_bucket()
    vault = ContentVault(store, InMemoryKeyRing(), AesGcmSegmentCipher(64))
    lock_sync = ObjectLockSync(catalog, store)
    subjects = SqlSubjectStore(db)
    rights = SubjectRightsService(
        catalog=catalog,
        subjects=subjects,
        policies=policies,
        audit=audit,
        destroyer=ItemDestroyer(catalog, store, audit),
        lock_sync=lock_sync,
        store=store,
        clock=clock,
    )
    yield Env(db, catalog, subjects, audit, policies, store, vault, lock_sync, rights, clock)
    await db.dispose()


async def test_withdrawal_takes_the_consent_purpose_off_that_subjects_items_only(env: Env) -> None:
    for subject in ("cust-1", "cust-2"):
        await env.rights.consent(subject, "marketing", granted=True, actor="privacy-user")
    mine = await env.add_item(attributes={"queue": "sales"})
    theirs = await env.add_item(subject_ids=("cust-2",), attributes={"queue": "sales"})
    assert "marketing" in await env.purposes(mine)

    result = await env.rights.consent("cust-1", "marketing", granted=False, actor="privacy-user")

    assert result.change is Change.CHANGED
    assert result.items_changed == (mine,)
    assert await env.purposes(mine) == {"quality", "training", "legal"}
    assert "marketing" in await env.purposes(theirs)
    assert (await env.catalog.standing_consents(["cust-1"]))["cust-1"] == frozenset()
    assert (await env.subjects.removed_purposes([mine]))[mine] == frozenset({"marketing"})
    assert env.tags(mine)["kl-purposes"] == "legal+quality+training"
    entries = await env.audit.query(action="consent.changed")
    assert entries[-1].actor == "privacy-user"
    assert entries[-1].details["items_changed"] == [mine]
    assert entries[-1].details["granted"] is False
    # A later item of the subject no longer gets the purpose.
    later = await env.add_item(attributes={"queue": "sales"})
    assert "marketing" not in await env.purposes(later)


async def test_withdrawal_on_a_held_item_removes_the_purpose_and_keeps_the_item(
    env: Env,
) -> None:
    await env.rights.consent("cust-1", "marketing", granted=True, actor="privacy-user")
    hold_id = await env.place_hold("m-1", "fx")
    item = await env.add_item(attributes={"queue": "sales", "desk": "fx"})
    await env.rights.consent("cust-1", "marketing", granted=False, actor="privacy-user")
    record = await env.catalog.get(item)
    assert record is not None
    assert record.hold_ids == (hold_id,)
    assert "marketing" not in {p.name for p in record.purposes}
    assert env.legal_hold(item) is True


async def test_objection_to_all_removes_legitimate_interests_and_stands(env: Env) -> None:
    chat = await env.add_item(item_type="chat", content_type="text/plain")
    call = await env.add_item()

    result = await env.rights.objection("cust-1", None, actor="privacy-user")

    assert set(result.items_changed) == {chat, call}
    assert await env.purposes(chat) == {"legal"}
    assert await env.purposes(call) == set()
    assert await env.subjects.objections(["cust-1", "cust-9"]) == {"cust-1": None}
    later = await env.add_item(item_type="chat", content_type="text/plain")
    assert await env.purposes(later) == {"legal"}
    entry = (await env.audit.query(action="objection.recorded"))[-1]
    assert entry.details["purposes"] is None
    assert set(entry.details["items_changed"]) == {chat, call}


async def test_objection_to_named_purposes_reports_those_it_cannot_remove(env: Env) -> None:
    chat = await env.add_item(item_type="chat", content_type="text/plain")
    call = await env.add_item()

    result = await env.rights.objection("cust-1", ["training", "legal"], actor="privacy-user")

    assert result.ignored == ("legal",)
    assert result.items_changed == (call,)
    assert await env.purposes(call) == {"quality"}
    assert await env.purposes(chat) == {"quality", "legal"}
    assert await env.subjects.objections(["cust-1"]) == {"cust-1": frozenset({"training", "legal"})}


async def test_restriction_hides_items_from_filtered_lists_until_lifted(env: Env) -> None:
    item = await env.add_item()
    hidden = ItemQuery(exclude_restricted=True)

    first = await env.rights.restriction("cust-1", restricted=True, actor="privacy-user")
    again = await env.rights.restriction("cust-1", restricted=True, actor="privacy-user")

    assert (first.change, again.change) == (Change.CHANGED, Change.UNCHANGED)
    record = await env.catalog.get(item)
    assert record is not None
    assert record.restricted is True
    assert (await env.catalog.list(hidden)).items == ()
    assert [r.item_id for r in (await env.catalog.list(ItemQuery())).items] == [item]

    lifted = await env.rights.restriction("cust-1", restricted=False, actor="privacy-user")
    assert lifted.change is Change.CHANGED
    assert [r.item_id for r in (await env.catalog.list(hidden)).items] == [item]
    actions = [e.details["restricted"] for e in await env.audit.query(action="restriction.changed")]
    assert actions == [True, True, False]


async def test_erasure_answers_each_item_with_its_reason(env: Env) -> None:
    chat = await env.add_item(item_type="chat", content_type="text/plain")
    plain = await env.add_item()
    hold_id = await env.place_hold("acme-v-keepline", "fx")
    held = await env.add_item(attributes={"desk": "fx"})
    other = await env.add_item(subject_ids=("cust-2",))

    result = await env.rights.erasure("cust-1", actor="privacy-user")

    assert result.erased == (plain,)
    retained = {r.item_id: (r.reason, r.deferred) for r in result.retained}
    assert retained == {
        chat: ("legal_obligation:legal", False),
        held: ("legal_hold:acme-v-keepline", True),
    }
    # Each retained item says which purposes the request took off and which it keeps.
    changed = {r.item_id: (r.dropped_purposes, r.kept_purposes) for r in result.retained}
    assert changed == {chat: (("quality",), ("legal",)), held: (("quality", "training"), ())}
    answered = {r["item_id"]: r for r in result.as_record()["retained"]}
    assert answered[chat] == {
        "item_id": chat,
        "reason": "legal_obligation:legal",
        "dropped_purposes": ["quality"],
        "kept_purposes": ["legal"],
    }
    # Erased: no object version, no catalog row but the tombstone.
    assert await env.catalog.get(plain) is None
    assert env.versions(plain) == []
    assert (await env.catalog.tombstone(plain) or {})["reason"] == "erasure"
    # Retained: only what the reason needs; the held one keeps its object and S3 hold.
    assert await env.purposes(chat) == {"legal"}
    assert await env.purposes(held) == set()
    assert env.legal_hold(held) is True
    assert await env.purposes(other) == {"quality", "training"}
    # Recorded: who asked, the answer, and the queue.
    request = await env.subjects.erasure_request(result.request_id)
    assert request is not None
    assert request["requested_by"] == "privacy-user"
    assert request["outcome"]["erased"] == [plain]
    assert {r["reason"] for r in request["outcome"]["retained"]} == {
        "legal_obligation:legal",
        "legal_hold:acme-v-keepline",
    }
    assert [e.item_id for e in await env.subjects.pending_deferred()] == [held]
    entry = (await env.audit.query(action="erasure.requested"))[-1]
    assert entry.actor == "privacy-user"
    assert entry.details["erased"] == [plain]
    destroyed = await env.audit.query(action="item.destroyed")
    assert [(e.item_id, e.details["reason"]) for e in destroyed] == [(plain, "erasure")]
    held_record = await env.catalog.get(held)
    assert held_record is not None
    assert held_record.hold_ids == (hold_id,)


async def test_an_item_the_catalog_lists_under_a_hold_survives_erasure(env: Env) -> None:
    # The hold's criteria do not match the item, but the catalog says it is covered.
    hold_id = await env.place_hold("matter-z", "rates")
    item = await env.add_item()
    await env.cover(hold_id, item)

    result = await env.rights.erasure("cust-1", actor="privacy-user")

    assert result.erased == ()
    assert [(r.item_id, r.reason) for r in result.retained] == [(item, "legal_hold:matter-z")]
    assert await env.catalog.get(item) is not None
    assert env.versions(item) != []


async def test_deferred_erasure_runs_when_the_last_covering_hold_is_released(env: Env) -> None:
    first = await env.place_hold("matter-a", "fx")
    second = await env.place_hold("matter-b", "fx")
    item = await env.add_item(attributes={"desk": "fx"})
    result = await env.rights.erasure("cust-1", actor="privacy-user")
    assert result.deferred == (item,)
    # Either matter is a true answer; the one with the smaller hold id is named.
    assert [r.item_id for r in result.retained] == [item]
    assert result.retained[0].reason in {"legal_hold:matter-a", "legal_hold:matter-b"}

    await env.release(first)
    assert await env.rights.run_deferred_erasures(env.clock.now) == 0
    assert await env.catalog.get(item) is not None

    await env.release(second)
    env.clock.now += timedelta(minutes=1)
    assert await env.rights.run_deferred_erasures(env.clock.now) == 1
    assert await env.catalog.get(item) is None
    assert env.versions(item) == []
    assert (await env.catalog.tombstone(item) or {})["reason"] == "erasure"
    assert await env.rights.run_deferred_erasures(env.clock.now) == 0
    async with env.db.connect() as conn:
        done = (await conn.execute(select(deferred_erasures.c.done_at))).scalars().all()
        reasons = (await conn.execute(select(tombstones.c.reason))).scalars().all()
    assert done == [env.clock.now]
    assert reasons == ["erasure"]
    completed = await env.audit.query(action="erasure.completed")
    assert [(e.item_id, e.details["request_id"]) for e in completed] == [(item, result.request_id)]


async def test_an_erasure_stands_for_items_that_arrive_after_it(env: Env) -> None:
    result = await env.rights.erasure("cust-1", actor="privacy-user")
    assert (result.erased, result.retained) == ((), ())
    hold_id = await env.place_hold("matter-late", "fx")
    late = await env.add_item()
    late_chat = await env.add_item(item_type="chat", content_type="text/plain")
    late_held = await env.add_item(attributes={"desk": "fx"})
    other = await env.add_item(subject_ids=("cust-2",))
    env.clock.now += timedelta(minutes=1)
    arrivals = [
        (item, frozenset({subject}), True)
        for item, subject in (
            (late, "cust-1"),
            (late_chat, "cust-1"),
            (late_held, "cust-1"),
            (other, "cust-2"),
        )
    ]

    assert await env.rights.erase_on_arrival(arrivals) == 1

    # Erased like the request's own items; the exemptions still apply.
    assert await env.catalog.get(late) is None
    assert env.versions(late) == []
    assert (await env.catalog.tombstone(late) or {})["reason"] == "erasure"
    assert await env.purposes(late_chat) == {"legal"}
    assert await env.purposes(late_held) == set()
    assert [e.item_id for e in await env.subjects.pending_deferred()] == [late_held]
    assert await env.purposes(other) == {"quality", "training"}
    completed = await env.audit.query(action="erasure.completed")
    assert {e.item_id: e.details["erased"] for e in completed} == {
        late: True,
        late_chat: False,
        late_held: False,
    }
    assert {e.details["request_id"] for e in completed} == {result.request_id}
    # A redelivered event is answered again without a second record.
    again = [(item, subjects, False) for item, subjects, _new in arrivals]
    assert await env.rights.erase_on_arrival(again) == 0
    assert len(await env.audit.query(action="erasure.completed")) == 3
    # Once the hold goes, the late held item goes the way of the request's deferred items.
    await env.release(hold_id)
    assert await env.rights.run_deferred_erasures(env.clock.now) == 1
    assert await env.catalog.get(late_held) is None


async def test_without_an_erasure_on_file_arrivals_are_left_alone(env: Env) -> None:
    item = await env.add_item()
    assert await env.rights.erase_on_arrival([(item, frozenset({"cust-1"}), True)]) == 0
    assert await env.purposes(item) == {"quality", "training"}
    assert await env.audit.query(action="erasure.completed") == []


async def test_export_holds_items_json_and_each_decrypted_artefact(env: Env) -> None:
    recording = b"RIFF" + bytes(range(256)) * 3
    call = await env.add_item(content=recording)
    metadata_only = await env.add_item(item_type="chat", content=None)
    await env.add_item(subject_ids=("cust-2",))
    await env.rights.restriction("cust-1", restricted=True, actor="privacy-user")
    exporter = SubjectExporter(rights=env.rights, vault=env.vault, audit=env.audit, clock=env.clock)
    out = io.BytesIO()

    result = await exporter.export("cust-1", actor="privacy-user", out=out, present=item_json)

    assert set(result.item_ids) == {call, metadata_only}
    assert result.content_item_ids == (call,)
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert sorted(archive.namelist()) == ["content/" + call + ".wav", "items.json"]
    assert archive.read(f"content/{call}.wav") == recording
    document = json.loads(archive.read("items.json"))
    assert document["format"] == "keepline.subject-export/1"
    assert document["subject"]["restricted"] is True
    by_id = {item["item_id"]: item for item in document["items"]}
    assert by_id[call]["content_file"] == f"content/{call}.wav"
    assert by_id[call]["content"]["size_bytes"] == len(recording)
    assert by_id[metadata_only]["content_file"] is None
    entry = (await env.audit.query(action="export"))[-1]
    assert entry.actor == "privacy-user"
    assert set(entry.details["item_ids"]) == {call, metadata_only}


async def test_consent_events_apply_through_the_service_and_repeat_harmlessly(env: Env) -> None:
    service = ConsentService(env.rights)

    def event(action: str, purpose: str | None = None) -> ConsentEvent:
        return ConsentEvent(
            event_id=uuid.uuid4().hex,
            source="crm",
            occurred_at=env.clock.now,
            subject_id="cust-1",
            action=action,
            purpose=purpose,
        )

    await service.apply(event("grant", "marketing"))
    item = await env.add_item(attributes={"queue": "sales"})
    assert "marketing" in await env.purposes(item)
    withdraw = event("withdraw", "marketing")
    await service.apply(withdraw)
    await service.apply(withdraw)
    assert await env.purposes(item) == {"quality", "training", "legal"}
    await service.apply(event("object", "quality"))
    assert await env.purposes(item) == {"training", "legal"}
    await service.apply(event("restrict"))
    assert await env.subjects.is_restricted("cust-1")
    await service.apply(event("unrestrict"))
    assert not await env.subjects.is_restricted("cust-1")
    actors = {e.actor for e in await env.audit.query(action="consent.changed")}
    assert actors == {"event:crm"}


async def test_a_crm_unrestrict_never_lifts_a_restriction_set_through_the_api(env: Env) -> None:
    service = ConsentService(env.rights)

    def event(action: str) -> ConsentEvent:
        return ConsentEvent(
            event_id=uuid.uuid4().hex,
            source="crm",
            occurred_at=env.clock.now,
            subject_id="cust-1",
            action=action,
            purpose=None,
        )

    await env.rights.restriction("cust-1", restricted=True, actor="privacy-user")
    await service.apply(event("unrestrict"))
    assert await env.subjects.is_restricted("cust-1")
    entry = (await env.audit.query(action="restriction.changed"))[-1]
    assert entry.actor == "event:crm"
    assert (entry.details["changed"], "kept" in entry.details) == (False, True)
    lifted = await env.rights.restriction("cust-1", restricted=False, actor="privacy-user")
    assert (lifted.restricted, lifted.change is Change.CHANGED) == (False, True)
    # A restriction the CRM set, the CRM lifts.
    await service.apply(event("restrict"))
    await service.apply(event("unrestrict"))
    assert not await env.subjects.is_restricted("cust-1")


async def test_deferred_erasure_pages_past_items_that_are_still_held(env: Env) -> None:
    rights = SubjectRightsService(
        catalog=env.catalog,
        subjects=env.subjects,
        policies=env.policies,
        audit=env.audit,
        destroyer=ItemDestroyer(env.catalog, env.store, env.audit),
        lock_sync=env.lock_sync,
        store=env.store,
        clock=env.clock,
        deferred_page_size=2,
    )
    await env.place_hold("kept", "fx")
    released = await env.place_hold("over", "rates")
    kept = [await env.add_item(attributes={"desk": "fx"}) for _ in range(3)]
    freed = await env.add_item(subject_ids=("cust-2",), attributes={"desk": "rates"})
    assert set((await rights.erasure("cust-1", actor="privacy-user")).deferred) == set(kept)
    # Queued later, so only a second page reaches it.
    env.clock.now += timedelta(minutes=1)
    assert (await rights.erasure("cust-2", actor="privacy-user")).deferred == (freed,)

    await env.release(released)
    assert await rights.run_deferred_erasures(env.clock.now) == 1
    assert await env.catalog.get(freed) is None
    assert all([await env.catalog.get(item) is not None for item in kept])
    pending = await env.subjects.pending_deferred(limit=2)
    rest = await env.subjects.pending_deferred(after=pending[-1], limit=2)
    assert sorted(e.item_id for e in pending + rest) == sorted(kept)


async def test_consent_events_are_refused_what_the_api_refuses(env: Any) -> None:
    consents = ConsentService(env.rights)
    for action, purpose in [
        ("grant", "quality"),
        ("grant", "no-such-purpose"),
        ("withdraw", "legal"),
    ]:
        event = validate_consent(
            {
                "event_id": f"e-{action}-{purpose}",
                "source": "crm-1",
                "occurred_at": "2026-11-21T12:00:00Z",
                "subject_id": "cust-1",
                "action": action,
                "purpose": purpose,
            }
        )
        with pytest.raises(BadEventError) as refused:
            await consents.apply(event)
        assert refused.value.reason is DeadLetterReason.SCHEMA_VIOLATION
        assert refused.value.field == "purpose"
    assert (await env.catalog.standing_consents(["cust-1"])).get(
        "cust-1", frozenset()
    ) == frozenset()


async def test_an_objection_to_a_purpose_the_policy_lacks_is_refused(env: Any) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await env.rights.objection("cust-1", ["quality", "qualty"], actor="privacy-user")
    assert refused.value.field == "purposes[1]"


class _HoldBeforeDestroying:
    """The audit log, covering the item by a new hold just before the destroying transaction."""

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


async def test_a_hold_placed_while_the_erasure_runs_wins_and_defers_it(env: Env) -> None:
    item_id = await env.add_item(attributes={"desk": "fx"})

    async def place() -> None:
        hold_id = await env.place_hold("late", "fx")
        await env.cover(hold_id, item_id)
        placed.append(hold_id)

    placed: list[str] = []
    rights = SubjectRightsService(
        catalog=env.catalog,
        subjects=env.subjects,
        policies=env.policies,
        audit=env.audit,
        destroyer=ItemDestroyer(
            env.catalog,
            env.store,
            _HoldBeforeDestroying(env.audit, place),
        ),
        lock_sync=env.lock_sync,
        store=env.store,
        clock=env.clock,
    )
    result = await rights.erasure("cust-1", actor="privacy-user")
    assert placed
    assert result.erased == ()
    assert [(r.item_id, r.reason) for r in result.retained] == [(item_id, "legal_hold:late")]
    assert result.deferred == (item_id,)
    assert env.versions(item_id)  # the content is all there
    assert await env.catalog.get(item_id) is not None
    await env.release(placed[0])
    assert await rights.run_deferred_erasures(env.clock.now) == 1
    assert await env.catalog.get(item_id) is None
    assert env.versions(item_id) == []
