"""GET /v1/subjects/{subject_id}/access-report, and the report in the export zip."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from tests.unit.api.conftest import NOW, Harness


async def test_the_report_groups_the_subjects_items_by_type(harness: Harness) -> None:
    chat = await harness.add_item(subject_id="cust-r")
    mail = await harness.add_item(
        subject_id="cust-r",
        item_type="email",
        purposes=(("legal", "legal_obligation", timedelta(days=5 * 365)),),
    )
    await harness.add_item(subject_id="cust-other")
    async with harness.client("privacy") as privacy:
        response = await privacy.get("/v1/subjects/cust-r/access-report")
        assert response.status_code == 200, response.text
        report = response.json()
        archive = zipfile.ZipFile(
            io.BytesIO((await privacy.get("/v1/subjects/cust-r/export")).content)
        )
    sections = {s["type"]: s for s in report["items_by_type"]}
    assert sections["chat"]["item_ids"] == [chat]
    assert sections["chat"]["sources"] == ["unit"]
    assert [(p["name"], p["retention"]) for p in sections["chat"]["purposes"]] == [
        ("legal", "P5Y"),
        ("quality", "P90D"),
    ]
    assert sections["email"]["item_ids"] == [mail]
    assert report["recipients"] == []
    assert report["restricted"] is False
    assert report["generated_at"] == NOW.isoformat()
    readable = archive.read("access-report.txt").decode()
    assert "Chats: 1" in readable
    assert "E-mails: 1" in readable
    assert "We have disclosed none of these communications to anyone." in readable


async def test_a_subject_with_nothing_gets_an_empty_report(harness: Harness) -> None:
    async with harness.client("privacy") as privacy:
        report = (await privacy.get("/v1/subjects/cust-none/access-report")).json()
    assert report["items_by_type"] == []
    assert report["objections"] == []


async def test_only_privacy_reads_access_reports(harness: Harness) -> None:
    for role in ("ingest", "qa", "legal", "auditor", "admin"):
        async with harness.client(role) as http:
            assert (await http.get("/v1/subjects/cust-r/access-report")).status_code == 403
