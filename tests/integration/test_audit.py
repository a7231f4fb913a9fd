"""The audit trail end to end: the chain in the catalog, its verification, the audit topic."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.kafka import KafkaProcess
from storage.sql.audit import SqlAuditLog
from storage.sql.database import Database
from streams.audit_publisher import AuditPublisher
from streams.kafka_publisher import AiokafkaEventPublisher
from tests.catalog_templates import migrated_sqlite
from tests.integration.conftest import TopicFactory
from tests.integration.ingest_support import example
from tests.integration.keepline_service import KeeplineService, wait_for

POLICY = """
reader_roles: [marketing]
purposes:
  quality:  {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  marketing: {basis: consent,             retention: P2Y,  roles: [marketing]}
rules:
  - match: {type: chat}
    purposes: [quality, marketing]
  - match: {}
    purposes: [quality]
"""
CHANGED_POLICY = """
reader_roles: [marketing]
purposes:
  quality:  {basis: legitimate_interests, retention: P30D, roles: [qa, legal]}
  legal:    {basis: legal_obligation,     retention: P5Y,  roles: [legal]}
  marketing: {basis: consent,             retention: P2Y,  roles: [marketing]}
rules:
  - match: {type: chat}
    purposes: [quality, legal, marketing]
  - match: {}
    purposes: [legal]
"""


def _chat(subject_id: str) -> dict[str, Any]:
    event = example("chat")
    event.update(event_id=f"chat-{uuid.uuid4().hex}", conversation_id=f"conv-{subject_id}")
    event["parties"][0]["subject_id"] = subject_id
    return event


def _entries(service: KeeplineService) -> list[dict[str, Any]]:
    with service.client("auditor") as http:
        body = http.get("/v1/audit", params={"limit": 1000}).json()
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def test_every_audited_action_is_chained_and_published(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(policy_text=POLICY)
    subject = f"cust-{uuid.uuid4().hex[:6]}"
    service.publish("chats", _chat(subject), key=b"conv")
    with service.client("legal") as legal:
        item = wait_for(
            lambda: legal.get("/v1/items", params={"subject_id": subject}).json()["items"],
            what="the chat stored",
        )[0]
    item_id = item["item_id"]
    steps: list[tuple[str, str, str, str, dict[str, Any] | None]] = [
        ("qa", "GET", f"/v1/items/{item_id}/content?purpose=quality", "content.read", None),
        (
            "legal",
            "POST",
            "/v1/holds",
            "hold.placed",
            {"matter": "M-1", "description": "", "criteria": {"subject_ids": [subject]}},
        ),
        (
            "privacy",
            "POST",
            f"/v1/subjects/{subject}/consent",
            "consent.changed",
            {"purpose": "marketing", "granted": True},
        ),
        (
            "privacy",
            "POST",
            f"/v1/subjects/{subject}/restriction",
            "restriction.changed",
            {"restricted": True},
        ),
        ("privacy", "GET", f"/v1/subjects/{subject}/export", "export", None),
    ]
    for role, method, url, action, body in steps:
        before = len(_entries(service))
        with service.client(role) as http:
            response = http.request(method, url, json=body)
        assert response.is_success, (url, response.status_code, response.text)
        if action == "hold.placed":
            hold_id = response.json()["hold_id"]
        newest = _entries(service)[before:]
        assert action in {e["action"] for e in newest}, (action, newest)
        assert all(e["actor"] == f"{role}-user" for e in newest), newest
    with service.client("legal") as legal:
        assert legal.post(f"/v1/holds/{hold_id}/release").is_success
    with service.client("privacy") as privacy:
        erased = privacy.post(f"/v1/subjects/{subject}/erasure").json()
    assert erased["erased"] == [item_id]
    with service.client("admin") as admin:
        changed = admin.put(
            "/v1/policy", content=CHANGED_POLICY, headers={"Content-Type": "application/yaml"}
        )
        assert changed.is_success, changed.text

    entries = _entries(service)
    actions = {e["action"] for e in entries}
    assert {
        "content.read",
        "hold.placed",
        "hold.released",
        "consent.changed",
        "restriction.changed",
        "export",
        "erasure.requested",
        "item.destroyed",
        "policy.changed",
    } <= actions
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    with service.client("auditor") as auditor:
        verdict = auditor.get("/v1/audit/verify").json()
        by_item = auditor.get("/v1/audit", params={"item_id": item_id}).json()["entries"]
        by_actor = auditor.get("/v1/audit", params={"actor": "qa-user"}).json()["entries"]
    # The signed checkpoints (how many were written by now varies) all match the chain.
    assert verdict.pop("checkpoints") >= 0
    assert verdict == {
        "ok": True,
        "entries": len(entries),
        "head": entries[-1]["hash"],
        "first_broken_seq": None,
        "checkpoint_broken_seq": None,
    }
    assert {"content.read", "item.destroyed"} <= {e["action"] for e in by_item}
    assert [e["action"] for e in by_actor] == ["content.read"]
    # Nothing personal in the entry of the destruction.
    destroyed = next(e for e in entries if e["action"] == "item.destroyed")
    assert subject not in json.dumps(destroyed)

    # Every entry reaches the audit topic, keyed by its seq, exactly as the chain has it.
    published = wait_for(
        lambda: _published_all(service, len(entries)), timeout_s=30, what="the audit topic"
    )
    assert {e["seq"]: e for e in published} == {e["seq"]: e for e in entries}


def _is_entry(record: dict[str, Any]) -> bool:
    """An audit entry (the topic also carries the signed checkpoints of the chain head)."""
    return record.get("type") != "audit.checkpoint"


def _published_all(service: KeeplineService, count: int) -> list[dict[str, Any]] | None:
    records = service.read_topic("audit", expect=count, timeout_s=5, where=_is_entry)
    return records if len({r["seq"] for r in records}) >= count else None


def test_verify_names_the_entry_edited_in_the_database(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory()
    service.publish("chats", _chat("cust-edit"), key=b"conv")
    with service.client("legal") as legal:
        item = wait_for(
            lambda: legal.get("/v1/items", params={"type": "chat"}).json()["items"],
            what="the chat stored",
        )[0]
        for _ in range(4):
            assert legal.get(f"/v1/items/{item['item_id']}/content").status_code == 200
    with service.client("auditor") as auditor:
        assert auditor.get("/v1/audit/verify").json()["ok"] is True
        with sqlite3.connect(service.workdir / "data" / "keepline.db") as db:
            db.execute("UPDATE audit SET details = ? WHERE seq = 3", ('{"role": "legal"}',))
        verdict = auditor.get("/v1/audit/verify").json()
    assert verdict["ok"] is False
    assert verdict["first_broken_seq"] == 3
    assert verdict["entries"] == 2


class _FlakyPublisher:
    """The real producer, failing once after a number of records (a broker hiccup)."""

    def __init__(self, inner: AiokafkaEventPublisher, fail_after: int) -> None:
        self.inner = inner
        self.left = fail_after

    async def start(self) -> None:
        await self.inner.start()

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        self.left -= 1
        if self.left == 0:
            raise ConnectionError("broker went away")
        await self.inner.publish(topic, key, value)

    async def stop(self) -> None:
        await self.inner.stop()


async def _read(bootstrap: str, topic: str, expect: int) -> list[tuple[bytes, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, Any]]] = []
    try:
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found += [(r.key, json.loads(r.value)) for r in records]
            if len(found) >= expect:
                break
    finally:
        await consumer.stop()
    return found


@pytest.mark.parametrize("fail_after", [1, 7])
async def test_the_outbox_loses_nothing_when_kafka_fails(
    kafka: KafkaProcess, topic_factory: TopicFactory, tmp_path: Path, fail_after: int
) -> None:
    topic = topic_factory("audit")
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await db.create_schema()
    log = SqlAuditLog(db)
    at = datetime(2026, 11, 25, tzinfo=UTC)
    for n in range(12):
        await log.append(actor="alice", action="content.read", at=at, details={"n": n})
    flaky = _FlakyPublisher(AiokafkaEventPublisher(kafka.bootstrap), fail_after)
    try:
        with pytest.raises(ConnectionError):
            await AuditPublisher(log, flaky, topic, batch_size=5).publish_pending()
        # Whole batches acknowledged before the failure are marked; the rest wait.
        assert len(await log.unpublished()) == 12 - 5 * ((fail_after - 1) // 5)
        # The job restarts (supervise) and publishes what is left.
        await flaky.inner.stop()
        flaky.inner = AiokafkaEventPublisher(kafka.bootstrap)
        assert await AuditPublisher(log, flaky, topic, batch_size=5).publish_pending() > 0
        assert await log.unpublished() == []
    finally:
        await flaky.stop()
        await db.dispose()
    records = await _read(kafka.bootstrap, topic, expect=12)
    assert {int(key) for key, _ in records} == set(range(1, 13))
    assert all(int(key) == value["seq"] for key, value in records)
    entries = await _entries_of(tmp_path)
    assert {value["seq"]: value["hash"] for _, value in records} == entries


async def _entries_of(tmp_path: Path) -> dict[int, str]:
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    try:
        return {e.seq: e.hash for e in await SqlAuditLog(db).query(limit=100)}
    finally:
        await db.dispose()


def test_audit_entries_keep_flowing_after_a_restart(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory()
    service.publish("chats", _chat("cust-restart"), key=b"conv")
    with service.client("legal") as legal:
        item = wait_for(
            lambda: legal.get("/v1/items", params={"type": "chat"}).json()["items"],
            what="the chat stored",
        )[0]
        assert legal.get(f"/v1/items/{item['item_id']}/content").status_code == 200
    # A clean restart (a crash is the outbox test above: entries wait until acknowledged).
    service.stop()
    service.start()
    with service.client("legal") as legal:
        assert legal.get(f"/v1/items/{item['item_id']}/content").status_code == 200

    def reads() -> list[dict[str, Any]] | None:
        records = service.read_topic("audit", expect=2, timeout_s=5, where=_is_entry)
        found = [r for r in records if r["action"] == "content.read"]
        return found if len({r["seq"] for r in found}) >= 2 else None

    published = wait_for(reads, what="both reads published")
    # The entries of the start-up (the policy's activation) may be published too, and first.
    assert len({r["seq"] for r in published}) == 2
