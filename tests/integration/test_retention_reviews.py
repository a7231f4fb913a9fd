"""Why kept, until when, and disposition review on real Kafka, MinIO and both catalogs.

The explanation's ``destroy_after`` is when the running sweeper destroys the item; a
``review: true`` purpose sends the item to ``awaiting_review``; ``extend`` gives it a new
expiry, ``destroy`` destroys it on the next sweep, and a hold placed meanwhile wins.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from minio import Minio

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import run_cli
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import (
    LATE_S,
    artefact,
    audit_actions,
    expiry,
    fast_sweeps,
    ingest,
    object_versions,
    sleep_until,
    tombstone,
    wait_versions_gone,
)

pytestmark = on_both_catalogs

POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: PT2S, roles: [qa, legal]}
  legal:   {basis: legal_obligation,     retention: PT4S, roles: [legal], review: true}
  chats:   {basis: legitimate_interests, retention: PT5S, roles: [qa, legal]}
  blink:   {basis: legitimate_interests, retention: PT1S, roles: [legal]}
rules:
  - match: {type: call_recording}
    purposes: [quality, legal]
  - match: {type: chat, attributes: {kind: sentinel}}
    purposes: [blink]
  - match: {type: chat}
    purposes: [chats]
"""


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """One service sweeping every second, for tests that isolate by subject."""
    return shared_keepline_factory(policy_text=POLICY, env=fast_sweeps())


def _retention(http: httpx.Client, item_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/items/{item_id}/retention")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _awaiting_review(http: httpx.Client, item_id: str) -> dict[str, Any]:
    def status() -> dict[str, Any] | None:
        item: dict[str, Any] = http.get(f"/v1/items/{item_id}").json()
        return item if item.get("status") == "awaiting_review" else None

    return wait_for(status, timeout_s=LATE_S + 10, what="the item to await review")


def _a_sweep_passed(service: KeeplineService, subject: str) -> None:
    """Wait for a sweep that started after now: it destroys a sentinel ingested now."""
    sentinel = ingest(service, artefact("chat", subject=subject, attributes={"kind": "sentinel"}))
    wait_for(
        lambda: tombstone(service, sentinel["item_id"]),
        timeout_s=LATE_S + 10,
        what="a sweep after the sentinel expired",
    )


def test_the_item_is_destroyed_at_destroy_after(
    service: KeeplineService, minio_client: Minio
) -> None:
    item = ingest(service, artefact("chat", subject="cust-why"))
    item_id = item["item_id"]
    with service.client("legal") as legal, service.client("qa") as qa:
        body = _retention(legal, item_id)
        assert body["purposes"] == [
            {
                "name": "chats",
                "basis": "legitimate_interests",
                "expires_at": item["purposes"][0]["expires_at"],
                "state": "active",
            }
        ]
        assert (body["holds"], body["erasure_pending"], body["review"]) == ([], False, None)
        assert body["destroy_after"] == item["purposes"][0]["expires_at"]
        assert qa.get(f"/v1/items/{item_id}/retention").status_code == 403
    for role in ("privacy", "auditor"):
        with service.client(role) as http:
            assert _retention(http, item_id)["destroy_after"] == body["destroy_after"]

    destroy_after = datetime.fromisoformat(body["destroy_after"])
    stone = wait_for(
        lambda: tombstone(service, item_id), timeout_s=60, what="the item to be destroyed"
    )
    late_s = (stone["destroyed_at"] - destroy_after).total_seconds()
    assert 0 <= late_s <= LATE_S, f"destroyed {late_s:.1f}s after destroy_after"
    wait_versions_gone(minio_client, service, item_id)
    with service.client("legal") as legal:
        assert legal.get(f"/v1/items/{item_id}/retention").status_code == 404


def test_a_held_item_has_no_destroy_date_until_the_hold_goes(service: KeeplineService) -> None:
    item = ingest(service, artefact("chat", subject="cust-why-held"))
    with service.client("legal") as legal:
        hold = legal.post(
            "/v1/holds",
            json={"matter": "M-why", "criteria": {"subject_ids": ["cust-why-held"]}},
        ).json()
        body = _retention(legal, item["item_id"])
        assert body["holds"] == [{"hold_id": hold["hold_id"], "matter": "M-why"}]
        assert body["destroy_after"] is None
        sleep_until(expiry(item, "chats"))
        _a_sweep_passed(service, "cust-why-held-sentinel")
        assert tombstone(service, item["item_id"]) is None
        kept = _retention(legal, item["item_id"])
        assert kept["purposes"] == []  # dropped on expiry; the hold alone keeps the item
        assert kept["decision"] == {"action": "keep", "reason": "legal_hold"}
        legal.post(f"/v1/holds/{hold['hold_id']}/release", json={})
    wait_for(lambda: tombstone(service, item["item_id"]), timeout_s=60, what="the release")


def test_review_then_extend_gives_a_new_expiry(service: KeeplineService) -> None:
    item = ingest(service, artefact("call_recording", subject="cust-rev-extend"))
    item_id = item["item_id"]
    with service.client("legal") as legal:
        # Required until the legal purpose expires, pending from the sweep after (which may
        # have come already on a slow machine); no destroy date either way.
        before = _retention(legal, item_id)
        assert before["review"]["state"] in {"required", "pending"}
        assert before["review"]["purposes"] == ["legal"]
        assert before["destroy_after"] is None
        awaiting = _awaiting_review(legal, item_id)
        assert "legal" in [p["name"] for p in awaiting["purposes"]]  # expired, kept
        queue = legal.get("/v1/reviews", params={"state": "pending"}).json()["reviews"]
        assert item_id in [r["item_id"] for r in queue]
        assert _retention(legal, item_id)["review"]["state"] == "pending"

        decided_at = datetime.now(UTC)
        response = legal.post(
            f"/v1/reviews/{item_id}",
            json={"decision": "extend", "extend_by": "PT1H", "justification": "complaint open"},
        )
        assert response.status_code == 200, response.text
        new_expiry = datetime.fromisoformat(response.json()["expires_at"])
        assert 3590 <= (new_expiry - decided_at).total_seconds() <= 3660
        item_now = legal.get(f"/v1/items/{item_id}").json()
        assert item_now["status"] == "stored"
        assert expiry(item_now, "legal") == new_expiry
        body = _retention(legal, item_id)
        states = {p["name"]: (p["state"], p["expires_at"]) for p in body["purposes"]}
        assert states["legal"] == ("active", new_expiry.isoformat())
        assert body["review"] == {"state": "required", "purposes": ["legal"]}
        pending = legal.get("/v1/reviews").json()["reviews"]
        assert item_id not in [r["item_id"] for r in pending]
        _a_sweep_passed(service, "cust-rev-extend-sentinel")
        assert legal.get(f"/v1/items/{item_id}").json()["status"] == "stored"
    decided = [e for e in audit_actions(service, "review.decided") if e["item_id"] == item_id]
    assert [(e["actor"], e["details"]["decision"]) for e in decided] == [("legal-user", "extend")]
    assert decided[0]["details"]["justification"] == "complaint open"
    opened = [e for e in audit_actions(service, "review.opened") if e["item_id"] == item_id]
    assert len(opened) == 1


def test_destroy_waits_for_a_hold_placed_meanwhile_then_goes_on_the_next_sweep(
    service: KeeplineService, minio_client: Minio
) -> None:
    item = ingest(service, artefact("call_recording", subject="cust-rev-destroy"))
    item_id = item["item_id"]
    with service.client("legal") as legal:
        _awaiting_review(legal, item_id)
        hold = legal.post(
            "/v1/holds",
            json={"matter": "M-review", "criteria": {"subject_ids": ["cust-rev-destroy"]}},
        ).json()
        response = legal.post(
            f"/v1/reviews/{item_id}", json={"decision": "destroy", "justification": "no need"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "destroy"
        _a_sweep_passed(service, "cust-rev-destroy-sentinel")
        assert tombstone(service, item_id) is None  # the hold wins
        assert _retention(legal, item_id)["destroy_after"] is None
        assert len(object_versions(minio_client, service, item_id)) == 1

        legal.post(f"/v1/holds/{hold['hold_id']}/release", json={})
    stone = wait_for(lambda: tombstone(service, item_id), timeout_s=60, what="the destruction")
    assert stone["reason"] == "review_destroy"
    wait_versions_gone(minio_client, service, item_id)
    decided = [e for e in audit_actions(service, "review.decided") if e["item_id"] == item_id]
    assert [e["details"]["decision"] for e in decided] == ["destroy"]
    # and it is in that day's signed certificate of destructions, with the review as its reason
    destroyed_at = stone["destroyed_at"]  # SQLite hands back naive UTC, PostgreSQL aware
    if destroyed_at.tzinfo is None:
        destroyed_at = destroyed_at.replace(tzinfo=UTC)
    day = destroyed_at.astimezone(UTC).date().isoformat()
    with service.client("auditor") as auditor:
        certificate = auditor.get("/v1/disposals/certificate", params={"date": day})
    assert certificate.status_code == 200, certificate.text
    with zipfile.ZipFile(io.BytesIO(certificate.content)) as archive:
        listed = json.loads(archive.read("destructions.json"))["destructions"]
    certified = {d["item_id"]: d for d in listed}
    assert certified[item_id]["reason"] == "review_destroy"
    assert certified[item_id]["type"] == "call_recording"


CLI_POLICY = """
purposes:
  chats: {basis: legitimate_interests, retention: PT2S, roles: [qa, legal]}
rules:
  - match: {type: chat}
    purposes: [chats]
"""


def test_sweep_dry_run_prints_the_explanation_of_each_item_it_would_destroy(
    keepline_factory: KeeplineFactory,
) -> None:
    # The service sweeps at start and then hourly: the dry run sees the expired item.
    service = keepline_factory(policy_text=CLI_POLICY, env={"KEEPLINE_SWEEP_INTERVAL_S": "3600"})
    item = ingest(service, artefact("chat", subject="cust-dry"))
    sleep_until(expiry(item, "chats"))

    dry = run_cli(service, "sweep", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    (planned,) = [line for line in lines if line.get("item_id") == item["item_id"]]
    assert planned["action"] == "destroy"
    explanation = planned["explanation"]
    assert [(p["name"], p["state"]) for p in explanation["purposes"]] == [("chats", "expired")]
    assert explanation["destroy_after"] == item["purposes"][0]["expires_at"]
    assert explanation["holds"] == []

    text = run_cli(service, "sweep", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert f"destroy {item['item_id']} chat reason=retention_expired" in text.stdout
    assert "    purposes: chats (legitimate_interests) expired" in text.stdout
    with service.client("legal") as legal:
        assert legal.get(f"/v1/items/{item['item_id']}").status_code == 200
