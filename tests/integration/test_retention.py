"""Retention on real Kafka and MinIO: purposes expire one by one, then the item is destroyed.

On both catalogs; the sweeps of `keepline serve` and of the `keepline sweep` command take
turns under the catalog's sweeper lease.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from minio import Minio
from sqlalchemy import select

from storage.sql.schema import item_parties, items
from tests.integration.catalog_support import catalog_select, on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import metric, run_cli
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import (
    LATE_S,
    POLICY,
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


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """One service sweeping every second, for the tests that isolate by subject."""
    return shared_keepline_factory(policy_text=POLICY, env=fast_sweeps())


def test_purposes_expire_one_by_one_then_the_item_is_destroyed(
    service: KeeplineService, minio_client: Minio
) -> None:
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
    late_s = (stone["destroyed_at"] - expiry(item, "training")).total_seconds()
    assert 0 <= late_s <= LATE_S, f"destroyed {late_s:.1f}s after the last expiry"
    assert (stone["type"], stone["reason"]) == ("chat", "retention_expired")
    assert stone["policy_version"] == item["policy_version"]
    # Content unreadable: every object version gone; key gone: the wrapped key is shredded.
    wait_versions_gone(minio_client, service, item_id)
    (row,) = catalog_select(service, select(items).where(items.c.item_id == item_id))
    assert row["status"] == "destroyed"
    assert row["wrapped_key"] is None
    assert row["object_key"] is None
    assert row["event"] == {}
    parties = select(item_parties).where(item_parties.c.item_id == item_id)
    assert catalog_select(service, parties) == []
    destroyed = audit_actions(service, "item.destroyed")
    assert [e["item_id"] for e in destroyed if e["item_id"] == item_id] == [item_id]
    expired = [e for e in audit_actions(service, "purposes.expired") if e["item_id"] == item_id]
    # The last purpose to expire goes with the item (item.destroyed), not on its own.
    assert [e["details"]["expired"] for e in expired] == [["quality"]]


def test_item_no_rule_keeps_is_destroyed_at_the_next_sweep(
    service: KeeplineService, minio_client: Minio
) -> None:
    # The only e-mail of this module: no rule of POLICY matches e-mails, so the item is
    # stored without purposes and goes (its event, and so its event id, with it).
    emails = select(items.c.item_id, items.c.status).where(items.c.type == "email")
    event = artefact("email", subject="cust-norule")
    service.publish("emails", event, key=b"m")
    rows = wait_for(
        lambda: [r for r in catalog_select(service, emails) if r["status"] == "destroyed"],
        timeout_s=60,
        what="the e-mail to be destroyed",
    )
    item_id = rows[0]["item_id"]
    stone = tombstone(service, item_id)
    assert stone is not None
    assert stone["reason"] == "no_purpose"
    wait_versions_gone(minio_client, service, item_id)

    def duplicates() -> float:
        with service.client() as anonymous:
            return metric(anonymous.get("/metrics").text, "keepline_duplicate_events_total")

    # A republished event never brings it back.
    seen = duplicates()
    service.publish("emails", event, key=b"m")
    wait_for(
        lambda: duplicates() > seen, timeout_s=60, what="the republished event seen as a duplicate"
    )
    assert [r["item_id"] for r in catalog_select(service, emails)] == [item_id]


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
    keepline_factory: KeeplineFactory, minio_client: Minio
) -> None:
    # The service sweeps once at start and then only hourly: the command does the work.
    service = keepline_factory(policy_text=CLI_POLICY, env={"KEEPLINE_SWEEP_INTERVAL_S": "3600"})
    kept = ingest(service, artefact("chat", subject="cust-cli-kept"))
    doomed = [ingest(service, artefact("call_recording", subject="cust-cli")) for _ in range(2)]
    sleep_until(max(expiry(i, "quality") for i in doomed))

    dry = run_cli(service, "sweep", "--dry-run", "--json", "--progress")
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    planned = {e["item_id"]: e for e in lines if "item_id" in e}
    assert {planned[i["item_id"]]["action"] for i in doomed} == {"destroy"}
    assert planned[kept["item_id"]]["action"] == "drop_purposes"
    assert lines[-1]["summary"]["dry_run"] is True
    assert "sweeping [" in dry.stderr  # the progress bar
    with service.client("legal") as legal:
        assert all(legal.get(f"/v1/items/{i['item_id']}").status_code == 200 for i in doomed)

    real = run_cli(service, "sweep", "--json")
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
