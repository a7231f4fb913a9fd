"""The content fetcher fetches only from allowed sources, only what was declared, in time.

Refusals are checked before any connection: the resolver is injected and every way of
opening a socket is replaced by a spy, so no test sends anything anywhere. Fetches that are
allowed go to servers on 127.0.0.1 that the tests start.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from minio import Minio
from pydantic import ValidationError

from service.ingest.errors import BadEventError, ContentUnavailableError, DeadLetterReason
from streams.fetch import ContentFetcher
from streams.settings import StreamSettings
from streams.sources import ContentSources, IPAddress

Reply = Callable[[http.server.BaseHTTPRequestHandler], None]


# -- spies and servers ---------------------------------------------------------------------


@dataclass
class SocketSpy:
    """Every attempt to resolve a name or open a socket, refused and recorded."""

    attempts: list[str] = field(default_factory=list)

    def refuse(self, name: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            self.attempts.append(f"{name}{args}")
            raise AssertionError(f"{name} called: no connection may be attempted")

        return refused


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> SocketSpy:
    spy = SocketSpy()
    for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, spy.refuse(name))
    return spy


@dataclass
class Resolver:
    """An injected resolver: fixed answers, every question recorded."""

    answers: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        return [ipaddress.ip_address(a) for a in self.answers[host]]


@dataclass
class LocalServer:
    """An HTTP server on 127.0.0.1 and the requests it received."""

    port: int
    requests: list[dict[str, str]]

    def url(self, host: str = "127.0.0.1", path: str = "/a.wav", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    """Start servers: `serve(reply, tls=None)`; reply writes the whole response."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(reply: Reply, tls: ssl.SSLContext | None = None) -> LocalServer:
        requests: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                requests.append({"path": self.path, **dict(self.headers.items())})
                try:
                    reply(self)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the fetcher hung up, as it should

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return LocalServer(server.server_address[1], requests)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def body(data: bytes, **headers: str) -> Reply:
    def reply(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(data)

    return reply


def fetcher(sources: str, **kwargs: Any) -> ContentFetcher:
    return ContentFetcher(sources=ContentSources.parse(sources), timeout_s=5, **kwargs)


def drain(chunks: Iterator[bytes], received: list[int]) -> None:
    received.extend(len(chunk) for chunk in chunks)


def refusal(fetch: ContentFetcher, uri: str, **kwargs: Any) -> BadEventError:
    with pytest.raises(BadEventError) as refused:
        b"".join(fetch.open(uri, **kwargs))
    return refused.value


# -- which origins -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:9000/keepline/items",
        "http://content.test:8081/a.wav",  # the listed host on another port
        "https://content.test:8080/a.wav",  # the listed host and port over another scheme
        "http://content.test:8080@169.254.169.254/a.wav",  # userinfo hiding the real host
        "http://[::ffff:169.254.169.254]:8080/a.wav",
    ],
)
def test_an_unlisted_origin_is_refused_without_a_connection(
    no_network: SocketSpy, uri: str
) -> None:
    resolver = Resolver({})
    fetch = fetcher("http://content.test:8080", resolver=resolver)
    refused = refusal(fetch, uri)
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert resolver.asked == []
    assert no_network.attempts == []


def test_nothing_is_allowed_by_default(no_network: SocketSpy) -> None:
    refused = refusal(ContentFetcher(), "http://127.0.0.1:8099/a.wav")
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert "KEEPLINE_CONTENT_SOURCES" in refused.error
    assert no_network.attempts == []


@pytest.mark.parametrize(
    "answers",
    [
        ["169.254.169.254"],
        ["10.0.0.5"],
        ["::1"],
        ["127.0.0.1"],
        ["::ffff:169.254.169.254"],
        ["93.184.216.34", "169.254.169.254"],  # one bad address refuses the name
    ],
)
def test_a_listed_name_that_resolves_inward_is_refused_before_any_connection(
    no_network: SocketSpy, answers: list[str]
) -> None:
    resolver = Resolver({"content.test": answers})
    fetch = fetcher("http://content.test:8080", resolver=resolver)
    refused = refusal(fetch, "http://content.test:8080/a.wav")
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert resolver.asked == ["content.test"]
    assert no_network.attempts == []
    for address in answers:
        assert address not in refused.error


def test_the_connection_goes_to_the_vetted_address_with_the_name_as_host(
    serve: Callable[..., LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3000)
    server = serve(body(data))
    # A proxy in the environment is never used.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    connected: list[tuple[str, int]] = []
    real = socket.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    resolver = Resolver({"content.test": ["127.0.0.1"]})
    fetch = fetcher(
        f"http://content.test:{server.port},http://127.0.0.1:{server.port}", resolver=resolver
    )

    assert b"".join(fetch.open(server.url("content.test", "/rec/a.wav?v=2"))) == data
    assert resolver.asked == ["content.test"]  # resolved once, by keepline
    assert connected == [("127.0.0.1", server.port)]
    [request] = server.requests
    assert request["Host"] == f"content.test:{server.port}"
    assert request["path"] == "/rec/a.wav?v=2"
    assert request["Accept-Encoding"] == "identity"


def _certificate(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_names_the_host_in_sni_and_checks_its_certificate(
    serve: Callable[..., LocalServer], tmp_path: Path
) -> None:
    cert, key = _certificate("content.test", tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = record_sni
    data = os.urandom(2000)
    server = serve(body(data), tls=server_tls)
    client_tls = ssl.create_default_context(cafile=str(cert))
    resolver = Resolver({"content.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    sources = (
        f"https://content.test:{server.port},https://other.test:{server.port},"
        f"https://127.0.0.1:{server.port}"
    )
    fetch = fetcher(sources, resolver=resolver, tls=client_tls)

    assert b"".join(fetch.open(server.url("content.test", scheme="https"))) == data
    assert names == ["content.test"]
    # The certificate is checked against the name, not the address connected to.
    with pytest.raises(ContentUnavailableError):
        b"".join(fetch.open(server.url("other.test", scheme="https")))


# -- what the source may answer ------------------------------------------------------------


def test_a_redirect_is_not_followed(serve: Callable[..., LocalServer]) -> None:
    def redirect(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = serve(redirect)
    fetch = fetcher(f"http://127.0.0.1:{server.port}")
    refused = refusal(fetch, server.url())
    assert refused.reason is DeadLetterReason.CONTENT_MISSING
    assert "302" not in refused.error
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refusal_by_the_source_does_not_echo_its_status(
    serve: Callable[..., LocalServer], status: int
) -> None:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = serve(answer)
    refused = refusal(fetcher(f"http://127.0.0.1:{server.port}"), server.url())
    assert refused.reason is DeadLetterReason.CONTENT_MISSING
    assert refused.error == "content not available from the source"


def test_an_unreachable_source_is_retried_without_saying_why() -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        fetch = fetcher(f"http://127.0.0.1:{port}")
        with pytest.raises(ContentUnavailableError) as unavailable:
            b"".join(fetch.open(f"http://127.0.0.1:{port}/a.wav"))
    assert "refused" not in str(unavailable.value).lower()
    assert unavailable.value.detail == "content not available from the source"


def test_an_encoded_body_is_refused_not_decoded(serve: Callable[..., LocalServer]) -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))
    server = serve(body(bomb, Content_Encoding="gzip"))
    fetch = fetcher(f"http://127.0.0.1:{server.port}")
    refused = refusal(fetch, server.url(), size_bytes=4 << 20)
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert server.requests[0]["Accept-Encoding"] == "identity"


def _drip(headers_slowly: bool) -> Reply:
    def reply(handler: http.server.BaseHTTPRequestHandler) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\nX-Padding: " + b"x" * 400
        if not headers_slowly:
            handler.wfile.write(head + b"\r\n\r\n")
            handler.wfile.flush()
        for byte in head[:] if headers_slowly else b"y" * 400:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.02)

    return reply


@pytest.mark.parametrize("headers_slowly", [False, True], ids=["body", "headers"])
def test_a_slow_drip_ends_at_the_whole_fetch_deadline(
    serve: Callable[..., LocalServer], headers_slowly: bool
) -> None:
    server = serve(_drip(headers_slowly))
    # Each byte comes well within the read timeout; only the deadline can stop it.
    fetch = fetcher(f"http://127.0.0.1:{server.port}", deadline_s=0.5)
    started = time.monotonic()
    refused = refusal(fetch, server.url(), size_bytes=400)
    assert refused.reason is DeadLetterReason.CONTENT_MISSING
    assert "deadline" in refused.error
    assert time.monotonic() - started < 5  # 400 bytes at 20 ms each would take 8 s


def _chunked(size: int) -> Reply:
    def reply(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b"z" * 65536
        for _ in range(size // len(piece)):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")

    return reply


def test_reading_stops_at_the_declared_size(serve: Callable[..., LocalServer]) -> None:
    server = serve(_chunked(16 << 20))
    fetch = fetcher(f"http://127.0.0.1:{server.port}")
    received: list[int] = []
    with pytest.raises(BadEventError) as refused:
        drain(fetch.open(server.url(), size_bytes=100_000), received)
    assert refused.value.reason is DeadLetterReason.SIZE_MISMATCH
    assert refused.value.error == "content size differs from size_bytes"
    assert 0 < sum(received) <= 100_000


def test_a_longer_announced_body_is_refused_before_it_is_read(
    serve: Callable[..., LocalServer],
) -> None:
    server = serve(body(os.urandom(5000)))
    fetch = fetcher(f"http://127.0.0.1:{server.port}")
    chunks = fetch.open(server.url(), size_bytes=4999)
    with pytest.raises(BadEventError) as refused:
        next(chunks)
    assert refused.value.reason is DeadLetterReason.SIZE_MISMATCH
    assert "5000" not in refused.value.error


def test_a_declared_size_above_the_maximum_is_refused_before_any_connection(
    no_network: SocketSpy,
) -> None:
    fetch = fetcher("http://127.0.0.1:8099", max_bytes=1000)
    refused = refusal(fetch, "http://127.0.0.1:8099/a.wav", size_bytes=1001)
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert no_network.attempts == []


def test_the_global_maximum_stops_an_undeclared_stream(serve: Callable[..., LocalServer]) -> None:
    server = serve(_chunked(4 << 20))
    fetch = fetcher(f"http://127.0.0.1:{server.port}", max_bytes=100_000)
    received: list[int] = []
    with pytest.raises(BadEventError) as refused:
        drain(fetch.open(server.url()), received)
    assert refused.value.reason is DeadLetterReason.SIZE_MISMATCH
    assert 0 < sum(received) <= 100_000


# -- file:// --------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    inside = tmp_path / "root"
    inside.mkdir()
    (inside / "a.wav").write_bytes(b"recording")
    (tmp_path / "secret.json").write_text("{}")
    return inside


def files(root: Path | None) -> ContentFetcher:
    return ContentFetcher(allow_file_uris=True, file_uri_root=root)


def test_a_regular_file_under_the_root_is_read(root: Path) -> None:
    (root / "link.wav").symlink_to(root / "a.wav")  # a symlink that stays inside is fine
    assert b"".join(files(root).open((root / "a.wav").as_uri())) == b"recording"
    assert b"".join(files(root).open((root / "link.wav").as_uri())) == b"recording"


def test_file_uris_need_a_root_even_when_allowed(root: Path) -> None:
    refused = refusal(files(None), (root / "a.wav").as_uri())
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert "KEEPLINE_FILE_URI_ROOT" in refused.error


@pytest.mark.parametrize(
    "relative",
    ["../secret.json", "/proc/self/environ", "/etc/hostname", "/nonexistent/a.wav"],
)
def test_a_file_outside_the_root_is_refused(root: Path, relative: str) -> None:
    uri = f"file://{root}/{relative}" if relative.startswith("..") else f"file://{relative}"
    refused = refusal(files(root), uri)
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    # One answer, whether or not the file exists: no probing outside the root.
    assert refused.error == "content file is not a plain path under KEEPLINE_FILE_URI_ROOT"


def test_a_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root / "escape.wav").symlink_to(root.parent / "secret.json")
    (root / "dir").symlink_to(root.parent)
    for uri in [(root / "escape.wav").as_uri(), f"file://{root}/dir/secret.json"]:
        assert refusal(files(root), uri).reason is DeadLetterReason.CONTENT_FORBIDDEN


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    fifo = root / "pipe.wav"
    os.mkfifo(fifo)
    outcome: list[BaseException | bytes] = []

    def fetch() -> None:
        try:
            outcome.append(b"".join(files(root).open(fifo.as_uri())))
        except BadEventError as err:
            outcome.append(err)

    reader = threading.Thread(target=fetch, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked in open(): let it go before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
    [result] = outcome
    assert isinstance(result, BadEventError)
    assert result.reason is DeadLetterReason.CONTENT_FORBIDDEN


def test_devices_and_directories_are_refused(root: Path) -> None:
    zero = refusal(files(Path("/dev")), "file:///dev/zero", size_bytes=10)
    assert zero.reason is DeadLetterReason.CONTENT_FORBIDDEN
    (root / "folder").mkdir()
    assert refusal(files(root), (root / "folder").as_uri()).reason is (
        DeadLetterReason.CONTENT_FORBIDDEN
    )


# -- s3:// ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri", ["s3://kl-own/items/0/ab/item.bin", "s3://other-bucket/mx-1/4711.eml"]
)
def test_own_and_unlisted_buckets_are_refused_without_a_request(
    no_network: SocketSpy, uri: str
) -> None:
    client = Minio("127.0.0.1:1", secure=False)
    fetch = fetcher("s3://kl-own,s3://staging", s3_client=client, own_bucket="kl-own")
    refused = refusal(fetch, uri)
    assert refused.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert no_network.attempts == []


def test_from_settings_refuses_the_own_bucket_even_when_listed(
    monkeypatch: pytest.MonkeyPatch, no_network: SocketSpy
) -> None:
    monkeypatch.setenv("KEEPLINE_CONTENT_SOURCES", "s3://kl-own,http://127.0.0.1:8099")
    fetch = ContentFetcher.from_settings(
        StreamSettings(), s3_endpoint="http://127.0.0.1:1", own_bucket="kl-own"
    )
    assert refusal(fetch, "s3://kl-own/k").reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert refusal(fetch, "s3://staging/k").reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert no_network.attempts == []


def test_a_bad_source_setting_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_CONTENT_SOURCES", "http://rec.example.com/recordings")
    with pytest.raises(ValidationError, match="content source"):
        StreamSettings()
