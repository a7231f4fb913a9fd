"""One http(s) fetch, connected to the address that was vetted, never to a name.

The host of a listed origin is resolved once; every address is vetted
(`ContentSources.refused_addresses`) before a socket exists, and the connection goes to a
vetted address with the name only in the Host header and in TLS (SNI and the certificate
check), so a second DNS answer cannot move it elsewhere. No proxy is read from the
environment (plain `http.client`), redirects are not followed (a 3xx is `content_missing`),
the body is asked for and accepted only as identity (a `Content-Encoding` is refused as
`content_forbidden`, nothing is decompressed), reading stops at the size ceiling, and a
watchdog cuts the connection when the whole fetch outlives its deadline, however slowly the
source drips.

Errors never tell what the source answered (status, size, digest) or whether a port is
open: a dead letter is readable by whoever publishes events. The log says more, for the
operator, and names only the origin.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from urllib.parse import urlsplit

from service.ingest.errors import BadEventError, ContentUnavailableError, DeadLetterReason
from streams.sources import Ceiling, ContentSources, IPAddress, Origin, http_origin, ip_literal

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Sequence[IPAddress]]
"""Host name and port to the addresses to connect to (the system resolver by default)."""

CHUNK_BYTES = 1 << 20
NOT_AVAILABLE = "content not available from the source"
_HTTP_OK = 200
_HTTP_RETRY_LATER = frozenset({408, 425, 429, 500, 502, 503, 504})
_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "keepline", "Connection": "close"}


def deadline_passed() -> BadEventError:
    """The error for a fetch that outlived its deadline."""
    return BadEventError(
        DeadLetterReason.CONTENT_MISSING,
        "content was not delivered within the fetch deadline (KEEPLINE_FETCH_DEADLINE_S)",
    )


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address getaddrinfo gives for host (TCP), in its order, without repeats."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ip_literal(str(sockaddr[0]))
        if address is not None and address not in found:
            found.append(address)
    return found


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to a fixed address; the host name is only sent, never resolved."""

    def __init__(
        self, origin: Origin, address: IPAddress, timeout_s: float, tls: ssl.SSLContext | None
    ) -> None:
        assert origin.port is not None  # http origins always carry their port
        super().__init__(origin.host, origin.port, timeout=timeout_s)
        self.default_port = 443 if tls is not None else 80  # Host header without the default
        self._address = address
        self._tls = tls
        self.pinned: socket.socket | None = None  # kept: http.client drops `sock` early

    def connect(self) -> None:
        """Connect to the vetted address; TLS names the origin's host (SNI, certificate)."""
        sock = socket.create_connection((str(self._address), self.port), timeout=self.timeout)
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = self.pinned = sock

    def cut(self) -> None:
        """Shut the socket down, so that a read blocked in another thread returns now."""
        if self.pinned is not None:
            # The TCP socket itself, under TLS too; one already closed has nothing blocked.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self.pinned, socket.SHUT_RDWR)


class _Deadline:
    """A watchdog over the whole fetch: when it fires, the open connection is shut down."""

    def __init__(self, seconds: float) -> None:
        self._fired = threading.Event()
        self._lock = threading.Lock()
        self._conn: _PinnedConnection | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()

    def watch(self, conn: _PinnedConnection | None) -> None:
        """Cut conn (None: nothing) when the deadline passes."""
        with self._lock:
            self._conn = conn

    def check(self) -> None:
        """Raise if the deadline has passed (a cut read looks like an end or an error)."""
        if self._fired.is_set():
            raise deadline_passed()

    def _fire(self) -> None:
        self._fired.set()
        with self._lock:
            if self._conn is not None:
                self._conn.cut()


class HttpFetch:
    """Fetches http(s) content from listed origins only."""

    def __init__(
        self,
        sources: ContentSources,
        *,
        timeout_s: float,
        deadline_s: float,
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._sources = sources
        self._timeout_s = timeout_s
        self._deadline_s = deadline_s
        self._resolver = resolver
        self._tls = tls or ssl.create_default_context()

    def target(self, uri: str) -> tuple[Origin, str]:
        """The listed origin of uri and the request target; pure, so it runs before any I/O.

        Raises:
            BadEventError: content_forbidden for an origin that is not listed (or not an
                origin); schema_violation for a URL with spaces or control characters.
        """
        if not uri.isprintable() or " " in uri:
            raise BadEventError(DeadLetterReason.SCHEMA_VIOLATION, "content uri is not a URL")
        try:
            origin = http_origin(uri)
        except ValueError as err:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN, f"content uri has no allowed origin: {err}"
            ) from err
        if not self._sources.allows(origin):
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                f"content source {origin} is not listed in KEEPLINE_CONTENT_SOURCES",
            )
        parts = urlsplit(uri)
        return origin, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def chunks(self, origin: Origin, target: str, ceiling: Ceiling) -> Iterator[bytes]:
        """The body at target in chunks, within the ceiling (blocking: run it in a thread).

        Raises:
            BadEventError: The origin's addresses are not allowed (content_forbidden); the
                source does not have the content, sends it encoded, past the ceiling or past
                the deadline.
            ContentUnavailableError: The source could not be reached or asked to retry.
        """
        addresses = self._vetted(origin)
        tls = self._tls if origin.scheme == "https" else None
        with _Deadline(self._deadline_s) as deadline:
            for index, address in enumerate(addresses):
                conn = _PinnedConnection(origin, address, self._timeout_s, tls)
                try:
                    try:
                        conn.connect()
                    except OSError as err:
                        deadline.check()
                        if index + 1 < len(addresses):
                            continue  # the next vetted address of the same name
                        log.warning(
                            "content source %s unreachable (%s)", origin, type(err).__name__
                        )
                        raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE) from err
                    deadline.watch(conn)
                    yield from _body(conn, origin, target, ceiling, deadline)
                    return
                finally:
                    deadline.watch(None)
                    conn.close()
                    if conn.pinned is not None:
                        conn.pinned.close()

    def _vetted(self, origin: Origin) -> list[IPAddress]:
        literal = ip_literal(origin.host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            assert origin.port is not None
            try:
                addresses = list(self._resolver(origin.host, origin.port))
            except (OSError, UnicodeError) as err:
                log.warning("content source %s not resolved (%s)", origin, type(err).__name__)
                raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE) from err
            if not addresses:
                raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE)
        if self._sources.refused_addresses(origin, addresses):
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                f"content source {origin} resolves to an address that is not allowed",
            )
        return addresses


def _body(
    conn: _PinnedConnection, origin: Origin, target: str, ceiling: Ceiling, deadline: _Deadline
) -> Iterator[bytes]:
    limit = ceiling.limit_bytes
    response: http.client.HTTPResponse | None = None
    try:
        conn.request("GET", target, headers=_HEADERS)
        response = conn.getresponse()
        deadline.check()
        _check_head(response, origin, ceiling)
        received = 0
        while True:
            # One byte past the ceiling at most, to learn that there is more; never passed on.
            chunk = response.read1(min(CHUNK_BYTES, limit + 1 - received))
            deadline.check()
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise ceiling.exceeded()
            yield chunk
        if response.length:  # the connection ended before the announced length
            log.warning("content fetch from %s ended early", origin)
            raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE)
    except (OSError, http.client.HTTPException) as err:
        deadline.check()
        log.warning("content fetch from %s failed (%s)", origin, type(err).__name__)
        raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE) from err
    finally:
        if response is not None:
            response.close()


def _check_head(response: http.client.HTTPResponse, origin: Origin, ceiling: Ceiling) -> None:
    if response.status in _HTTP_RETRY_LATER:
        log.warning("content source %s asked to retry later", origin)
        raise ContentUnavailableError(origin.scheme, NOT_AVAILABLE)
    if response.status != _HTTP_OK:
        # Redirects included: they are never followed, so a moved object is missing here.
        log.info("content source %s did not deliver the content", origin)
        raise BadEventError(DeadLetterReason.CONTENT_MISSING, NOT_AVAILABLE)
    encodings = [v.strip().lower() for v in response.headers.get_all("Content-Encoding") or []]
    transfer = [v.strip().lower() for v in response.headers.get_all("Transfer-Encoding") or []]
    if any(e not in {"", "identity"} for e in encodings) or transfer not in ([], ["chunked"]):
        raise BadEventError(
            DeadLetterReason.CONTENT_FORBIDDEN,
            "content source sent an encoded body; only identity is accepted",
        )
    if response.length is not None and response.length > ceiling.limit_bytes:
        raise ceiling.exceeded()
