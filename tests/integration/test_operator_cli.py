"""The operator commands (`keepline items|holds|subjects|audit|policy …`) against a real API.

One `keepline serve` on real Kafka and MinIO; each command runs as its own process with
KEEPLINE_URL and the KEEPLINE_TOKEN of a role, as an operator runs it. Each test keeps to
its own data subject.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deploy.cache import free_port
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import TOKENS, KeeplineService
from tests.integration.retention_support import artefact, ingest

POLICY = """
purposes:
  quality:   {basis: legitimate_interests, retention: P1D, roles: [qa, legal]}
  legal:     {basis: legal_obligation,     retention: P1D, roles: [legal]}
  marketing: {basis: consent,              retention: P1D, roles: [qa]}
rules:
  - match: {type: chat}
    purposes: [quality]
  - match: {}
    purposes: [quality, legal]
"""

NEW_POLICY = POLICY.replace(
    "quality:   {basis: legitimate_interests, retention: P1D",
    ("quality:   {basis: legitimate_interests, retention: P2D"),
)
DATA = b"Hello, this is a chat the operator reads back. " * 4000


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """One service every test of the module shares, each on its own subject."""
    return shared_keepline_factory(policy_text=POLICY)


def keepline(
    service: KeeplineService, role: str | None, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `keepline <args>` as role (None: no token) against the service's API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPLINE_")}
    env["KEEPLINE_URL"] = url or service.url
    if role is not None:
        env["KEEPLINE_TOKEN"] = TOKENS[role]
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "keepline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def subject() -> str:
    return f"cust-{uuid.uuid4().hex[:10]}"


def stored(service: KeeplineService, subject_id: str, kind: str = "chat") -> dict[str, Any]:
    return ingest(service, artefact(kind, subject=subject_id, staff="agent-9", data=DATA))


def test_help_lists_the_operator_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "keepline.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for name in ("items", "holds", "subjects", "audit", "policy", "completion", "sweep", "serve"):
        assert name in result.stdout


def test_items_list_show_and_download(service: KeeplineService, tmp_path: Path) -> None:
    who = subject()
    chat = stored(service, who)
    call = stored(service, who, "call_recording")

    listed = ok_json(keepline(service, "legal", "items", "list", "--subject", who, "--json"))
    assert {i["item_id"] for i in listed["items"]} == {chat["item_id"], call["item_id"]}
    table = keepline(service, "legal", "items", "list", "--subject", who, "--type", "chat")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["ITEM", "TYPE"]
    assert chat["item_id"] in table.stdout
    assert call["item_id"] not in table.stdout

    shown = ok_json(keepline(service, "legal", "items", "show", chat["item_id"], "--json"))
    assert shown["item_id"] == chat["item_id"]
    assert [p["name"] for p in shown["purposes"]] == ["quality"]
    people = keepline(service, "qa", "items", "show", chat["item_id"], "--purpose", "quality")
    assert people.returncode == 0, people.stderr
    assert "sha256" in people.stdout

    target = tmp_path / "chat.txt"
    got = keepline(
        service, "legal", "items", "download", chat["item_id"], "-o", str(target), "--progress"
    )
    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == DATA
    assert f"of {len(DATA) / 1024:.1f} KiB" in got.stderr  # the bar reached the whole size
    assert not (tmp_path / "chat.txt.part").exists()


def test_items_refused_and_missing_exit_1(service: KeeplineService, tmp_path: Path) -> None:
    who = subject()
    chat = stored(service, who)
    # qa must name a purpose of its own; marketing-only roles do not see quality items
    denied = keepline(service, "qa", "items", "list", "--subject", who)
    assert denied.returncode == 1
    assert "keepline items list:" in denied.stderr
    assert "Traceback" not in denied.stderr
    missing = keepline(service, "legal", "items", "show", "no-such-item")
    assert missing.returncode == 1
    assert "404" in missing.stderr
    # the auditor may not read content: 403, and no file is left behind
    target = tmp_path / "never"
    refused = keepline(service, "auditor", "items", "download", chat["item_id"], "-o", str(target))
    assert refused.returncode == 1
    assert "403" in refused.stderr
    assert not target.exists()
    assert not (tmp_path / "never.part").exists()


def test_holds_preview_place_list_release(service: KeeplineService) -> None:
    who = subject()
    first, second = stored(service, who), stored(service, who, "email")

    preview = ok_json(keepline(service, "legal", "holds", "preview", "--subject", who, "--json"))
    assert preview == {"matched": 2}
    people = keepline(service, "legal", "holds", "preview", "--subject", who, "--type", "email")
    assert people.returncode == 0, people.stderr
    assert "cover 1 items" in people.stdout

    matter = f"matter-{uuid.uuid4().hex[:6]}"
    hold = ok_json(
        keepline(service, "legal", "holds", "place", "--matter", matter, "--subject", who, "--json")
    )
    assert hold["matched"] == 2
    assert hold["active"] is True
    covered = ok_json(keepline(service, "legal", "items", "show", first["item_id"], "--json"))
    assert hold["hold_id"] in json.dumps(covered["holds"])

    listed = ok_json(keepline(service, "legal", "holds", "list", "--state", "active", "--json"))
    assert hold["hold_id"] in [h["hold_id"] for h in listed["holds"]]
    table = keepline(service, "legal", "holds", "list")
    row = next(line for line in table.stdout.splitlines() if hold["hold_id"] in line)
    assert matter in row
    assert "active" in row

    released = ok_json(keepline(service, "legal", "holds", "release", hold["hold_id"], "--json"))
    assert released["active"] is False
    again = keepline(service, "legal", "holds", "release", hold["hold_id"])
    assert again.returncode == 1
    assert "409" in again.stderr
    shown = ok_json(keepline(service, "legal", "holds", "show", hold["hold_id"], "--json"))
    assert shown["released_by"] == "legal-user"
    assert second["item_id"] != first["item_id"]
    # another role may not place holds
    denied = keepline(service, "qa", "holds", "place", "--matter", "x", "--subject", who)
    assert denied.returncode == 1
    assert "403" in denied.stderr


def test_subjects_export_restrict_object_consent(service: KeeplineService, tmp_path: Path) -> None:
    who = subject()
    item = stored(service, who)

    target = tmp_path / "export.zip"
    exported = keepline(service, "privacy", "subjects", "export", who, "-o", str(target))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(target) as archive:
        metadata = json.loads(archive.read("items.json"))
        assert item["item_id"] in json.dumps(metadata)
        assert any(archive.read(n) == DATA for n in archive.namelist() if n != "items.json")

    restricted = ok_json(keepline(service, "privacy", "subjects", "restrict", who, "--json"))
    assert restricted["restricted"] is True
    shown = ok_json(keepline(service, "legal", "items", "show", item["item_id"], "--json"))
    assert shown["restricted"] is True
    lifted = keepline(service, "privacy", "subjects", "restrict", who, "--lift")
    assert lifted.returncode == 0, lifted.stderr
    assert "not restricted" in lifted.stdout

    granted = ok_json(
        keepline(service, "privacy", "subjects", "consent", who, "grant", "marketing", "--json")
    )
    assert granted["granted"] is True
    withdrawn = keepline(service, "privacy", "subjects", "consent", who, "withdraw", "marketing")
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "withdrawn" in withdrawn.stdout

    objected = ok_json(
        keepline(service, "privacy", "subjects", "object", who, "--purpose", "quality", "--json")
    )
    assert objected["items_changed"] == [item["item_id"]]
    unknown = keepline(service, "privacy", "subjects", "object", who, "--purpose", "nonesuch")
    assert unknown.returncode == 1
    assert "422" in unknown.stderr


def test_subjects_erase_asks_for_yes_then_reports(service: KeeplineService) -> None:
    who = subject()
    item = stored(service, who)
    unconfirmed = keepline(service, "privacy", "subjects", "erase", who)
    assert unconfirmed.returncode == 2
    listed = ok_json(keepline(service, "legal", "items", "list", "--subject", who, "--json"))
    assert [i["item_id"] for i in listed["items"]] == [item["item_id"]]

    report = ok_json(keepline(service, "privacy", "subjects", "erase", who, "--yes", "--json"))
    assert report["erased"] == [item["item_id"]]
    assert report["retained"] == []
    gone = ok_json(keepline(service, "legal", "items", "list", "--subject", who, "--json"))
    assert gone["items"] == []


def test_audit_list_and_verify(service: KeeplineService) -> None:
    who = subject()
    item = stored(service, who)
    read = keepline(service, "legal", "items", "download", item["item_id"], "-o", "-")
    assert read.returncode == 0, read.stderr
    assert read.stdout.encode() == DATA

    entries = ok_json(
        keepline(
            service,
            "auditor",
            "audit",
            "list",
            "--item",
            item["item_id"],
            "--action",
            "content.read",
            "--json",
        )
    )
    assert [e["action"] for e in entries["entries"]] == ["content.read"]
    assert entries["entries"][0]["actor"] == "legal-user"
    table = keepline(service, "auditor", "audit", "list", "--item", item["item_id"])
    assert "content.read" in table.stdout

    verdict = ok_json(keepline(service, "auditor", "audit", "verify", "--json"))
    assert verdict["ok"] is True
    assert verdict["entries"] >= 1
    people = keepline(service, "auditor", "audit", "verify")
    assert people.returncode == 0
    assert "intact" in people.stdout
    denied = keepline(service, "legal", "audit", "verify")
    assert denied.returncode == 1
    assert "403" in denied.stderr


def test_policy_show_diff_apply(service: KeeplineService, tmp_path: Path) -> None:
    who = subject()
    stored(service, who)
    active = ok_json(keepline(service, "qa", "policy", "show", "--json"))
    assert sorted(active["purposes"]) == ["legal", "marketing", "quality"]
    table = keepline(service, "qa", "policy", "show")
    assert "legitimate_interests" in table.stdout

    new_file = tmp_path / "policy.yaml"
    new_file.write_text(NEW_POLICY, encoding="utf-8")
    diff = keepline(service, "admin", "policy", "diff", str(new_file))
    assert diff.returncode == 0, diff.stderr
    assert "+  quality:   {basis: legitimate_interests, retention: P2D" in diff.stdout
    planned = ok_json(keepline(service, "admin", "policy", "diff", str(new_file), "--json"))
    assert planned["active_version"] == active["version"]
    assert planned["items_changed"] >= 1
    assert planned["changes"]["moved"]["quality"] >= 1
    # the dry run activated nothing
    assert (
        ok_json(keepline(service, "qa", "policy", "show", "--json"))["version"]
        == (active["version"])
    )

    denied = keepline(service, "legal", "policy", "apply", str(new_file), "--api")
    assert denied.returncode == 1
    assert "403" in denied.stderr
    applied = ok_json(
        keepline(service, "admin", "policy", "apply", str(new_file), "--url", service.url, "--json")
    )
    assert applied["activated"] is True
    assert applied["previous_version"] == active["version"]
    now = ok_json(keepline(service, "qa", "policy", "show", "--json"))
    assert now["version"] == applied["version"] != active["version"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("purposes: [", encoding="utf-8")
    refused = keepline(service, "admin", "policy", "apply", str(broken), "--api")
    assert refused.returncode == 1
    assert "422" in refused.stderr


def test_unreachable_and_unconfigured(service: KeeplineService) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = keepline(service, "legal", "holds", "list", url=nobody)
    assert unreachable.returncode == 3
    assert "cannot reach the API" in unreachable.stderr
    no_token = keepline(service, None, "holds", "list")
    assert no_token.returncode == 2
    assert "KEEPLINE_TOKEN" in no_token.stderr
    bad_url = keepline(service, "legal", "holds", "list", "--url", "ftp://x")
    assert bad_url.returncode == 2
    usage = keepline(service, "legal", "holds", "place")  # --matter missing
    assert usage.returncode == 2
    # a token the API does not know is refused, not crashed on
    env_token = keepline(service, "legal", "audit", "verify")
    assert env_token.returncode == 1
    assert TOKENS["legal"] not in env_token.stderr
