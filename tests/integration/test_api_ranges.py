"""GET /v1/items/{id}/content: whole content and byte ranges, on real Kafka and MinIO.

Recordings go in through Kafka and come back through the API; sizes sit around the
encrypted segment boundaries (1 KiB segments here), and every byte is compared with the
original. The tests share two services (1 KiB and default segments); each reads and
tampers with only its own recordings.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from minio import Minio

from storage.models import object_key_for
from tests.integration.fixtures_keepline import ContentServer, KeeplineFactory
from tests.integration.ingest_support import example
from tests.integration.keepline_service import KeeplineService, wait_for

SEGMENT = 1024
HEADER = 51
TAG = 16
SIZES = (0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT - 1, 2 * SEGMENT, 3 * SEGMENT + 17)


@pytest.fixture(scope="module")
def segmented(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServer
) -> KeeplineService:
    """A service that encrypts in 1 KiB segments."""
    return shared_keepline_factory(
        env={"KEEPLINE_SEGMENT_SIZE_BYTES": str(SEGMENT)},
        content_sources=[content_server.base_url],
    )


@pytest.fixture(scope="module")
def default_segments(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServer
) -> KeeplineService:
    """A service with the default 1 MiB segments."""
    return shared_keepline_factory(content_sources=[content_server.base_url])


def _ingest(service: KeeplineService, content_server: Callable[[bytes], str], data: bytes) -> str:
    """Publish a call recording of data; return the event's call_id."""
    event = example("call_recording")
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    event.update(event_id=f"ev-{call_id}", call_id=call_id)
    event["content"] = {
        "uri": content_server(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "audio/wav",
    }
    service.publish("calls", event, key=call_id.encode())
    return call_id


def _stored(service: KeeplineService, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Wait until every call is stored; its item by call_id."""
    with service.client("legal") as http:

        def all_there() -> dict[str, dict[str, Any]] | None:
            items = http.get("/v1/items", params={"limit": 500}).json()["items"]
            found = {i["call_id"]: i for i in items if i.get("call_id") in call_ids}
            return found if len(found) == len(call_ids) else None

        return wait_for(all_there, timeout_s=60, what="recordings stored")


def _cases(size: int) -> list[tuple[str, tuple[int, int] | None]]:
    """(Range header, inclusive span expected, or None for 416) for content of size."""
    last = size - 1
    cases: list[tuple[str, tuple[int, int] | None]] = [
        ("bytes=0-0", (0, 0) if size else None),
        ("bytes=0-", (0, last) if size else None),
        (f"bytes={size}-", None),
        (f"bytes={size + 5}-{size + 10}", None),
        ("bytes=-0", None),
        ("bytes=-1", (last, last) if size else None),
        (f"bytes=-{size + 100}", (0, last) if size else None),
    ]
    if size > 1:
        cases += [
            (f"bytes={size // 3}-{2 * size // 3}", (size // 3, 2 * size // 3)),
            (f"bytes={last}-", (last, last)),
            (f"bytes={size // 2}-", (size // 2, last)),
            (f"bytes=-{size // 2}", (size - size // 2, last)),
            (f"bytes=1-{size + 1000}", (1, last)),
        ]
    for edge in (SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT):
        if edge < size:
            cases += [
                (f"bytes={edge}-{edge}", (edge, edge)),
                (f"bytes={edge - 1}-{min(edge + 1, last)}", (edge - 1, min(edge + 1, last))),
                (f"bytes={edge}-", (edge, last)),
            ]
    return cases


def test_ranges_around_segment_boundaries(
    segmented: KeeplineService, content_server: Callable[[bytes], str]
) -> None:
    service = segmented
    originals = {_ingest(service, content_server, data): data for data in map(os.urandom, SIZES)}
    items = _stored(service, list(originals))
    checked = 0
    with service.client("qa") as http:
        for call_id, data in originals.items():
            url = f"/v1/items/{items[call_id]['item_id']}/content"
            whole = http.get(url, params={"purpose": "quality"})
            assert whole.status_code == 200
            assert whole.content == data
            assert whole.headers["content-length"] == str(len(data))
            assert whole.headers["content-type"] == "audio/wav"
            assert whole.headers["accept-ranges"] == "bytes"
            for header, span in _cases(len(data)):
                response = http.get(url, params={"purpose": "quality"}, headers={"Range": header})
                where = (len(data), header)
                if span is None:
                    assert response.status_code == 416, where
                    assert response.headers["content-range"] == f"bytes */{len(data)}", where
                    assert response.json()["error"] == "RangeNotSatisfiableError", where
                else:
                    start, end = span
                    assert response.status_code == 206, where
                    assert response.content == data[start : end + 1], where
                    assert response.headers["content-length"] == str(end - start + 1), where
                    assert response.headers["content-range"] == (
                        f"bytes {start}-{end}/{len(data)}"
                    ), where
                checked += 1
    assert checked > 100


def test_a_player_can_seek_in_a_long_recording(
    default_segments: KeeplineService, content_server: Callable[[bytes], str]
) -> None:
    service = default_segments
    data = os.urandom(6 * 1024 * 1024 + 12345)
    call_id = _ingest(service, content_server, data)
    item = _stored(service, [call_id])[call_id]
    url = f"/v1/items/{item['item_id']}/content"
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    with service.client("legal") as http:
        # What an <audio> element does: probe, then open ranges wherever the user seeks.
        head = http.head(url)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(data))
        assert head.headers["accept-ranges"] == "bytes"
        assert head.headers["etag"] == etag
        assert head.content == b""
        with http.stream("GET", url, headers={"Range": "bytes=0-"}) as first:
            assert first.status_code == 206
            assert first.headers["content-range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
            assert first.headers["content-length"] == str(len(data))
            beginning = next(first.iter_bytes(65536))
            assert data.startswith(beginning)
        for position in (3_500_000, 1024 * 1024, len(data) - 1000, 5 * 1024 * 1024 - 1):
            seek = http.get(url, headers={"Range": f"bytes={position}-"})
            assert seek.status_code == 206
            assert seek.content == data[position:]
        same = http.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
        assert (same.status_code, same.content) == (206, data[10:20])
        stale = http.get(url, headers={"Range": "bytes=10-19", "If-Range": '"other"'})
        assert (stale.status_code, len(stale.content)) == (200, len(data))


def _point_item_at(service: KeeplineService, item_id: str, version_id: str) -> None:
    with sqlite3.connect(service.workdir / "data" / "keepline.db") as db:
        db.execute(
            "UPDATE items SET object_version_id = ? WHERE item_id = ?", (version_id, item_id)
        )


def test_tampered_content_is_a_clean_error_never_a_whole_response(
    segmented: KeeplineService,
    content_server: Callable[[bytes], str],
    minio_client: Minio,
) -> None:
    service = segmented
    data = os.urandom(600 * SEGMENT)
    call_id = _ingest(service, content_server, data)
    item_id = _stored(service, [call_id])[call_id]["item_id"]
    (obj,) = minio_client.list_objects(service.bucket, prefix=object_key_for(item_id))
    key = obj.object_name
    assert key is not None
    ciphertext = bytearray(minio_client.get_object(service.bucket, key).read())
    # Flip one byte in the first segment and one in segment 500, well past the first read.
    for segment in (0, 500):
        ciphertext[HEADER + segment * (SEGMENT + TAG) + 7] ^= 0x01
    put = minio_client.put_object(
        service.bucket, key, io.BytesIO(bytes(ciphertext)), len(ciphertext)
    )
    assert put.version_id is not None  # the bucket is versioned (Object Lock)
    _point_item_at(service, item_id, put.version_id)
    url = f"/v1/items/{item_id}/content"
    with service.client("legal") as http:
        # The first segment fails before any byte is sent: a JSON 500, no partial 200.
        response = http.get(url)
        assert response.status_code == 500
        assert response.json() == {
            "error": "IntegrityError",
            "detail": "stored content failed its integrity check",
        }
        ranged = http.get(url, headers={"Range": f"bytes={500 * SEGMENT}-{501 * SEGMENT}"})
        assert ranged.status_code == 500
        # Segments before the damage are fine; the stream then stops short of its length.
        intact = http.get(url, headers={"Range": f"bytes={SEGMENT}-{2 * SEGMENT - 1}"})
        assert (intact.status_code, intact.content) == (206, data[SEGMENT : 2 * SEGMENT])
        received = bytearray()
        with (  # noqa: PT012 - the failure comes mid-body, after the status
            pytest.raises(httpx.HTTPError),
            http.stream("GET", url, headers={"Range": f"bytes={SEGMENT}-"}) as partial,
        ):
            assert partial.status_code == 206
            for chunk in partial.iter_bytes():
                received += chunk
        assert 0 < len(received) < 499 * SEGMENT
        assert received == data[SEGMENT : SEGMENT + len(received)]
    assert "Traceback" not in response.text


def test_hostile_requests_get_quick_clean_answers_from_the_real_server(
    default_segments: KeeplineService, content_server: Callable[[bytes], str]
) -> None:
    service = default_segments
    data = os.urandom(5000)
    call_id = _ingest(service, content_server, data)
    item_id = _stored(service, [call_id])[call_id]["item_id"]
    url = f"/v1/items/{item_id}/content"
    with service.client("legal") as http:
        # The header that took the old pattern minutes: ignored, the whole content sent.
        started = time.monotonic()
        hostile = http.get(url, headers={"Range": "bytes=" + " " * 4000 + "-" + " " * 4000 + "x"})
        assert time.monotonic() - started < 5
        assert (hostile.status_code, hostile.content) == (200, data)
        assert hostile.headers["content-disposition"] == f'attachment; filename="{item_id}.wav"'
        assert hostile.headers["x-content-type-options"] == "nosniff"
        assert hostile.headers["content-security-policy"] == "sandbox; default-src 'none'"
        # Bodies over the limit: refused before they are read, declared or chunked.
        declared = http.post(
            "/v1/holds",
            content=b"x" * (2 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
        chunked = http.post(
            "/v1/holds",
            content=iter([b"x" * 65536] * 40),
            headers={"Content-Type": "application/json"},
        )
        for refused in (declared, chunked):
            assert refused.status_code == 413
            assert refused.json()["error"] == "PayloadTooLargeError"
        assert http.get(url, headers={"Range": "bytes=0-9"}).content == data[:10]
