"""Legal holds on real Kafka and MinIO: holds beat expiry, flags follow coverage, counts add up.

On both catalogs. The tests share two services (one sweeping every second, one whose items
last a day) and keep to their own subjects, staff and holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from minio import Minio
from minio.error import S3Error

from storage.models import object_key_for
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
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

LONG_POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: P1D, roles: [qa, legal]}
rules:
  - match: {}
    purposes: [quality]
"""

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def sweeping(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """A service of second-scale retentions that sweeps every second."""
    return shared_keepline_factory(policy_text=POLICY, env=fast_sweeps())


@pytest.fixture(scope="module")
def lasting(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """A service whose items are kept for a day."""
    return shared_keepline_factory(policy_text=LONG_POLICY)


def flag(minio_client: Minio, service: KeeplineService, item_id: str) -> bool:
    """Whether MinIO has the legal-hold flag on the item's (only) object version."""
    versions = object_versions(minio_client, service, item_id)
    assert len(versions) == 1
    return bool(
        minio_client.is_object_legal_hold_enabled(
            service.bucket, object_key_for(item_id), version_id=versions[0].version_id
        )
    )


def place(service: KeeplineService, criteria: dict[str, Any], matter: str = "m-1") -> Any:
    """POST /v1/holds as legal; the response body."""
    with service.client("legal") as http:
        response = http.post(
            "/v1/holds", json={"matter": matter, "description": "test", "criteria": criteria}
        )
    assert response.status_code == 201, response.text
    return settled(service, response.json())


def settled(service: KeeplineService, hold: dict[str, Any]) -> dict[str, Any]:
    """The hold once its S3 legal-hold flags, which follow in the background, are all set."""
    with service.client("legal") as http:
        wait_for(
            lambda: http.get(f"/v1/holds/{hold['hold_id']}").json()["flags_pending"] == 0,
            what="the hold's S3 legal-hold flags",
        )
    return hold


def release(service: KeeplineService, hold_id: str) -> Any:
    """POST /v1/holds/{hold_id}/release as legal; the response body."""
    with service.client("legal") as http:
        response = http.post(f"/v1/holds/{hold_id}/release")
    assert response.status_code == 200, response.text
    return settled(service, response.json())


def test_held_item_survives_expiry_and_goes_after_release(
    sweeping: KeeplineService, minio_client: Minio
) -> None:
    service = sweeping
    held = ingest(service, artefact("chat", subject="cust-held"))
    free = ingest(service, artefact("chat", subject="cust-free"))
    hold = place(service, {"subject_ids": ["cust-held"]}, matter="acme-v-keepline")
    assert hold["matched"] == 1
    assert hold["matter"] == "acme-v-keepline"
    assert hold["created_by"] == "legal-user"
    assert hold["released_at"] is None
    assert flag(minio_client, service, held["item_id"])
    assert not flag(minio_client, service, free["item_id"])
    # MinIO itself refuses to delete the held version, even bypassing governance.
    version = object_versions(minio_client, service, held["item_id"])[0]
    with pytest.raises(S3Error):
        minio_client.remove_object(
            service.bucket, object_key_for(held["item_id"]), version_id=version.version_id
        )

    sleep_until(max(expiry(held, "training"), expiry(free, "training")))
    wait_for(lambda: tombstone(service, free["item_id"]), timeout_s=LATE_S + 2, what="free gone")
    with service.client("legal") as legal:
        body = legal.get(f"/v1/items/{held['item_id']}").json()
        assert body["status"] == "stored"
        assert body["holds"] == [hold["hold_id"]]
        assert body["purposes"] == []  # expired purposes drop; the hold keeps the item
    assert tombstone(service, held["item_id"]) is None

    released = release(service, hold["hold_id"])
    assert released["released_at"] is not None
    assert released["released_by"] == "legal-user"
    released_at = datetime.now(UTC)
    stone = wait_for(
        lambda: tombstone(service, held["item_id"]), timeout_s=LATE_S + 2, what="held gone"
    )
    assert (stone["destroyed_at"] - released_at).total_seconds() <= LATE_S
    wait_versions_gone(minio_client, service, held["item_id"])
    placed = [
        e for e in audit_actions(service, "hold.placed") if e["details"]["matter"] == hold["matter"]
    ]
    assert [(e["actor"], e["details"]["hold_id"]) for e in placed] == [
        ("legal-user", hold["hold_id"])
    ]
    freed = [
        e
        for e in audit_actions(service, "hold.released")
        if e["details"]["hold_id"] == hold["hold_id"]
    ]
    assert [e["details"]["items_freed"] for e in freed] == [1]


def test_hold_covers_items_ingested_after_it(lasting: KeeplineService, minio_client: Minio) -> None:
    service = lasting
    before = ingest(service, artefact("email", subject="cust-a", staff="agent-z"))
    criteria = {"staff_ids": ["agent-z"], "types": ["chat"]}
    with service.client("legal") as http:
        assert http.post("/v1/holds/preview", json={"criteria": criteria}).json() == {"matched": 0}
    hold = place(service, criteria)
    assert hold["matched"] == 0
    later = ingest(service, artefact("chat", subject="cust-b", staff="agent-z"))
    other = ingest(service, artefact("chat", subject="cust-c", staff="agent-y"))
    assert later["holds"] == [hold["hold_id"]]
    assert other["holds"] == []
    assert flag(minio_client, service, later["item_id"])
    assert not flag(minio_client, service, other["item_id"])
    assert not flag(minio_client, service, before["item_id"])
    with service.client("legal") as http:
        assert http.get(f"/v1/holds/{hold['hold_id']}").json()["matched"] == 1
        assert http.post("/v1/holds/preview", json={"criteria": criteria}).json() == {"matched": 1}
        second = place(service, {"subject_ids": ["cust-b", "cust-c"]}, matter="m-2")
        assert second["matched"] == 2
        mine = {hold["hold_id"], second["hold_id"]}
        listed = [h for h in http.get("/v1/holds").json()["holds"] if h["hold_id"] in mine]
        assert [(h["hold_id"], h["matched"]) for h in listed] == [
            (second["hold_id"], 2),
            (hold["hold_id"], 1),
        ]
        active = http.get("/v1/holds", params={"active": "true"}).json()["holds"]
        assert mine <= {h["hold_id"] for h in active}


def test_several_holds_on_one_item_are_released_independently(
    sweeping: KeeplineService, minio_client: Minio
) -> None:
    service = sweeping
    item = ingest(service, artefact("chat", subject="cust-2h", staff="agent-2h"))
    first = place(service, {"subject_ids": ["cust-2h"]}, matter="m-first")
    second = place(service, {"staff_ids": ["agent-2h"]}, matter="m-second")
    sleep_until(expiry(item, "training"))
    release(service, first["hold_id"])
    assert flag(minio_client, service, item["item_id"])  # the other hold still covers it
    with service.client("legal") as legal:
        wait_for(
            lambda: legal.get(f"/v1/items/{item['item_id']}").json()["purposes"] == [],
            timeout_s=LATE_S + 2,
            what="the expired purposes to drop",
        )
        body = legal.get(f"/v1/items/{item['item_id']}").json()
        assert body["holds"] == [second["hold_id"]]
    assert tombstone(service, item["item_id"]) is None
    release(service, second["hold_id"])
    wait_for(lambda: tombstone(service, item["item_id"]), timeout_s=LATE_S + 2, what="item gone")
    wait_versions_gone(minio_client, service, item["item_id"])


def test_hold_requests_are_validated_and_need_the_legal_role(lasting: KeeplineService) -> None:
    service = lasting
    with service.client("legal") as http:
        before = http.get("/v1/holds").json()["holds"]
        cases = [
            ({"matter": "m", "criteria": {"types": ["fax"]}}, "criteria.types[0]"),
            ({"matter": "m", "criteria": {}}, "criteria"),
            ({"matter": "m", "criteria": {"subject_ids": []}}, "criteria.subject_ids"),
            ({"matter": "m", "criteria": {"since": "yesterday"}}, "criteria.since"),
            ({"matter": "m", "criteria": {"colour": ["red"]}}, "criteria.colour"),
            ({"criteria": {"subject_ids": ["x"]}}, "matter"),
        ]
        for body, field in cases:
            response = http.post("/v1/holds", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["field"] == field, response.json()
        assert http.get("/v1/holds").json()["holds"] == before  # nothing refused was placed
        hold = place(service, {"subject_ids": ["cust-x"]})
        assert http.post(f"/v1/holds/{hold['hold_id']}/release").status_code == 200
        again = http.post(f"/v1/holds/{hold['hold_id']}/release")
        assert again.status_code == 409
        assert http.post("/v1/holds/00000000-0000-0000-0000-000000000000/release").status_code == (
            404
        )
        assert http.get("/v1/holds/00000000-0000-0000-0000-000000000000").status_code == 404
    for role in ("qa", "privacy", "auditor", "admin", "ingest"):
        with service.client(role) as http:
            assert http.get("/v1/holds").status_code == 403
            post = http.post("/v1/holds", json={"matter": "m", "criteria": {"types": ["chat"]}})
            assert post.status_code == 403
            preview = http.post("/v1/holds/preview", json={"criteria": {"types": ["chat"]}})
            assert preview.status_code == 403
    with service.client() as anonymous:
        assert anonymous.get("/v1/holds").status_code == 401


def test_a_release_reason_is_stored_shown_and_audited(
    lasting: KeeplineService, minio_client: Minio
) -> None:
    service = lasting
    item = ingest(service, artefact("chat", subject="cust-reason"))
    hold = place(service, {"subject_ids": ["cust-reason"]}, matter="reason-matter")
    assert flag(minio_client, service, item["item_id"])
    reason = "Matter closed: settlement signed 2026-11-30 (ref. LIT-77)"
    with service.client("legal") as http:
        too_long = http.post(f"/v1/holds/{hold['hold_id']}/release", json={"reason": "x" * 2001})
        assert too_long.status_code == 422, too_long.text
        assert too_long.json()["field"] == "reason"
        assert http.get(f"/v1/holds/{hold['hold_id']}").json()["active"] is True
        released = http.post(f"/v1/holds/{hold['hold_id']}/release", json={"reason": reason})
        assert released.status_code == 200, released.text
        shown = http.get(f"/v1/holds/{hold['hold_id']}").json()
    assert shown["release_reason"] == reason
    assert shown["active"] is False
    wait_for(
        lambda: not flag(minio_client, service, item["item_id"]), timeout_s=30, what="flag cleared"
    )
    entries = [
        e
        for e in audit_actions(service, "hold.released")
        if e["details"]["hold_id"] == hold["hold_id"]
    ]
    assert [e["details"]["reason"] for e in entries] == [reason]
