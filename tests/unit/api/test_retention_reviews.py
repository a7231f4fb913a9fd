"""Why kept, until when, and disposition review: the API, the sweeper and the CLI output,
on a real SQLite catalog and a filesystem object store (no servers)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from api.app import create_app
from keepline.commands.sweep import print_report
from keepline.root import Keepline, api_services, build
from policies.models import HoldCriteria
from policies.policy_file import parse_policy
from storage.runtime import prepare_storage
from storage.settings import StorageSettings
from storage.sql.schema import audit, tombstones
from streams.settings import StreamSettings
from tests.unit.api.conftest import NOW, Clock, Harness, RecordingPublisher, api_settings

POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  legal:   {basis: legal_obligation, retention: P5Y, roles: [legal], review: true}
  chats:   {basis: legitimate_interests, retention: P30D, roles: [qa]}
rules:
  - match: {type: call_recording}
    purposes: [quality, legal]
  - match: {type: chat}
    purposes: [chats]
"""
YEAR = timedelta(days=365)
REVIEWED = (
    ("quality", "legitimate_interests", timedelta(days=90)),
    ("legal", "legal_obligation", 5 * YEAR),
)


@dataclass
class Env:
    """The API harness and the services under it."""

    harness: Harness
    root: Keepline

    def client(self, role: str) -> httpx.AsyncClient:
        """A client acting in role."""
        return self.harness.client(role)

    async def sweep(self) -> dict[str, object]:
        """One pass at the harness clock; its counts."""
        return (await self.root.sweeper().sweep()).to_json()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    """An API and sweeper over a policy whose legal purpose asks for a review."""
    clock = Clock(NOW)
    root = build(
        StorageSettings(
            data_dir=tmp_path,
            object_store="filesystem",
            s3_bucket="unused",
            segment_size_bytes=4096,
        ),
        clock=clock,
    )
    await prepare_storage(root.storage)
    await root.storage.policies.bootstrap(parse_policy(POLICY), at=NOW)
    registry = CollectorRegistry()
    services = replace(
        api_services(root, api_settings(), stream_settings=StreamSettings(), registry=registry),
        publisher=RecordingPublisher(),
    )
    app = create_app(services)
    harness = Harness(app, root, clock, registry, httpx.ASGITransport(app=app))
    yield Env(harness, root)
    await root.close()


async def _retention(env: Env, item_id: str, role: str = "legal") -> dict[str, object]:
    async with env.client(role) as http:
        response = await http.get(f"/v1/items/{item_id}/retention")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_explanation_names_purposes_holds_and_the_destroy_date(env: Env) -> None:
    item_id = await env.harness.add_item(
        item_type="chat", purposes=(("chats", "legitimate_interests", timedelta(days=30)),)
    )
    body = await _retention(env, item_id)
    record = await env.root.storage.catalog.get(item_id)
    assert record is not None
    expires = record.purposes[0].expires_at
    assert body["purposes"] == [
        {
            "name": "chats",
            "basis": "legitimate_interests",
            "expires_at": expires.isoformat(),
            "state": "active",
        }
    ]
    assert body["holds"] == []
    assert body["erasure_pending"] is False
    assert body["review"] is None
    assert body["destroy_after"] == expires.isoformat()
    assert body["status"] == "stored"
    for role in ("privacy", "auditor"):
        assert (await _retention(env, item_id, role))["destroy_after"] == expires.isoformat()

    hold = await env.root.holds.place(
        matter="Acme v Widget",
        description="",
        criteria=HoldCriteria(subject_ids=frozenset({"cust-1"})),
        by="legal-user",
        at=NOW,
    )
    held = await _retention(env, item_id)
    assert held["holds"] == [{"hold_id": hold.hold_id, "matter": "Acme v Widget"}]
    assert held["destroy_after"] is None

    async with env.client("qa") as qa, env.client("legal") as legal:
        assert (await qa.get(f"/v1/items/{item_id}/retention")).status_code == 403
        assert (await legal.get("/v1/items/no-such-item/retention")).status_code == 404


async def test_a_withdrawn_purpose_is_shown_with_when(env: Env) -> None:
    item_id = await env.harness.add_item()
    await env.root.subjects.record_removed(
        item_id, ["marketing"], reason="withdrawal", at=NOW - timedelta(hours=1)
    )
    body = await _retention(env, item_id)
    purposes = body["purposes"]
    assert isinstance(purposes, list)
    assert purposes[-1] == {
        "name": "marketing",
        "basis": None,
        "expires_at": None,
        "state": "withdrawn",
        "removed_at": (NOW - timedelta(hours=1)).isoformat(),
    }


async def test_review_then_extend_gives_a_new_expiry(env: Env) -> None:
    item_id = await env.harness.add_item(item_type="call_recording", purposes=REVIEWED)
    before = await _retention(env, item_id)
    assert before["review"] == {"state": "required", "purposes": ["legal"]}
    assert before["destroy_after"] is None

    env.harness.clock.now = NOW + 6 * YEAR
    first = await env.sweep()
    assert (first["reviews_opened"], first["destroyed"]) == (1, 0)
    again = await env.sweep()
    assert (again["reviews_opened"], again["awaiting_review"], again["destroyed"]) == (0, 1, 0)

    async with env.client("legal") as legal:
        item = (await legal.get(f"/v1/items/{item_id}")).json()
        assert item["status"] == "awaiting_review"
        queue = (await legal.get("/v1/reviews", params={"state": "pending"})).json()["reviews"]
        assert [(r["item_id"], r["state"], r["purposes"]) for r in queue] == [
            (item_id, "pending", ["legal"])
        ]
        assert queue[0]["item"]["type"] == "call_recording"
        assert (await _retention(env, item_id))["review"] == {
            "state": "pending",
            "purposes": ["legal"],
        }

        decided = await legal.post(
            f"/v1/reviews/{item_id}",
            json={"decision": "extend", "extend_by": "P1Y", "justification": "complaint open"},
        )
        assert decided.status_code == 200, decided.text
        new_expiry = env.harness.clock.now + YEAR
        assert decided.json()["expires_at"] == new_expiry.isoformat()
        assert decided.json()["state"] == "extended"

        item = (await legal.get(f"/v1/items/{item_id}")).json()
        assert item["status"] == "stored"
        legal_purpose = next(p for p in item["purposes"] if p["name"] == "legal")
        assert legal_purpose["expires_at"] == new_expiry.isoformat()
        assert (await legal.get("/v1/reviews")).json()["reviews"] == []
        twice = await legal.post(
            f"/v1/reviews/{item_id}", json={"decision": "destroy", "justification": "again"}
        )
        assert twice.status_code == 409

    after = await env.sweep()
    assert (after["destroyed"], after["reviews_opened"]) == (0, 0)
    assert await env.root.storage.catalog.get(item_id) is not None
    entries = await env.root.storage.audit.query(item_id=item_id, action="review.decided")
    assert [e.details["decision"] for e in entries] == ["extend"]
    assert entries[0].details["justification"] == "complaint open"
    assert entries[0].actor == "legal-user"


async def test_destroy_waits_for_a_hold_then_goes_on_the_next_sweep(env: Env) -> None:
    item_id = await env.harness.add_item(
        item_type="call_recording", purposes=REVIEWED, subject_id="cust-held"
    )
    env.harness.clock.now = NOW + 6 * YEAR
    assert (await env.sweep())["reviews_opened"] == 1
    hold = await env.root.holds.place(
        matter="M-7",
        description="",
        criteria=HoldCriteria(subject_ids=frozenset({"cust-held"})),
        by="legal-user",
        at=env.harness.clock.now,
    )
    async with env.client("legal") as legal:
        decided = await legal.post(
            f"/v1/reviews/{item_id}", json={"decision": "destroy", "justification": "no need"}
        )
        assert decided.status_code == 200, decided.text
    assert (await env.sweep())["destroyed"] == 0  # the hold placed meanwhile wins
    held = await _retention(env, item_id)
    assert held["destroy_after"] is None
    assert held["review"] == {"state": "destroy", "purposes": ["legal"]}

    await env.root.holds.release(hold.hold_id, by="legal-user", at=env.harness.clock.now)
    released = await _retention(env, item_id)
    assert released["destroy_after"] is not None
    assert (await env.sweep())["destroyed"] == 1
    async with env.root.storage.db.connect() as conn:
        stones = (await conn.execute(select(tombstones.c.reason))).scalars().all()
        actions = (await conn.execute(select(audit.c.action))).scalars().all()
    assert list(stones) == ["review_destroy"]
    assert {"review.opened", "review.decided", "item.destroyed"} <= set(actions)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "extend", "justification": "x"}, "extend_by"),
        ({"decision": "destroy", "extend_by": "P1Y", "justification": "x"}, "extend_by"),
        ({"decision": "extend", "extend_by": "P1Q", "justification": "x"}, "extend_by"),
        ({"decision": "extend", "extend_by": "P0D", "justification": "x"}, "extend_by"),
        ({"decision": "extend", "extend_by": "P99999Y", "justification": "x"}, "extend_by"),
        ({"decision": "destroy"}, "justification"),
        ({"decision": "keep", "justification": "x"}, "decision"),
    ],
)
async def test_a_bad_decision_names_its_field(env: Env, body: dict[str, str], field: str) -> None:
    item_id = await env.harness.add_item(item_type="call_recording", purposes=REVIEWED)
    env.harness.clock.now = NOW + 6 * YEAR
    await env.sweep()
    async with env.client("legal") as legal:
        response = await legal.post(f"/v1/reviews/{item_id}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_deciding_on_an_unknown_or_unreviewed_item(env: Env) -> None:
    item_id = await env.harness.add_item(item_type="call_recording", purposes=REVIEWED)
    async with env.client("legal") as legal, env.client("privacy") as privacy:
        body = {"decision": "destroy", "justification": "x"}
        assert (await legal.post("/v1/reviews/nope", json=body)).status_code == 404
        assert (await legal.post(f"/v1/reviews/{item_id}", json=body)).status_code == 409
        assert (await privacy.post(f"/v1/reviews/{item_id}", json=body)).status_code == 403
        assert (await privacy.get("/v1/reviews")).status_code == 403


async def test_the_dry_run_explains_each_item_it_would_destroy(env: Env) -> None:
    doomed = await env.harness.add_item(
        item_type="chat", purposes=(("chats", "legitimate_interests", timedelta(days=30)),)
    )
    reviewed = await env.harness.add_item(item_type="call_recording", purposes=REVIEWED)
    env.harness.clock.now = NOW + 6 * YEAR
    report = await env.root.sweeper().sweep(dry_run=True)
    by_id = {entry.item_id: entry for entry in report.entries}
    assert by_id[doomed].action.value == "destroy"
    assert by_id[reviewed].action.value == "review"
    assert by_id[reviewed].explanation is None

    out = io.StringIO()
    print_report(report, as_json=True, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    planned = next(line for line in lines if line.get("item_id") == doomed)
    explanation = planned["explanation"]
    assert [(p["name"], p["state"]) for p in explanation["purposes"]] == [("chats", "expired")]
    assert explanation["holds"] == []
    assert explanation["destroy_after"] <= env.harness.clock.now.isoformat()

    text = io.StringIO()
    print_report(report, as_json=False, out=text)
    assert f"destroy {doomed} chat reason=retention_expired\n    purposes: chats" in (
        text.getvalue()
    )
    assert "    destroy after: " in text.getvalue()
    assert await env.root.storage.catalog.get(doomed) is not None  # a dry run changes nothing
