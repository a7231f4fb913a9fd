"""A 2 GiB recording streams through in bounded memory; its peak RSS is measured."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from minio import Minio

from tests.integration.ingest_support import (
    GeneratedContent,
    call_event,
    generated_content,  # noqa: F401 - fixture
    object_versions,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService

SIZE_BYTES = 2 << 30
RSS_LIMIT_MB = 200


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def test_two_gib_recording_peak_rss_well_under_200_mb(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    # KEEPLINE_RSS_ENV adds settings to measure other configurations (e.g. the part size).
    extra = dict(item.split("=", 1) for item in os.environ.get("KEEPLINE_RSS_ENV", "").split())
    service = keepline_factory(env=extra)
    pid = service._proc.pid if service._proc is not None else 0
    assert pid
    rss_before_kb = _status_kb(pid, "VmRSS")
    ref = generated_content.ref(SIZE_BYTES, seed=2)
    started = time.monotonic()
    service.publish("calls", call_event("big-1", ref), key=b"call-big")

    with service.client("legal") as http:
        item = wait_items(http, 1, timeout_s=600)[0]
        elapsed_s = time.monotonic() - started
        peak_kb = _status_kb(pid, "VmHWM")
        assert item["content"]["size_bytes"] == SIZE_BYTES
        assert item["content"]["sha256"] == ref["sha256"]
        # A range in the middle of the recording, decrypted from its segments only.
        middle = SIZE_BYTES // 2
        part = http.get(
            f"/v1/items/{item['item_id']}/content",
            headers={"Range": f"bytes={middle}-{middle + 65_535}"},
        )
        assert part.status_code == 206
        assert len(part.content) == 65_536
    figures = {
        "bench": "ingest_peak_rss_mb",
        "value": round(peak_kb / 1024, 1),
        "unit": "MB",
        "rss_before_mb": round(rss_before_kb / 1024, 1),
        "size_bytes": SIZE_BYTES,
        "ingest_s": round(elapsed_s, 1),
        "mb_per_s": round(SIZE_BYTES / 1e6 / elapsed_s, 1),
    }
    print(json.dumps({**figures, "settings": extra}))
    out = os.environ.get("KEEPLINE_RSS_REPORT")
    if out:
        Path(out).write_text(json.dumps(figures) + "\n")
    assert peak_kb / 1024 < RSS_LIMIT_MB
    assert len(object_versions(minio_client, service.bucket)) == 1
