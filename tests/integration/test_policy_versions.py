"""Policy versions on real Kafka and MinIO: GET/PUT /v1/policy and `keepline policy apply`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from tests.integration.ingest_support import run_cli
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import (
    LATE_S,
    artefact,
    audit_actions,
    expiry,
    fast_sweeps,
    ingest,
    sleep_until,
    tombstone,
)

OLD = """# the policy at start-up
purposes:
  quality:  {basis: legitimate_interests, retention: P1D, roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: P1D, roles: [qa]}
rules:
  - match: {type: chat}
    purposes: [quality, training]
  - match: {type: email}
    purposes: [training]
"""

NEW = """purposes:
  quality:  {basis: legitimate_interests, retention: PT8S, roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: P1D,  roles: [qa]}
  archive:  {basis: legal_obligation,     retention: P2D,  roles: [legal]}
rules:
  - match: {type: chat}
    purposes: [quality]
  - match: {type: email}
    purposes: [training, archive]
"""


def names(item: dict[str, object]) -> list[str]:
    purposes = item["purposes"]
    assert isinstance(purposes, list)
    return [p["name"] for p in purposes]


def test_policy_is_readable_by_every_role_and_put_activates_a_version(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(policy_text=OLD)
    before = ingest(service, artefact("chat", subject="cust-pv"))
    versions = set()
    for role in ("ingest", "qa", "legal", "privacy", "auditor", "admin"):
        with service.client(role) as http:
            body = http.get("/v1/policy").json()
        versions.add(body["version"])
        assert body["text"] == OLD
        assert sorted(body["purposes"]) == ["quality", "training"]
        assert body["rules"][0] == {"match": {"type": "chat"}, "purposes": ["quality", "training"]}
    assert versions == {before["policy_version"]}
    with service.client() as anonymous:
        assert anonymous.get("/v1/policy").status_code == 401

    with service.client("legal") as legal:
        assert legal.put("/v1/policy", content=NEW).status_code == 403
    with service.client("admin") as admin:
        bad = admin.put(
            "/v1/policy",
            content=NEW.replace("PT8S", "P8Q"),
            headers={"content-type": "application/yaml"},
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "purposes.quality.retention"
        assert "line 2" in bad.json()["detail"]
        unknown = admin.put("/v1/policy", json={"policy": NEW.replace("[quality]", "[qualty]")})
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "rules[0].purposes[0]"
        assert "line 7" in unknown.json()["detail"]
        assert admin.put("/v1/policy", json={"text": NEW}).status_code == 422

        put = admin.put("/v1/policy", content=NEW, headers={"content-type": "application/yaml"})
        assert put.status_code == 200, put.text
        new_version = put.json()["version"]
        assert new_version != before["policy_version"]
        assert put.json()["previous_version"] == before["policy_version"]
        assert put.json()["activated"] is True
        assert admin.get("/v1/policy").json()["version"] == new_version
        assert admin.get("/v1/policy").json()["text"] == NEW
        again = admin.put("/v1/policy", json={"policy": NEW})
        assert again.status_code == 200
        assert again.json()["activated"] is False

    changed = audit_actions(service, "policy.changed")
    # The start-up activation of the policy file, then the admin's new version (only once).
    assert [(e["actor"], e["details"]["version"]) for e in changed] == [
        ("policy-file", before["policy_version"]),
        ("admin-user", new_version),
    ]
    # Items ingested from now on are decided by the new version; stored ones keep theirs.
    after = wait_for(
        lambda: (
            item
            if (item := ingest(service, artefact("chat", subject="cust-pv")))["policy_version"]
            == new_version
            else None
        ),
        timeout_s=30,
        what="the worker to pick up the new version",
    )
    assert names(after) == ["quality"]
    occurred_at = datetime.fromisoformat(after["occurred_at"])
    assert expiry(after, "quality") - occurred_at == timedelta(seconds=8)
    with service.client("legal") as legal:
        unchanged = legal.get(f"/v1/items/{before['item_id']}").json()
    assert unchanged["policy_version"] == before["policy_version"]
    assert names(unchanged) == ["quality", "training"]


def test_policy_apply_reports_then_changes_stored_items_and_holds_win(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(policy_text=OLD, env=fast_sweeps())
    held = ingest(service, artefact("chat", subject="cust-keep"))
    free = ingest(service, artefact("chat", subject="cust-go"))
    mail = ingest(service, artefact("email", subject="cust-mail"))
    with service.client("legal") as legal:
        hold = legal.post(
            "/v1/holds", json={"matter": "m", "criteria": {"subject_ids": ["cust-keep"]}}
        ).json()
    policy_file = service.workdir / "new-policy.yaml"
    policy_file.write_text(NEW, encoding="utf-8")

    dry = run_cli(service, "policy", "apply", str(policy_file), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    changes = {c["item_id"]: c for c in lines if "item_id" in c}
    assert set(changes) == {held["item_id"], free["item_id"], mail["item_id"]}
    chat = changes[free["item_id"]]
    assert chat["removed"] == ["training"]
    assert chat["added"] == []
    assert [m["name"] for m in chat["moved"]] == ["quality"]
    assert chat["moved"][0]["from"] == expiry(free, "quality").isoformat()
    assert (
        chat["moved"][0]["to"]
        == (datetime.fromisoformat(free["occurred_at"]) + timedelta(seconds=8)).isoformat()
    )
    assert [a["name"] for a in changes[mail["item_id"]]["added"]] == ["archive"]
    summary = lines[-1]["summary"]
    assert (summary["items_changed"], summary["dry_run"]) == (3, True)
    with service.client("legal") as legal:
        assert legal.get("/v1/policy").json()["version"] == held["policy_version"]
        assert names(legal.get(f"/v1/items/{free['item_id']}").json()) == ["quality", "training"]

    applied = run_cli(service, "policy", "apply", str(policy_file))
    assert applied.returncode == 0, applied.stderr
    assert "changed 3 of 3 stored items" in applied.stdout
    with service.client("legal") as legal:
        version = legal.get("/v1/policy").json()["version"]
        assert version != held["policy_version"]
        mail_now = legal.get(f"/v1/items/{mail['item_id']}").json()
        assert sorted(names(mail_now)) == ["archive", "training"]
        assert mail_now["policy_version"] == version
    assert audit_actions(service, "policy.changed")[-1]["details"]["version"] == version
    assert audit_actions(service, "policy.applied")[-1]["details"]["items_changed"] == 3

    # quality now ends 8s after occurred_at: the free chat goes, the held one stays.
    sleep_until(datetime.fromisoformat(free["occurred_at"]) + timedelta(seconds=8))
    wait_for(lambda: tombstone(service, free["item_id"]), timeout_s=LATE_S + 2, what="free gone")
    with service.client("legal") as legal:
        kept = legal.get(f"/v1/items/{held['item_id']}").json()
    assert kept["holds"] == [hold["hold_id"]]
    assert tombstone(service, held["item_id"]) is None

    again = run_cli(service, "policy", "apply", str(policy_file), "--json")
    assert json.loads(again.stdout.splitlines()[-1])["summary"]["items_changed"] == 0


def test_policy_apply_refuses_an_invalid_file(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(policy_text=OLD, run=False)
    policy_file = service.workdir / "broken.yaml"
    policy_file.write_text(NEW.replace("legal_obligation", "because"), encoding="utf-8")
    result = run_cli(service, "policy", "apply", str(policy_file))
    assert result.returncode == 2
    assert "broken.yaml:4: purposes.archive.basis" in result.stderr
