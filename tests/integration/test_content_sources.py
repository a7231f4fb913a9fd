"""keepline fetches content only from the sources it is given, never from its own bucket."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from minio import Minio

from tests.integration.ingest_support import (
    all_items,
    call_event,
    email_event,
    object_versions,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService


def _ref(uri: str, data: bytes) -> dict[str, Any]:
    return {
        "uri": uri,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "audio/wav",
    }


@pytest.fixture
def stranger() -> Iterator[tuple[str, list[str]]]:
    """An http server on loopback that no setting lists: (its origin, the paths it was asked)."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"bytes")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def test_unlisted_origins_and_the_own_bucket_are_forbidden_and_nothing_is_fetched(
    keepline_factory: Callable[..., KeeplineService],
    content_server: Callable[[bytes], str],
    stranger: tuple[str, list[str]],
    minio_client: Minio,
) -> None:
    stranger_origin, stranger_asked = stranger
    service = keepline_factory(run=False)
    # Listing keepline's own bucket does not make it a source.
    service.env["KEEPLINE_CONTENT_SOURCES"] += f",s3://{service.bucket}"
    service.start()
    # Plain bytes in keepline's bucket, where an attacker would look (keys, other items).
    secret = os.urandom(4000)
    minio_client.put_object(service.bucket, "planted/secret.bin", io.BytesIO(secret), len(secret))

    unlisted = call_event("cs-unlisted", _ref(f"{stranger_origin}/a.wav", b"bytes"))
    own = email_event("cs-own", _ref(f"s3://{service.bucket}/planted/secret.bin", secret))
    service.publish("calls", unlisted, key=b"bad")
    service.publish("emails", own, key=b"bad")
    recording = os.urandom(3000)
    sentinel = call_event("cs-good", _ref(content_server(recording), recording))
    service.publish("calls", sentinel, key=b"good")

    with service.client("legal") as http:
        wait_items(http, 1)
    letters = service.read_topic("dlq", expect=2)
    assert sorted((letter["reason"], letter["key"]) for letter in letters) == [
        ("content_forbidden", "bad"),
        ("content_forbidden", "bad"),
    ]
    for letter in letters:
        assert hashlib.sha256(secret).hexdigest() not in letter["error"]
    assert stranger_asked == []
    with service.client("legal") as http:
        assert [item["event_id"] for item in all_items(http)] == ["cs-good"]
    # The sentinel's ciphertext is the only item object: nothing of the refused events.
    assert len(object_versions(minio_client, service.bucket)) == 1
