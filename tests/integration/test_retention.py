"""Retention on real Kafka and MinIO: purposes expire one by one, then the item is destroyed.

A policy of second-scale retentions and a one-second sweep interval make the clock visible.
Helpers here (events, catalog reads, the `keepline` command) serve the other retention,
hold, WORM and policy-version tests too.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from minio import Minio

from storage.service import object_key_for
from tests.integration.ingest_support import metric
from tests.integration.keepline_service import KeeplineService, wait_for

SWEEP_INTERVAL_S = 1.0
#: How late a destruction may come after the last expiry: one interval, plus the time a
#: pass itself takes on a busy two-core machine.
LATE_S = SWEEP_INTERVAL_S + 2.0

POLICY = """
purposes:
  quality:  {basis: legitimate_interests, retention: PT6S,  roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: PT12S, roles: [qa]}
  legal:    {basis: legal_obligation,     retention: PT12S, roles: [legal], worm: true}
rules:
  - match: {type: chat}
    purposes: [quality, training]
  - match: {type: call_recording}
    purposes: [quality, legal]
"""


def fast_sweeps(**extra: str) -> dict[str, str]:
    """Environment for a service that sweeps every second."""
    return {"KEEPLINE_SWEEP_INTERVAL_S": str(SWEEP_INTERVAL_S), **extra}


def artefact(
    kind: str,
    *,
    subject: str = "cust-1",
    staff: str | None = None,
    data: bytes | None = b"Hi! My router keeps dropping the line.",
    attributes: dict[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """An artefact event of SPEC section 3 that happened now, content inline."""
    at = (occurred_at or datetime.now(UTC)).isoformat()
    ident = uuid.uuid4().hex[:12]
    parties: list[dict[str, str]] = [
        {"role": "customer", "address": f"visitor-{ident}", "subject_id": subject}
    ]
    if staff:
        parties.append({"role": "agent", "address": f"{staff}@example.co.uk", "staff_id": staff})
    event: dict[str, Any] = {
        "type": kind,
        "event_id": f"ev-{ident}",
        "source": "test-source",
        "occurred_at": at,
        "parties": parties,
        "attributes": attributes or {},
    }
    if kind == "chat":
        event.update(conversation_id=f"conv-{ident}", platform="webchat")
    elif kind == "email":
        event.update(message_id=f"<{ident}@mail.example>", direction="inbound", subject="hi")
    else:
        event.update(call_id=f"call-{ident}", direction="inbound", started_at=at, ended_at=at)
    if data is not None:
        event["content_inline"] = {
            "data_b64": base64.b64encode(data).decode(),
            "content_type": "text/plain",
        }
    return event


TOPICS = {"chat": "chats", "email": "emails", "call_recording": "calls"}


def ingest(service: KeeplineService, event: dict[str, Any]) -> dict[str, Any]:
    """Publish an event and wait until legal sees the stored item; the item's JSON."""
    service.publish(TOPICS[event["type"]], event, key=event["event_id"].encode())
    subject = event["parties"][0]["subject_id"]
    with service.client("legal") as http:

        def stored() -> dict[str, Any] | None:
            found = http.get("/v1/items", params={"subject_id": subject}).json()["items"]
            return next((i for i in found if i["event_id"] == event["event_id"]), None)

        return wait_for(stored, timeout_s=60, what=f"{event['type']} to be stored")


def expiry(item: dict[str, Any], purpose: str) -> datetime:
    """When one of an item's purposes expires."""
    found = next(p for p in item["purposes"] if p["name"] == purpose)
    return datetime.fromisoformat(found["expires_at"])


def sleep_until(at: datetime) -> None:
    """Wait until the wall clock passes at."""
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def catalog_rows(service: KeeplineService, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Rows of a read-only query on the service's SQLite catalog."""
    path = service.workdir / "data" / "keepline.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, args))


def tombstone(service: KeeplineService, item_id: str) -> sqlite3.Row | None:
    """The item's tombstone, if it was destroyed."""
    rows = catalog_rows(service, "SELECT * FROM tombstones WHERE item_id = ?", item_id)
    return rows[0] if rows else None


def audit_actions(service: KeeplineService, action: str) -> list[dict[str, Any]]:
    """Audit entries of one action, oldest first, with decoded details."""
    rows = catalog_rows(
        service, "SELECT actor, item_id, details FROM audit WHERE action = ? ORDER BY seq", action
    )
    return [
        {"actor": r["actor"], "item_id": r["item_id"], "details": json.loads(r["details"])}
        for r in rows
    ]


def object_versions(minio_client: Minio, service: KeeplineService, item_id: str) -> list[Any]:
    """Every version and delete marker of the item's object in MinIO."""
    key = object_key_for(item_id)
    return [
        o
        for o in minio_client.list_objects(service.bucket, prefix=key, include_version=True)
        if o.object_name == key
    ]


def run_keepline(
    service: KeeplineService, *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the `keepline` command with the service's environment."""
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "keepline.cli", *args],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_purposes_expire_one_by_one_then_the_item_is_destroyed(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio
) -> None:
    service = keepline_factory(policy_text=POLICY, env=fast_sweeps())
    item = ingest(service, artefact("chat", subject="cust-ret"))
    item_id = item["item_id"]
    occurred_at = datetime.fromisoformat(item["occurred_at"])
    assert [p["name"] for p in item["purposes"]] == ["quality", "training"]
    assert (expiry(item, "quality") - occurred_at).total_seconds() == 6
    assert (expiry(item, "training") - occurred_at).total_seconds() == 12
    assert len(object_versions(minio_client, service, item_id)) == 1

    with service.client("qa") as qa, service.client("legal") as legal:
        sleep_until(expiry(item, "quality"))

        def quality_dropped() -> list[str] | None:
            names = [p["name"] for p in legal.get(f"/v1/items/{item_id}").json()["purposes"]]
            return names if names == ["training"] else None

        wait_for(quality_dropped, timeout_s=LATE_S, what="quality to be dropped")
        by_quality = qa.get("/v1/items", params={"purpose": "quality"}).json()["items"]
        assert item_id not in [i["item_id"] for i in by_quality]
        by_training = qa.get("/v1/items", params={"purpose": "training"}).json()["items"]
        assert item_id in [i["item_id"] for i in by_training]

        sleep_until(expiry(item, "training"))
        wait_for(lambda: tombstone(service, item_id), timeout_s=LATE_S + 2, what="the tombstone")
        assert legal.get(f"/v1/items/{item_id}").status_code == 404
        assert legal.get(f"/v1/items/{item_id}/content").status_code == 404

    stone = tombstone(service, item_id)
    assert stone is not None
    late_s = (
        datetime.fromisoformat(stone["destroyed_at"]).replace(tzinfo=UTC) - expiry(item, "training")
    ).total_seconds()
    assert 0 <= late_s <= LATE_S, f"destroyed {late_s:.1f}s after the last expiry"
    assert (stone["type"], stone["reason"]) == ("chat", "retention_expired")
    assert stone["policy_version"] == item["policy_version"]
    # Content unreadable: every object version gone; key gone: the wrapped key is shredded.
    assert object_versions(minio_client, service, item_id) == []
    row = catalog_rows(service, "SELECT * FROM items WHERE item_id = ?", item_id)[0]
    assert row["status"] == "destroyed"
    assert row["wrapped_key"] is None
    assert row["object_key"] is None
    assert json.loads(row["event"]) == {}
    assert catalog_rows(service, "SELECT * FROM item_parties WHERE item_id = ?", item_id) == []
    assert [e["item_id"] for e in audit_actions(service, "item.destroyed")] == [item_id]
    expired = audit_actions(service, "purposes.expired")
    # The last purpose to expire goes with the item (item.destroyed), not on its own.
    assert [(e["item_id"], e["details"]["expired"]) for e in expired] == [(item_id, ["quality"])]


def test_item_no_rule_keeps_is_destroyed_at_the_next_sweep(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio
) -> None:
    service = keepline_factory(policy_text=POLICY, env=fast_sweeps())
    event = artefact("email", subject="cust-norule")
    service.publish("emails", event, key=b"m")
    # No rule of POLICY matches e-mails: the item is stored without purposes and goes.
    rows = wait_for(
        lambda: catalog_rows(
            service, "SELECT item_id FROM items WHERE event_id IS NULL AND status = 'destroyed'"
        ),
        timeout_s=60,
        what="the e-mail to be destroyed",
    )
    item_id = rows[0]["item_id"]
    stone = tombstone(service, item_id)
    assert stone is not None
    assert stone["reason"] == "no_purpose"
    assert object_versions(minio_client, service, item_id) == []
    # A republished event never brings it back.
    service.publish("emails", event, key=b"m")

    def duplicates() -> float:
        with service.client() as anonymous:
            return metric(anonymous.get("/metrics").text, "keepline_duplicate_events_total")

    wait_for(duplicates, timeout_s=60, what="the republished event seen as a duplicate")
    assert len(catalog_rows(service, "SELECT item_id FROM items")) == 1


CLI_POLICY = """
purposes:
  quality:  {basis: legitimate_interests, retention: PT4S, roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: P1D,  roles: [qa]}
rules:
  - match: {type: chat}
    purposes: [quality, training]
  - match: {type: call_recording}
    purposes: [quality]
"""


def test_sweep_command_dry_run_lists_and_real_run_destroys(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio
) -> None:
    # The service sweeps once at start and then only hourly: the command does the work.
    service = keepline_factory(policy_text=CLI_POLICY, env={"KEEPLINE_SWEEP_INTERVAL_S": "3600"})
    kept = ingest(service, artefact("chat", subject="cust-cli-kept"))
    doomed = [ingest(service, artefact("call_recording", subject="cust-cli")) for _ in range(2)]
    sleep_until(max(expiry(i, "quality") for i in doomed))

    dry = run_keepline(service, "sweep", "--dry-run", "--json", "--progress")
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    planned = {e["item_id"]: e for e in lines if "item_id" in e}
    assert {planned[i["item_id"]]["action"] for i in doomed} == {"destroy"}
    assert planned[kept["item_id"]]["action"] == "drop_purposes"
    assert lines[-1]["summary"]["dry_run"] is True
    assert "sweeping [" in dry.stderr  # the progress bar
    with service.client("legal") as legal:
        assert all(legal.get(f"/v1/items/{i['item_id']}").status_code == 200 for i in doomed)

    real = run_keepline(service, "sweep", "--json")
    assert real.returncode == 0, real.stderr
    summary = json.loads(real.stdout.splitlines()[-1])["summary"]
    assert (summary["destroyed"], summary["purposes_dropped"]) == (2, 1)
    with service.client("legal") as legal:
        assert all(legal.get(f"/v1/items/{i['item_id']}").status_code == 404 for i in doomed)
        assert legal.get(f"/v1/items/{kept['item_id']}").status_code == 200
    for item in doomed:
        assert object_versions(minio_client, service, item["item_id"]) == []
        stone = tombstone(service, item["item_id"])
        assert stone is not None
        assert stone["reason"] == "retention_expired"
    actors = {e["actor"] for e in audit_actions(service, "item.destroyed")}
    assert actors == {"keepline-cli"}
