"""`keepline reconcile` cannot be turned against the archive: the bucket names its catalog.

A full bucket, and a keepline pointed at an empty catalog (a wrong KEEPLINE_CATALOG_URL):
reconcile removes nothing, forced or not, and says why; serve refuses to start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from minio import Minio

from deploy.cache import free_port
from storage.objects.marker import MARKER_KEY
from tests.integration.ingest_support import chat_event, object_versions, wait_items
from tests.integration.keepline_service import KeeplineService


def _keepline(
    service: KeeplineService, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "keepline.cli", *args],
        env={**service.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_empty_catalog_against_a_full_bucket_deletes_nothing_and_says_why(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio, tmp_path: Path
) -> None:
    service = keepline_factory()
    for n in range(4):
        service.publish("chats", chat_event(f"mk-{n}", f"kept {n}".encode()), key=f"m{n}".encode())
    with service.client("legal") as http:
        items = wait_items(http, 4)
    before = sorted(object_versions(minio_client, service.bucket), key=str)
    assert len(before) == 4
    marker = json.loads(minio_client.get_object(service.bucket, MARKER_KEY).read())
    wrong = {"KEEPLINE_CATALOG_URL": f"sqlite:///{tmp_path / 'empty.db'}"}

    forced = _keepline(service, wrong, "reconcile", "--force", "--min-orphan-age-h", "0", "--json")
    assert forced.returncode == 3, forced.stderr
    assert f"the bucket's marker names catalog {marker['catalog_instance']}" in forced.stderr
    assert "--force does not change that" in forced.stderr
    assert json.loads(forced.stdout)["summary"]["removed"] == 0
    # Fresh objects are not even candidates at the default minimum age.
    young = _keepline(service, wrong, "reconcile", "--json")
    summary = json.loads(young.stdout)["summary"]
    assert (summary["young"], summary["orphans"], summary["removed"]) == (4, 0, 0)
    assert sorted(object_versions(minio_client, service.bucket), key=str) == before

    serve = _keepline(service, {**wrong, "KEEPLINE_API_PORT": str(free_port())}, "serve")
    assert serve.returncode != 0
    assert "the bucket belongs to catalog" in serve.stdout + serve.stderr
    assert sorted(object_versions(minio_client, service.bucket), key=str) == before
    with service.client("legal") as http:
        for item in items:
            assert http.get(f"/v1/items/{item['item_id']}/content").status_code == 200
