"""GET /v1/disposals and /v1/disposals/certificate: tombstones by date, a signed day's proof."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from keepline.commands.verify import verify_file
from service.retention.destruction import ItemDestroyer
from storage.sql.schema import audit
from tests.unit.api.conftest import NOW, TOKENS, Harness


async def _destroy(harness: Harness, item_id: str, *, reason: str = "retention_expired") -> None:
    storage = harness.storage
    record = await storage.catalog.get(item_id)
    assert record is not None
    destroyer = ItemDestroyer(storage.catalog, storage.store, storage.audit)
    assert await destroyer.destroy(record, reason=reason, actor="sweeper", at=harness.clock())


async def _destroyed_at(harness: Harness, offsets_min: list[int]) -> list[str]:
    """Destroy one new item at NOW + each offset (minutes); their ids in that order."""
    ids = []
    for offset in offsets_min:
        item_id = await harness.add_item(item_type="chat")
        harness.clock.now = NOW + timedelta(minutes=offset)
        await _destroy(harness, item_id)
        ids.append(item_id)
    harness.clock.now = NOW
    return ids


@pytest.mark.parametrize("role", ["auditor", "legal"])
async def test_tombstones_are_listed_oldest_first_by_date_and_page_on(
    harness: Harness, role: str
) -> None:
    late, early, middle = await _destroyed_at(harness, [30, -30, 0])
    async with harness.client(role) as http:
        everything = (await http.get("/v1/disposals")).json()
        window = await http.get(
            "/v1/disposals",
            params={
                "since": (NOW - timedelta(minutes=1)).isoformat(),
                "until": (NOW + timedelta(minutes=30)).isoformat(),
            },
        )
        first = (await http.get("/v1/disposals", params={"limit": 2})).json()
        rest = (
            await http.get("/v1/disposals", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
    assert [t["item_id"] for t in everything["disposals"]] == [early, middle, late]
    assert everything["next_cursor"] is None
    stone = everything["disposals"][1]
    assert stone == {
        "item_id": middle,
        "type": "chat",
        "destroyed_at": NOW.isoformat(),
        "reason": "retention_expired",
        "policy_version": "v-unit",
    }
    assert [t["item_id"] for t in window.json()["disposals"]] == [middle]
    assert [t["item_id"] for t in first["disposals"] + rest["disposals"]] == [early, middle, late]


async def test_other_roles_may_not_list_disposals(harness: Harness) -> None:
    for role in sorted(set(TOKENS) - {"auditor", "legal"}):
        async with harness.client(role) as http:
            assert (await http.get("/v1/disposals")).status_code == 403, role
            response = await http.get("/v1/disposals/certificate", params={"date": "2026-11-25"})
            assert response.status_code == 403, role
    async with harness.client() as anonymous:
        assert (await anonymous.get("/v1/disposals")).status_code == 401


async def test_a_window_that_ends_before_it_starts_is_refused(harness: Harness) -> None:
    async with harness.client("auditor") as http:
        response = await http.get(
            "/v1/disposals", params={"since": NOW.isoformat(), "until": NOW.isoformat()}
        )
        bad_cursor = await http.get("/v1/disposals", params={"cursor": "!!"})
    assert response.status_code == 422
    assert response.json()["field"] == "until"
    assert bad_cursor.status_code == 422


async def _certificate(harness: Harness, day: str, role: str = "auditor") -> bytes:
    async with harness.client(role) as http:
        response = await http.get("/v1/disposals/certificate", params={"date": day})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


async def _keys(harness: Harness) -> dict[str, object]:
    async with harness.client("auditor") as http:
        keys: dict[str, object] = (await http.get("/v1/signing-keys")).json()
    return keys


async def test_the_certificate_lists_that_days_destructions_and_verifies(
    harness: Harness, tmp_path: Path
) -> None:
    # NOW is 12:00 UTC: -13 hours is the day before, +11 hours still the same day.
    before, first, second = await _destroyed_at(harness, [-13 * 60, 0, 11 * 60])
    harness.clock.now = NOW + timedelta(days=1)
    data = await _certificate(harness, NOW.date().isoformat(), role="legal")
    path = tmp_path / "cert.zip"
    path.write_bytes(data)
    verdict = verify_file(path, await _keys(harness))
    assert verdict.ok, verdict.problems
    assert (verdict.kind, verdict.files) == ("disposal_certificate", 2)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        listing = json.loads(archive.read("destructions.json"))
        table = archive.read("destructions.csv").decode().splitlines()
    async with harness.client("auditor") as http:
        destroyed = (await http.get("/v1/audit", params={"action": "item.destroyed"})).json()
    seqs = {e["item_id"]: e["seq"] for e in destroyed["entries"]}
    assert [d["item_id"] for d in listing["destructions"]] == [first, second]
    assert [d["audit_seq"] for d in listing["destructions"]] == [seqs[first], seqs[second]]
    assert before not in {d["item_id"] for d in listing["destructions"]}
    assert listing["destructions"][0]["reason"] == "retention_expired"
    assert listing["destructions"][0]["policy_version"] == "v-unit"
    assert table[0] == "item_id,type,destroyed_at,reason,policy_version,audit_seq"
    assert len(table) == 3
    details = manifest["details"]
    assert details["date"] == NOW.date().isoformat()
    assert details["complete"] is True
    assert details["destructions"] == 2
    assert details["by_type"] == {"chat": 2}
    assert details["by_reason"] == {"retention_expired": 2}
    assert details["policy_versions"] == ["v-unit"]
    assert details["audit_seq_range"] == {"first": seqs[first], "last": seqs[second]}
    assert details["unaudited"] == 0


async def test_a_flipped_byte_of_a_certificate_fails_verification(
    harness: Harness, tmp_path: Path
) -> None:
    await _destroyed_at(harness, [0])
    data = await _certificate(harness, NOW.date().isoformat())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name in ("destructions.json", "manifest.json"):
        altered = dict(members)
        body = bytearray(altered[name])
        body[len(body) // 2] ^= 0x01
        altered[name] = bytes(body)
        path = tmp_path / f"altered-{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for member, content in altered.items():
                archive.writestr(member, content)
        verdict = verify_file(path, await _keys(harness))
        assert not verdict.ok
        assert any(name in problem or "signature" in problem for problem in verdict.problems), (
            verdict.problems
        )


async def test_issuing_a_certificate_is_audited_and_today_is_not_complete(
    harness: Harness,
) -> None:
    await _destroyed_at(harness, [0])
    data = await _certificate(harness, NOW.date().isoformat())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert json.loads(archive.read("manifest.json"))["details"]["complete"] is False
    async with harness.storage.db.connect() as conn:
        rows = (
            await conn.execute(audit.select().where(audit.c.action == "certificate.issued"))
        ).all()
    assert len(rows) == 1
    assert rows[0].actor == "auditor-user"
    assert rows[0].details["date"] == NOW.date().isoformat()
    assert rows[0].details["destructions"] == 1


async def test_a_day_with_no_destructions_has_an_empty_signed_certificate(
    harness: Harness, tmp_path: Path
) -> None:
    path = tmp_path / "empty.zip"
    path.write_bytes(await _certificate(harness, "2026-01-01"))
    assert verify_file(path, await _keys(harness)).ok
    with zipfile.ZipFile(path) as archive:
        details = json.loads(archive.read("manifest.json"))["details"]
    assert (details["destructions"], details["audit_seq_range"]) == (0, None)


@pytest.mark.parametrize(
    "day", ["2026-11-26", "9999-12-31", "2026-02-30", "0000-01-01", "26-11-25", "tomorrow"]
)
async def test_a_future_or_malformed_date_is_refused(harness: Harness, day: str) -> None:
    async with harness.client("auditor") as http:
        response = await http.get("/v1/disposals/certificate", params={"date": day})
    assert response.status_code == 422
    assert response.json()["field"] == "date"
