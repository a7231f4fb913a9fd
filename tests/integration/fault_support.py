"""Faults on demand for the no-loss tests: content that refuses until opened, exact partitions.

Helpers only; the fixtures that use them are in the test modules' conftest.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass
class GatedContent:
    """Content over http that answers 503 (retry later) for a closed name until opened."""

    base_url: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        """The origin to allow in KEEPLINE_CONTENT_SOURCES."""
        return self.base_url

    def ref(self, name: str, data: bytes, *, closed: bool = False) -> dict[str, Any]:
        """A content reference to data under name, refused until `open(name)` if closed."""
        with self.lock:
            self.blobs[name] = data
            if closed:
                self.closed.add(name)
        return {
            "uri": f"{self.base_url}/{name}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
            "content_type": "audio/wav",
        }

    def open(self, name: str) -> None:
        """Serve name from now on."""
        with self.lock:
            self.closed.discard(name)

    def refusals(self, name: str) -> int:
        """How many fetches of name were refused so far."""
        with self.lock:
            return self.refused.get(name, 0)


def _handler(content: GatedContent) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            with content.lock:
                data = content.blobs.get(name)
                closed = name in content.closed
                if closed:
                    content.refused[name] = content.refused.get(name, 0) + 1
            if data is None:
                self.send_error(404)
                return
            if closed:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output clean."""

    return Handler


@pytest.fixture
def gated_content() -> Iterator[GatedContent]:
    """A threaded http server on loopback whose content can be held back per name."""
    content = GatedContent("")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(content))
    server.daemon_threads = True
    content.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield content
    server.shutdown()
    server.server_close()


def publish_to_partition(
    bootstrap: str, topic: str, partition: int, value: Mapping[str, Any], key: bytes
) -> int:
    """Publish one JSON message to an exact partition; returns its offset."""

    async def send() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            meta = await producer.send_and_wait(
                topic, json.dumps(value).encode(), key=key, partition=partition
            )
        finally:
            await producer.stop()
        return int(meta.offset)

    return asyncio.run(send())


def committed_offset(bootstrap: str, group: str, topic: str, partition: int) -> int | None:
    """The consumer group's committed offset of one partition (None: nothing committed)."""

    async def read() -> int | None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        meta = offsets.get(TopicPartition(topic, partition))
        if meta is None or meta.offset < 0:
            return None
        return int(meta.offset)

    return asyncio.run(read())
