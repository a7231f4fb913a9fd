"""Fetching claim-checked content: s3://, http(s):// and, when enabled, file://.

Content sources are allowed, never assumed (`KEEPLINE_CONTENT_SOURCES`, see
`streams.sources`): an origin that is not listed is refused as `content_forbidden` before any
request, name lookup or file access. `s3://` goes through a client of its own, with its own
(read-only) credentials or none, never keepline's, and never to keepline's own bucket, even
when listed. `file://` needs both `KEEPLINE_ALLOW_FILE_URIS=1` and `KEEPLINE_FILE_URI_ROOT`
(allowed without a root, file URIs are still refused): the real path must lie under the root,
the last component is opened without following a symlink, and only a regular file is read
(a FIFO, a device or a directory is refused). Every fetch stops at its size ceiling and at
its deadline.

Every fetcher is a blocking iterator of chunks, run in a worker thread next to encryption,
so a large recording streams through with bounded memory; `open` itself does only the pure
checks, so a refusal costs no I/O on the event loop. Errors say whether the input is bad
(never retried) or the source is only unavailable (retried with backoff), and never what was
fetched.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import urllib3
from minio import Minio
from minio.error import S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3Error

from service.ingest.errors import BadEventError, ContentUnavailableError, DeadLetterReason
from streams.fetch_http import (
    CHUNK_BYTES,
    NOT_AVAILABLE,
    HttpFetch,
    Resolver,
    deadline_passed,
    system_resolver,
)
from streams.sources import Ceiling, ContentSources, Origin, s3_origin

if TYPE_CHECKING:
    from streams.settings import StreamSettings

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 << 30
_MISSING_S3_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "AccessDenied"})
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class ContentFetcher:
    """Opens a content reference as an iterator of byte chunks, from allowed sources only.

    Args:
        sources: The allowed origins (nothing by default).
        s3_client: The client for `s3://` sources: its own credentials, never keepline's.
        own_bucket: keepline's bucket, refused as a source whatever the list says.
        allow_file_uris: Accept `file://` references (with file_uri_root set).
        file_uri_root: The only directory file URIs may name.
        timeout_s: Connect and per-read timeout.
        deadline_s: The longest one whole fetch may take.
        max_bytes: The most bytes one fetch delivers, whatever the declared size.
        resolver: Host names to addresses (tests inject one).
        tls: The TLS context for https (the system's trust store by default).
    """

    def __init__(
        self,
        *,
        sources: ContentSources | None = None,
        s3_client: Minio | None = None,
        own_bucket: str | None = None,
        allow_file_uris: bool = False,
        file_uri_root: Path | None = None,
        timeout_s: float = 30.0,
        deadline_s: float = 1800.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._sources = sources or ContentSources()
        self._s3 = s3_client
        self._own_bucket = own_bucket
        self._allow_file = allow_file_uris
        self._root = Path(os.path.realpath(file_uri_root)) if file_uri_root else None
        self._deadline_s = deadline_s
        self._max_bytes = max_bytes
        self._http = HttpFetch(
            self._sources, timeout_s=timeout_s, deadline_s=deadline_s, resolver=resolver, tls=tls
        )

    @classmethod
    def from_settings(
        cls,
        settings: StreamSettings,
        *,
        s3_endpoint: str,
        own_bucket: str,
        s3_region: str | None = None,
    ) -> ContentFetcher:
        """The fetcher the settings describe; s3 sources are read on s3_endpoint.

        Args:
            settings: The streams settings (sources, credentials, limits).
            s3_endpoint: The configured S3 endpoint (`KEEPLINE_S3_ENDPOINT`).
            own_bucket: keepline's own bucket (`KEEPLINE_S3_BUCKET`), never a source.
            s3_region: The S3 region, if the endpoint needs one.
        """
        sources = ContentSources.parse(settings.content_sources)
        s3_client = None
        if sources.buckets():
            secret = settings.content_s3_secret_key
            parts = urlsplit(s3_endpoint)
            s3_client = Minio(
                parts.netloc,
                access_key=settings.content_s3_access_key,
                secret_key=secret.get_secret_value() if secret is not None else None,
                secure=parts.scheme == "https",
                region=s3_region,
                http_client=urllib3.PoolManager(
                    timeout=urllib3.Timeout(
                        connect=settings.fetch_timeout_s, read=settings.fetch_timeout_s
                    ),
                    maxsize=settings.concurrency,
                    retries=urllib3.Retry(total=2, backoff_factor=0.2, redirect=False),
                ),
            )
        return cls(
            sources=sources,
            s3_client=s3_client,
            own_bucket=own_bucket,
            allow_file_uris=settings.allow_file_uris,
            file_uri_root=settings.file_uri_root,
            timeout_s=settings.fetch_timeout_s,
            deadline_s=settings.fetch_deadline_s,
            max_bytes=settings.fetch_max_bytes,
        )

    def close(self) -> None:
        """Release resources (every fetch closes its own connection; nothing is pooled)."""

    def open(self, uri: str, *, size_bytes: int | None = None) -> Iterator[bytes]:
        """Chunks of the content at uri, at most size_bytes (or the global maximum).

        The checks that need no I/O (scheme, allow-list, own bucket, file settings, size
        ceiling) raise here; name lookups, connections and reads happen as the chunks are
        pulled.

        Raises:
            BadEventError: The source is not allowed or does not have the content.
            ContentUnavailableError: The source did not answer now (when pulled).
        """
        scheme = urlsplit(uri).scheme.lower()
        if scheme in {"http", "https"}:
            origin, target = self._http.target(uri)
            return self._http.chunks(origin, target, Ceiling.of(size_bytes, self._max_bytes))
        if scheme == "s3":
            bucket, key = self._s3_target(uri)
            return self._s3_chunks(bucket, key, Ceiling.of(size_bytes, self._max_bytes))
        if scheme == "file":
            root = self._file_root()
            return self._file_chunks(_file_path(uri), root, Ceiling.of(size_bytes, self._max_bytes))
        raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, f"unsupported uri scheme {scheme}")

    # -- s3 ------------------------------------------------------------------------------

    def _s3_target(self, uri: str) -> tuple[str, str]:
        parts = urlsplit(uri)
        bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
        if not bucket or not key:
            raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, "s3 uri needs bucket and key")
        if bucket == self._own_bucket:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN, "keepline's own bucket is never a source"
            )
        try:
            origin: Origin | None = s3_origin(bucket)
        except ValueError:
            origin = None
        if origin is None or not self._sources.allows(origin):
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                f"content source s3://{bucket} is not listed in KEEPLINE_CONTENT_SOURCES",
            )
        if self._s3 is None:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN, "no S3 client is configured for content"
            )
        return bucket, key

    def _s3_chunks(self, bucket: str, key: str, ceiling: Ceiling) -> Iterator[bytes]:
        assert self._s3 is not None  # _s3_target refuses s3 sources without a client
        deadline_at = time.monotonic() + self._deadline_s
        try:
            response = self._s3.get_object(bucket, key)
        except S3Error as err:
            if err.code in _MISSING_S3_CODES:
                # One answer for a missing key, a missing bucket and a refusal alike.
                raise BadEventError(DeadLetterReason.CONTENT_MISSING, NOT_AVAILABLE) from err
            log.warning("content bucket %s answered %s", bucket, err.code)
            raise ContentUnavailableError("s3", NOT_AVAILABLE) from err
        except (ServerError, Urllib3Error, OSError) as err:
            log.warning("content bucket %s unreachable (%s)", bucket, type(err).__name__)
            raise ContentUnavailableError("s3", NOT_AVAILABLE) from err
        received = 0
        try:
            # Raw bytes as stored: a Content-Encoding of the object is never decoded.
            for chunk in response.stream(CHUNK_BYTES, decode_content=False):
                received += len(chunk)
                if received > ceiling.limit_bytes:
                    raise ceiling.exceeded()
                if time.monotonic() > deadline_at:
                    raise deadline_passed()
                yield chunk
        except (Urllib3Error, OSError) as err:
            log.warning("content fetch from bucket %s failed (%s)", bucket, type(err).__name__)
            raise ContentUnavailableError("s3", NOT_AVAILABLE) from err
        finally:
            response.close()
            response.release_conn()

    # -- file ----------------------------------------------------------------------------

    def _file_root(self) -> Path:
        if not self._allow_file:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                "file:// content is disabled (operator setting KEEPLINE_ALLOW_FILE_URIS=1)",
            )
        if self._root is None:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                "file:// content needs KEEPLINE_FILE_URI_ROOT, the directory it may come from",
            )
        return self._root

    def _file_chunks(self, path: Path, root: Path, ceiling: Ceiling) -> Iterator[bytes]:
        deadline_at = time.monotonic() + self._deadline_s
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(root):
            raise _outside_root()
        try:
            # No symlink as the last component (realpath resolved them all, so one there now
            # was put there since), and no blocking on a FIFO: it is refused below.
            fd = os.open(real, _OPEN_FLAGS)
        except FileNotFoundError as err:
            raise BadEventError(DeadLetterReason.CONTENT_MISSING, "content file not found") from err
        except (PermissionError, IsADirectoryError, NotADirectoryError) as err:
            raise BadEventError(
                DeadLetterReason.CONTENT_MISSING, "content file not readable"
            ) from err
        except OSError as err:
            if err.errno == errno.ELOOP:  # a symlink swapped in after realpath
                raise _outside_root() from err
            raise ContentUnavailableError("file", type(err).__name__) from err
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError as err:
            os.close(fd)
            raise ContentUnavailableError("file", type(err).__name__) from err
        if not regular:
            os.close(fd)
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN, "content file is not a regular file"
            )
        with os.fdopen(fd, "rb", buffering=0) as handle:
            received = 0
            while True:
                try:
                    chunk = handle.read(min(CHUNK_BYTES, ceiling.limit_bytes + 1 - received))
                except OSError as err:
                    raise ContentUnavailableError("file", type(err).__name__) from err
                if not chunk:
                    return
                received += len(chunk)
                if received > ceiling.limit_bytes:
                    raise ceiling.exceeded()
                if time.monotonic() > deadline_at:
                    raise deadline_passed()
                yield chunk


def _file_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in {"", "localhost"} or parts.query or parts.fragment:
        raise _outside_root()
    path = unquote(parts.path)
    if "\x00" in path or not path.startswith("/") or ".." in Path(path).parts:
        raise _outside_root()
    return Path(path)


def _outside_root() -> BadEventError:
    return BadEventError(
        DeadLetterReason.CONTENT_FORBIDDEN,
        "content file is not a plain path under KEEPLINE_FILE_URI_ROOT",
    )
