"""Where content may be fetched from, and how much of it: the allow-list and its rules.

Pure decisions, no I/O: parsing `KEEPLINE_CONTENT_SOURCES`, matching a content reference's
origin against it, deciding whether an address a listed host resolved to may be connected
to, and the size ceiling of one fetch. The fetchers do the I/O and ask these first.

The rule for addresses: every address a listed host resolves to must be public (globally
routable unicast), or its own origin (the same scheme and port, the address as the host) must
be listed too. So `http://127.0.0.1:8099` allows exactly that loopback origin; a listed
`http://rec.internal:8080` that resolves to 10.0.0.5 is refused unless
`http://10.0.0.5:8080` is listed as well; a name that resolves to the cloud metadata address
(169.254.169.254) is refused unless that address itself is listed. One refused address
refuses the fetch: a listed name that points into internal ranges is a misconfiguration or
an attack, never something to work around.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.ingest.errors import BadEventError, DeadLetterReason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# S3 bucket names: 3..63 lowercase letters, digits, dots and hyphens (a linear-time match).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_HOST = re.compile(r"[a-z0-9._\-]{1,253}")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Origin:
    """A content origin: scheme, host and port (`s3`: the bucket as host, no port)."""

    scheme: str
    host: str
    port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return f"{self.scheme}://{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def with_address(self, address: IPAddress) -> Origin:
        """The origin of address: this scheme and port, the address as the host."""
        return Origin(self.scheme, str(address), self.port)


def ip_literal(host: str) -> IPAddress | None:
    """The address host spells, or None for a host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _host(raw: str | None) -> str:
    host = (raw or "").lower()
    literal = ip_literal(host)
    if literal is not None:
        return str(literal)  # one spelling per address: "::1", never "0:0::1"
    if not _HOST.fullmatch(host):
        raise ValueError("a host name of letters, digits, dots and hyphens is required")
    return host


def http_origin(uri: str) -> Origin:
    """The origin of an http(s) URL; raises ValueError when it has none or userinfo."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise ValueError("http or https is required")
    if "@" in parts.netloc:
        raise ValueError("user information in the URL is not accepted")
    port = parts.port  # raises ValueError for a port out of range
    return Origin(scheme, _host(parts.hostname), port or DEFAULT_PORTS[scheme])


def s3_origin(bucket: str) -> Origin:
    """The origin of an S3 bucket; raises ValueError for a name S3 would not accept."""
    if not _BUCKET.fullmatch(bucket):
        raise ValueError("an S3 bucket name is required")
    return Origin("s3", bucket)


def parse_source(entry: str) -> Origin:
    """One `KEEPLINE_CONTENT_SOURCES` entry: `http://host:port`, `https://host[:port]`, `s3://b`.

    Raises:
        ValueError: The entry is not exactly an origin (a path, query or userinfo is refused,
            so that no one believes a prefix is being allowed).
    """
    parts = urlsplit(entry.strip())
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError(f"content source {entry!r}: an origin has no path, query or fragment")
    try:
        if parts.scheme.lower() == "s3":
            return s3_origin(parts.netloc)
        return http_origin(entry.strip())
    except ValueError as err:
        raise ValueError(f"content source {entry!r}: {err}") from err


@dataclass(frozen=True, slots=True)
class ContentSources:
    """The origins content may come from; nothing else is fetched."""

    origins: frozenset[Origin] = frozenset()

    @classmethod
    def parse(cls, text: str) -> ContentSources:
        """Parse the comma-separated setting; empty entries are ignored.

        Raises:
            ValueError: An entry is not an origin.
        """
        return cls(frozenset(parse_source(e) for e in text.split(",") if e.strip()))

    def allows(self, origin: Origin) -> bool:
        """Whether origin is listed exactly."""
        return origin in self.origins

    def buckets(self) -> frozenset[str]:
        """The listed S3 buckets."""
        return frozenset(o.host for o in self.origins if o.scheme == "s3")

    def refused_addresses(self, origin: Origin, addresses: Iterable[IPAddress]) -> list[str]:
        """The addresses of origin that may not be connected to (empty: all may)."""
        return [
            str(a) for a in addresses if not is_public(a) and origin.with_address(a) not in self
        ]

    def __contains__(self, origin: object) -> bool:
        return origin in self.origins


def is_public(address: IPAddress) -> bool:
    """Whether address is globally routable unicast (embedded IPv4 addresses checked too).

    Refused: loopback, link-local, private, shared (CGNAT), multicast, reserved and
    unspecified addresses, and IPv6 addresses that carry one of these as IPv4 (mapped,
    6to4, Teredo, NAT64).
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class Ceiling:
    """The most bytes one fetch may deliver: the declared size, or else the global maximum."""

    limit_bytes: int
    declared: bool

    @classmethod
    def of(cls, size_bytes: int | None, max_bytes: int) -> Ceiling:
        """The ceiling for content declared as size_bytes (None: not declared).

        Raises:
            BadEventError: content_forbidden when the declared size is above max_bytes, so
                nothing is fetched.
        """
        if size_bytes is None:
            return cls(max_bytes, declared=False)
        if size_bytes > max_bytes:
            raise BadEventError(
                DeadLetterReason.CONTENT_FORBIDDEN,
                "size_bytes is above the fetch size ceiling (KEEPLINE_FETCH_MAX_BYTES)",
                field="content.size_bytes",
            )
        return cls(size_bytes, declared=True)

    def exceeded(self) -> BadEventError:
        """The error for a source that delivers more than the ceiling."""
        if self.declared:
            return BadEventError(
                DeadLetterReason.SIZE_MISMATCH,
                "content size differs from size_bytes",
                field="content.size_bytes",
            )
        return BadEventError(
            DeadLetterReason.SIZE_MISMATCH,
            "content exceeds the fetch size ceiling (KEEPLINE_FETCH_MAX_BYTES)",
            field="content.size_bytes",
        )
