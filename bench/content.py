"""Recordings made up on the fly: deterministic pseudo-random bytes, served over HTTP.

A `PatternSource` is a size and a seed; its bytes are generated chunk by chunk, each chunk
from its own seed, so any chunk can be made without the ones before it and a 2 GiB
recording never sits in memory. The sha256 a content reference needs comes from one
streaming pass in advance. `ContentServer` serves sources on 127.0.0.1 the way a recording
store would, and `PatternReader` hands the same bytes to the `minio` SDK.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_BYTES = 1 << 20
#: Keeps chunk seeds of different sources apart: a source has fewer chunks than this.
_SEED_STRIDE = 1 << 32


@dataclass(frozen=True)
class PatternSource:
    """size bytes of pseudo-random data, the same for the same seed, made chunk by chunk.

    Attributes:
        seed: Picks the data.
        size_bytes: How many bytes.
        chunk_bytes: The size of each generated chunk (the last one may be shorter).
    """

    seed: int
    size_bytes: int
    chunk_bytes: int = CHUNK_BYTES

    def __post_init__(self) -> None:
        if self.size_bytes < 0 or self.chunk_bytes <= 0:
            raise ValueError("size_bytes must be >= 0 and chunk_bytes > 0")

    @property
    def chunks(self) -> int:
        """How many chunks the data has."""
        return -(-self.size_bytes // self.chunk_bytes)

    def chunk(self, index: int) -> bytes:
        """The index-th chunk, made from its own seed."""
        if not 0 <= index < self.chunks:
            raise IndexError(f"chunk {index} of {self.chunks}")
        length = min(self.chunk_bytes, self.size_bytes - index * self.chunk_bytes)
        return random.Random(self.seed * _SEED_STRIDE + index).randbytes(length)

    def iter_chunks(self, start: int = 0) -> Iterator[bytes]:
        """The bytes from offset start to the end, a chunk at a time."""
        if not 0 <= start <= self.size_bytes:
            raise ValueError(f"offset {start} is outside 0..{self.size_bytes}")
        first, skip = divmod(start, self.chunk_bytes)
        for index in range(first, self.chunks):
            data = self.chunk(index)
            yield data[skip:] if skip else data
            skip = 0

    def read_at(self, offset: int, length: int) -> bytes:
        """length bytes (fewer at the end) from offset."""
        out = bytearray()
        for data in self.iter_chunks(offset):
            out += data[: length - len(out)]
            if len(out) >= length:
                break
        return bytes(out)

    @cached_property
    def sha256(self) -> str:
        """The hex sha256 of all the bytes, from one streaming pass (made once)."""
        digest = hashlib.sha256()
        for data in self.iter_chunks():
            digest.update(data)
        return digest.hexdigest()

    def reader(self) -> io.BufferedReader:
        """A buffered binary reader of the bytes (for `Minio.put_object`)."""
        return io.BufferedReader(PatternReader(self), buffer_size=self.chunk_bytes)


class PatternReader(io.RawIOBase):
    """Reads a `PatternSource` front to back; never holds more than one chunk."""

    def __init__(self, source: PatternSource) -> None:
        super().__init__()
        self._chunks = source.iter_chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Copy the next bytes into buffer; 0 at the end."""
        if not self._pending:
            data = next(self._chunks, None)
            if data is None:
                return 0
            self._pending = memoryview(data)
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        """Stream a registered source (pausing between chunks if asked); 404 for anything else."""
        source = self.server.sources.get(self.path.rsplit("/", 1)[-1])
        if source is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(source.size_bytes))
        self.end_headers()
        try:
            for data in source.iter_chunks():
                self.wfile.write(data)
                if self.server.chunk_delay_s:
                    time.sleep(self.server.chunk_delay_s)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (or was killed mid-transfer); nothing to tell it

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: stderr is for the bench's progress."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, chunk_delay_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.chunk_delay_s = chunk_delay_s
        self.sources: dict[str, PatternSource] = {}


class ContentServer:
    """An HTTP server on 127.0.0.1 that streams registered `PatternSource`s.

    Args:
        chunk_delay_s: Pause after each chunk of a source (0: as fast as it goes).
    """

    def __init__(self, chunk_delay_s: float = 0.0) -> None:
        self._server = _Server(chunk_delay_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-content", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: what KEEPLINE_CONTENT_SOURCES must allow."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, source: PatternSource) -> str:
        """Serve source; returns its http URL."""
        name = f"{uuid.uuid4().hex}.bin"
        self._server.sources[name] = source
        return f"{self.origin}/{name}"

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
