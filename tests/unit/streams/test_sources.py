"""The allow-list of content origins and the rule for the addresses a listed host resolves to."""

from __future__ import annotations

import ipaddress

import pytest

from service.ingest.errors import BadEventError, DeadLetterReason
from streams.sources import Ceiling, ContentSources, Origin, http_origin, is_public


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("http://127.0.0.1:8099", Origin("http", "127.0.0.1", 8099)),
        ("https://Rec.Example.com", Origin("https", "rec.example.com", 443)),
        ("https://rec.example.com:8443/", Origin("https", "rec.example.com", 8443)),
        ("http://[::1]:8080", Origin("http", "::1", 8080)),
        ("http://[0:0::1]:8080", Origin("http", "::1", 8080)),
        ("s3://pbx-recordings", Origin("s3", "pbx-recordings")),
    ],
)
def test_sources_are_exact_origins(entry: str, origin: Origin) -> None:
    assert ContentSources.parse(f" {entry} ,").origins == {origin}


@pytest.mark.parametrize(
    "entry",
    [
        "http://rec.example.com:8080/recordings",  # a path would look like a prefix rule
        "http://rec.example.com:8080?x=1",
        "http://user:pw@rec.example.com:8080",
        "ftp://rec.example.com",
        "s3://Bad_Bucket",
        "s3://bucket/key",
        "http://:8080",
        "http://rec.example.com:99999",
    ],
)
def test_anything_but_an_origin_is_refused_as_a_source(entry: str) -> None:
    with pytest.raises(ValueError, match="content source"):
        ContentSources.parse(entry)


def test_nothing_is_listed_by_default() -> None:
    sources = ContentSources.parse("")
    assert not sources.allows(http_origin("http://127.0.0.1:8099/a.wav"))


def test_a_uri_matches_only_its_exact_scheme_host_and_port() -> None:
    sources = ContentSources.parse("http://rec.example.com:8080,https://rec.example.com")
    assert sources.allows(http_origin("http://rec.example.com:8080/a.wav"))
    assert sources.allows(http_origin("https://REC.example.com/a.wav"))
    assert sources.allows(http_origin("https://rec.example.com:443/a.wav"))
    assert not sources.allows(http_origin("http://rec.example.com/a.wav"))  # port 80
    assert not sources.allows(http_origin("https://rec.example.com:8080/a.wav"))
    assert not sources.allows(http_origin("http://rec.example.com.evil.test:8080/a.wav"))
    with pytest.raises(ValueError, match="user information"):
        http_origin("http://rec.example.com:8080@evil.test/a.wav")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:169.254.169.254",
        "::ffff:127.0.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_an_internal_address_is_allowed_only_when_its_own_origin_is_listed() -> None:
    sources = ContentSources.parse("http://rec.test:8099,http://127.0.0.1:8099")
    origin = http_origin("http://rec.test:8099/a.wav")
    loopback, metadata = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254")
    public = ipaddress.ip_address("93.184.216.34")

    assert sources.refused_addresses(origin, [loopback, public]) == []
    assert sources.refused_addresses(origin, [public, metadata]) == ["169.254.169.254"]
    # The same address on another port is another origin.
    other_port = http_origin("http://rec.test:8100/a.wav")
    assert sources.refused_addresses(other_port, [loopback]) == ["127.0.0.1"]


def test_the_ceiling_is_the_declared_size_within_the_maximum() -> None:
    assert Ceiling.of(10, 100) == Ceiling(10, declared=True)
    assert Ceiling.of(None, 100) == Ceiling(100, declared=False)
    with pytest.raises(BadEventError) as refused:
        Ceiling.of(101, 100)
    assert refused.value.reason is DeadLetterReason.CONTENT_FORBIDDEN
    assert Ceiling.of(10, 100).exceeded().reason is DeadLetterReason.SIZE_MISMATCH
