"""Proof of disposal on real Kafka and MinIO: items expire, the sweeper destroys them, and
they are listed by date and in that day's signed certificate, which `keepline verify` checks
offline; a flipped byte makes it fail naming the file.

On both catalogs (the listing pages on a (destroyed_at, item_id) range in SQL).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.sql.schema import audit
from tests.integration.catalog_support import catalog_select, on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import run_cli
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import (
    LATE_S,
    POLICY,
    artefact,
    expiry,
    fast_sweeps,
    ingest,
    sleep_until,
    tombstone,
)

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """One service sweeping every second."""
    return shared_keepline_factory(policy_text=POLICY, env=fast_sweeps())


def _flip(source: Path, target: Path, member: str) -> None:
    """Copy a zip, flipping one bit in the middle of one member."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    body = bytearray(members[member])
    body[len(body) // 2] ^= 0x01
    members[member] = bytes(body)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_destroyed_items_are_listed_and_certified_and_the_certificate_verifies_offline(
    service: KeeplineService, tmp_path: Path
) -> None:
    started_at = datetime.now(UTC) - timedelta(seconds=1)
    items = [ingest(service, artefact("chat", subject="cust-disposal")) for _ in range(2)]
    ids = [item["item_id"] for item in items]
    sleep_until(max(expiry(item, "training") for item in items))
    stones = [
        wait_for(lambda i=i: tombstone(service, i), timeout_s=LATE_S + 10, what="the tombstone")
        for i in ids
    ]

    with service.client("auditor") as auditor, service.client("legal") as legal:
        listed = auditor.get("/v1/disposals", params={"since": started_at.isoformat()})
        assert listed.status_code == 200
        mine = [d for d in listed.json()["disposals"] if d["item_id"] in ids]
        assert sorted(d["item_id"] for d in mine) == sorted(ids)
        for stone in mine:
            assert (stone["type"], stone["reason"]) == ("chat", "retention_expired")
            assert stone["policy_version"] == items[0]["policy_version"]
        before = auditor.get("/v1/disposals", params={"until": started_at.isoformat()})
        assert not {d["item_id"] for d in before.json()["disposals"]} & set(ids)
        with service.client("qa") as qa:
            assert qa.get("/v1/disposals").status_code == 403

        day = stones[0]["destroyed_at"].astimezone(UTC).date().isoformat()
        response = legal.get("/v1/disposals/certificate", params={"date": day})
        assert response.status_code == 200, response.text
        keys = auditor.get("/v1/signing-keys").json()

    cert = tmp_path / "certificate.zip"
    cert.write_bytes(response.content)
    keys_file = tmp_path / "signing-keys.json"
    keys_file.write_text(json.dumps(keys), encoding="utf-8")
    checked = run_cli(service, "verify", str(cert), "--keys", str(keys_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK, disposal_certificate" in checked.stdout

    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        listing = json.loads(archive.read("destructions.json"))["destructions"]
        details = json.loads(archive.read("manifest.json"))["details"]
    certified = {d["item_id"]: d for d in listing}
    assert set(ids) <= set(certified)
    seqs = {
        row["item_id"]: row["seq"]
        for row in catalog_select(
            service,
            select(audit.c.seq, audit.c.item_id).where(
                audit.c.action == "item.destroyed", audit.c.item_id.in_(ids)
            ),
        )
    }
    for item_id in ids:
        assert certified[item_id]["audit_seq"] == seqs[item_id]
        assert certified[item_id]["reason"] == "retention_expired"
    seq_range = details["audit_seq_range"]
    assert seq_range["first"] <= min(seqs.values())
    assert max(seqs.values()) <= seq_range["last"]
    assert items[0]["policy_version"] in details["policy_versions"]
    assert details["destructions"] == len(listing)

    for member in ("destructions.json", "manifest.json"):
        altered = tmp_path / f"altered-{member}.zip"
        _flip(cert, altered, member)
        failed = run_cli(service, "verify", str(altered), "--keys", str(keys_file))
        assert failed.returncode == 1, failed.stdout + failed.stderr
        expected = member if member != "manifest.json" else "manifest.sig"
        assert f"FAILED: {expected}" in failed.stdout, failed.stdout

    with service.client("auditor") as auditor:
        issued = auditor.get("/v1/audit", params={"action": "certificate.issued"}).json()
    assert [e["actor"] for e in issued["entries"]][-1:] == ["legal-user"]
