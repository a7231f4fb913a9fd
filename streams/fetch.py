"""Fetching claim-checked content: s3://, http(s):// and, when enabled, file://.

Every fetcher is a blocking iterator of chunks, run in a worker thread next to encryption, so
a large recording streams through with bounded memory. Errors say whether the input is bad
(never retried) or the source is only unavailable (retried with backoff).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
from minio import Minio
from minio.error import S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3Error

from streams.errors import BadEventError, ContentUnavailableError, DeadLetterReason

CHUNK_BYTES = 1 << 20
_HTTP_OK = 200
_HTTP_RETRY_LATER = frozenset({408, 425, 429, 500, 502, 503, 504})
_MISSING_S3_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "AccessDenied"})


class ContentFetcher:
    """Opens a content reference as an iterator of byte chunks."""

    def __init__(
        self, *, s3_client: Minio | None, allow_file_uris: bool, timeout_s: float = 30.0
    ) -> None:
        self._s3 = s3_client
        self._allow_file = allow_file_uris
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._http.close()

    def open(self, uri: str) -> Iterator[bytes]:
        """Chunks of the content at uri; raises BadEventError or ContentUnavailableError."""
        scheme = urlsplit(uri).scheme.lower()
        if scheme in {"http", "https"}:
            return self._http_chunks(uri)
        if scheme == "s3":
            return self._s3_chunks(uri)
        if scheme == "file":
            if not self._allow_file:
                raise BadEventError(
                    DeadLetterReason.CONTENT_FORBIDDEN,
                    "file:// content is disabled (operator setting KEEPLINE_ALLOW_FILE_URIS=1)",
                )
            return self._file_chunks(uri)
        raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, f"unsupported uri scheme {scheme}")

    def _http_chunks(self, uri: str) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", uri) as response:
                if response.status_code in _HTTP_RETRY_LATER:
                    raise ContentUnavailableError("http", f"status {response.status_code}")
                if response.status_code != _HTTP_OK:
                    raise BadEventError(
                        DeadLetterReason.CONTENT_MISSING,
                        f"content fetch answered HTTP {response.status_code}",
                    )
                yield from response.iter_bytes(CHUNK_BYTES)
        except httpx.TransportError as err:
            raise ContentUnavailableError("http", type(err).__name__) from err
        except httpx.DecodingError as err:
            raise BadEventError(
                DeadLetterReason.CONTENT_MISSING, f"content could not be decoded: {err}"
            ) from err

    def _s3_chunks(self, uri: str) -> Iterator[bytes]:
        parts = urlsplit(uri)
        bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
        if not bucket or not key:
            raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, "s3 uri needs bucket and key")
        if self._s3 is None:
            raise ContentUnavailableError("s3", "no S3 client configured")
        try:
            response = self._s3.get_object(bucket, key)
        except S3Error as err:
            if err.code in _MISSING_S3_CODES:
                raise BadEventError(
                    DeadLetterReason.CONTENT_MISSING, f"content object not found ({err.code})"
                ) from err
            raise ContentUnavailableError("s3", err.code or "error") from err
        except (ServerError, Urllib3Error, OSError) as err:
            raise ContentUnavailableError("s3", type(err).__name__) from err
        try:
            yield from response.stream(CHUNK_BYTES)
        except (Urllib3Error, OSError) as err:
            raise ContentUnavailableError("s3", type(err).__name__) from err
        finally:
            response.close()
            response.release_conn()

    def _file_chunks(self, uri: str) -> Iterator[bytes]:
        path = Path(unquote(urlsplit(uri).path))
        try:
            handle = path.open("rb")
        except FileNotFoundError as err:
            raise BadEventError(DeadLetterReason.CONTENT_MISSING, "content file not found") from err
        except (PermissionError, IsADirectoryError, NotADirectoryError) as err:
            raise BadEventError(
                DeadLetterReason.CONTENT_MISSING, "content file not readable"
            ) from err
        except OSError as err:
            raise ContentUnavailableError("file", type(err).__name__) from err
        with handle:
            while True:
                try:
                    chunk = handle.read(CHUNK_BYTES)
                except OSError as err:
                    raise ContentUnavailableError("file", type(err).__name__) from err
                if not chunk:
                    return
                yield chunk
