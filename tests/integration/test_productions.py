"""Legal productions on real Kafka and MinIO: a held set is produced in the background,
downloaded, verified offline by `keepline verify`, and a flipped byte is named; a hold
released while its production runs keeps its items until the production is done.

On both catalogs. The tests share one service and keep to their own subjects and holds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import ContentServer, KeeplineFactory
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
from tests.integration.retention_support import POLICY as RETENTION_POLICY

POLICY = """
purposes:
  legal: {basis: legal_obligation, retention: P1D, roles: [legal]}
rules:
  - match: {}
    purposes: [legal]
"""

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServer
) -> KeeplineService:
    """A service whose items are kept for a day, fetching content from the test server."""
    return shared_keepline_factory(policy_text=POLICY, content_sources=[content_server.base_url])


def with_content(
    event: dict[str, Any], content_server: ContentServer, data: bytes, content_type: str
) -> dict[str, Any]:
    """The event with its content fetched by reference from the test's content server."""
    event.pop("content_inline", None)
    event["content"] = {
        "uri": content_server(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": content_type,
    }
    return event


def produce(http: httpx.Client, hold_id: str) -> dict[str, Any]:
    """Request a production of the hold and wait until it is ready; its status."""
    response = http.post(f"/v1/holds/{hold_id}/productions")
    assert response.status_code == 202, response.text
    production_id = response.json()["production_id"]

    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/v1/productions/{production_id}").json()
        assert body["status"] != "failed", body
        return body if body["status"] == "ready" else None

    return wait_for(ready, timeout_s=120, what="the production to be ready")


def keepline_verify(bundle: Path, keys: Path) -> subprocess.CompletedProcess[str]:
    """`keepline verify BUNDLE --keys KEYS`, as an operator runs it (no service needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPLINE_")}
    return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [sys.executable, "-m", "keepline.cli", "verify", str(bundle), "--keys", str(keys)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def flip(source: Path, member: str, target: Path) -> Path:
    """A copy of the zip with one byte in the middle of one member's data flipped."""
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(member)
    data = bytearray(source.read_bytes())
    offset = info.header_offset
    name_len = int.from_bytes(data[offset + 26 : offset + 28], "little")
    extra_len = int.from_bytes(data[offset + 28 : offset + 30], "little")
    data[offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0x01
    target.write_bytes(data)
    return target


@dataclass(frozen=True)
class Produced:
    """A production of three held items, downloaded, and the key set to check it with."""

    production_id: str
    subject: str
    status: dict[str, Any]
    items: dict[str, dict[str, Any]]
    recording: bytes
    email: bytes
    bundle: Path
    keys: Path


@pytest.fixture(scope="module")
def produced(
    service: KeeplineService,
    content_server: ContentServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Produced:
    """Ingest a recording, an e-mail and a chat of one subject, hold them, produce them."""
    subject = f"cust-prod-{uuid.uuid4().hex[:8]}"
    recording = os.urandom(3 << 20)
    email = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: fx\r\n\r\nCall me.\r\n"
    call = artefact("call_recording", subject=subject, staff="agent-p")
    mail = artefact("email", subject=subject)
    items = {
        "call": ingest(service, with_content(call, content_server, recording, "audio/wav")),
        "email": ingest(service, with_content(mail, content_server, email, "message/rfc822")),
        "chat": ingest(service, artefact("chat", subject=subject, data=b"agent: hello")),
    }
    ingest(service, artefact("chat", subject=f"{subject}-other"))
    with service.client("legal") as http:
        hold = http.post(
            "/v1/holds",
            json={"matter": "FCA-2026-117", "criteria": {"subject_ids": [subject]}},
        ).json()
        assert hold["matched"] == 3
        status = produce(http, hold["hold_id"])
        download = http.get(f"/v1/productions/{status['production_id']}/download")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        keys = http.get("/v1/signing-keys").json()
    folder = tmp_path_factory.mktemp("production")
    bundle = folder / "production.zip"
    bundle.write_bytes(download.content)
    keys_file = folder / "signing-keys.json"
    keys_file.write_text(json.dumps(keys), encoding="utf-8")
    return Produced(
        status["production_id"], subject, status, items, recording, email, bundle, keys_file
    )


def test_a_held_set_is_produced_with_natives_and_a_loadfile_and_verifies_offline(
    produced: Produced,
) -> None:
    status = produced.status
    assert status["progress"]["items_total"] == 3
    assert status["progress"]["items_done"] == 3
    assert status["progress"]["bytes_done"] >= len(produced.recording)
    assert produced.bundle.stat().st_size == status["size_bytes"]

    verified = keepline_verify(produced.bundle, produced.keys)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK, production of 4 files" in verified.stdout

    call, mail, chat = (produced.items[k] for k in ("call", "email", "chat"))
    with zipfile.ZipFile(produced.bundle) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("loadfile.csv").decode("utf-8"))))
        by_item = {row["item_id"]: row for row in rows}
        assert set(by_item) == {call["item_id"], mail["item_id"], chat["item_id"]}
        assert by_item[call["item_id"]]["path"].endswith(".wav")
        assert archive.read(by_item[call["item_id"]]["path"]) == produced.recording
        assert by_item[call["item_id"]]["sha256"] == call["content"]["sha256"]
        assert by_item[call["item_id"]]["staff"] == "agent-p"
        assert by_item[mail["item_id"]]["path"].endswith(".eml")
        assert archive.read(by_item[mail["item_id"]]["path"]) == produced.email
        assert archive.read(by_item[chat["item_id"]]["path"]) == b"agent: hello"
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["details"]["matter"] == "FCA-2026-117"


def test_a_flipped_byte_of_a_file_or_of_the_manifest_fails_verify_naming_it(
    produced: Produced, tmp_path: Path
) -> None:
    with zipfile.ZipFile(produced.bundle) as archive:
        native = next(name for name in archive.namelist() if name.endswith(".wav"))
    broken = keepline_verify(flip(produced.bundle, native, tmp_path / "n.zip"), produced.keys)
    assert broken.returncode == 1
    assert f"FAILED: {native}:" in broken.stdout
    manifest = flip(produced.bundle, "manifest.json", tmp_path / "m.zip")
    broken = keepline_verify(manifest, produced.keys)
    assert broken.returncode == 1
    assert "FAILED: manifest.json" in broken.stdout


def test_the_production_is_sealed_in_the_bucket_and_its_download_audited(
    service: KeeplineService, produced: Produced, minio_client: Minio
) -> None:
    key = f"productions/{produced.production_id}"
    objects = list(minio_client.list_objects(service.bucket, prefix="productions/"))
    assert key in [o.object_name for o in objects]
    stored = minio_client.get_object(service.bucket, key)
    try:
        head = stored.read(4096)
    finally:
        stored.close()
        stored.release_conn()
    assert not head.startswith(b"PK")  # ciphertext, not the zip
    assert produced.subject.encode() not in head

    def entries(action: str) -> list[dict[str, Any]]:
        return [
            e
            for e in audit_actions(service, action)
            if e["details"]["production_id"] == produced.production_id
        ]

    assert [e["actor"] for e in entries("production.requested")] == ["legal-user"]
    assert [e["actor"] for e in entries("production.downloaded")] == ["legal-user"]
    assert [e["actor"] for e in entries("production.ready")] == ["keepline:production"]


@pytest.fixture(scope="module")
def sweeping(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServer
) -> KeeplineService:
    """A service of second-scale retentions that sweeps every second."""
    return shared_keepline_factory(
        policy_text=RETENTION_POLICY,
        env=fast_sweeps(),
        content_sources=[content_server.base_url],
    )


def test_a_hold_released_while_its_production_runs_keeps_the_items_until_it_is_done(
    sweeping: KeeplineService, content_server: ContentServer, tmp_path: Path
) -> None:
    service = sweeping
    subject = f"cust-rel-{uuid.uuid4().hex[:8]}"
    recording = os.urandom(24 << 20)  # long enough to build that sweeps run meanwhile
    call = ingest(
        service,
        with_content(
            artefact("call_recording", subject=subject), content_server, recording, "audio/wav"
        ),
    )
    chat = ingest(service, artefact("chat", subject=subject))
    items = [call["item_id"], chat["item_id"]]
    with service.client("legal") as http:
        hold = http.post(
            "/v1/holds", json={"matter": "m-release", "criteria": {"subject_ids": [subject]}}
        ).json()
        assert hold["matched"] == 2
        sleep_until(max(expiry(call, "legal"), expiry(chat, "training")))
        for item_id in items:  # every purpose has expired: only the hold keeps them
            wait_for(
                lambda i=item_id: http.get(f"/v1/items/{i}").json()["purposes"] == [],
                timeout_s=LATE_S + 2,
                what="the expired purposes to drop",
            )
        requested = http.post(f"/v1/holds/{hold['hold_id']}/productions")
        assert requested.status_code == 202
        production_id = requested.json()["production_id"]
        assert http.post(f"/v1/holds/{hold['hold_id']}/release").status_code == 200

        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(f"/v1/productions/{production_id}").json()
            return body if body["status"] in {"ready", "failed"} else None

        status = wait_for(finished, timeout_s=120, what="the production to finish")
        assert status["status"] == "ready", status
        stones = [
            wait_for(lambda i=item_id: tombstone(service, i), timeout_s=LATE_S + 5, what="gone")
            for item_id in items
        ]
        download = http.get(f"/v1/productions/{production_id}/download")
        keys = http.get("/v1/signing-keys").json()
    done_at = datetime.fromisoformat(status["finished_at"])
    assert all(stone["destroyed_at"] >= done_at for stone in stones), (stones, done_at)
    bundle = tmp_path / "production.zip"
    bundle.write_bytes(download.content)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(keys), encoding="utf-8")
    assert keepline_verify(bundle, keys_file).returncode == 0
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("loadfile.csv").decode("utf-8"))))
        native = next(r["path"] for r in rows if r["item_id"] == call["item_id"])
        assert archive.read(native) == recording
    assert manifest["details"]["missing_item_ids"] == []
    assert {row["item_id"] for row in rows} == set(items)
