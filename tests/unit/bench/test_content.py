import hashlib

import httpx
import pytest

from bench.content import ContentServer, PatternSource


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others() -> None:
    a = b"".join(PatternSource(seed=1, size_bytes=5000, chunk_bytes=1024).iter_chunks())
    again = b"".join(PatternSource(seed=1, size_bytes=5000, chunk_bytes=1024).iter_chunks())
    other = b"".join(PatternSource(seed=2, size_bytes=5000, chunk_bytes=1024).iter_chunks())
    assert len(a) == 5000
    assert a == again
    assert a != other


def test_chunks_cover_the_size_with_a_short_last_one() -> None:
    source = PatternSource(seed=3, size_bytes=2500, chunk_bytes=1000)
    assert source.chunks == 3
    assert [len(c) for c in source.iter_chunks()] == [1000, 1000, 500]
    with pytest.raises(IndexError):
        source.chunk(3)


def test_reading_from_an_offset_matches_the_whole() -> None:
    source = PatternSource(seed=4, size_bytes=4096, chunk_bytes=1000)
    whole = b"".join(source.iter_chunks())
    for start in (0, 1, 999, 1000, 1001, 4095, 4096):
        assert b"".join(source.iter_chunks(start)) == whole[start:]
    assert source.read_at(1500, 700) == whole[1500:2200]
    assert source.read_at(4000, 700) == whole[4000:]


def test_sha256_is_that_of_every_byte() -> None:
    source = PatternSource(seed=5, size_bytes=3 * 1024 + 7, chunk_bytes=1024)
    assert source.sha256 == hashlib.sha256(b"".join(source.iter_chunks())).hexdigest()


def test_the_reader_returns_exactly_the_bytes_in_any_read_sizes() -> None:
    source = PatternSource(seed=6, size_bytes=10_000, chunk_bytes=1024)
    reader = source.reader()
    parts = [reader.read(3000), reader.read(1), reader.read(5000), reader.read(5000)]
    assert [len(p) for p in parts] == [3000, 1, 5000, 1999]
    assert reader.read(10) == b""
    assert b"".join(parts) == b"".join(source.iter_chunks())


def test_an_empty_source_has_no_chunks_and_the_empty_hash() -> None:
    source = PatternSource(seed=7, size_bytes=0)
    assert list(source.iter_chunks()) == []
    assert source.sha256 == hashlib.sha256(b"").hexdigest()


def test_the_server_streams_a_source_and_404s_anything_else() -> None:
    source = PatternSource(seed=8, size_bytes=3 * (1 << 20) + 11)
    with ContentServer() as server:
        url = server.add(source)
        response = httpx.get(url, timeout=30)
        missing = httpx.get(url.rsplit("/", 1)[0] + "/nothing.bin", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(source.size_bytes)
    assert hashlib.sha256(response.content).hexdigest() == source.sha256
    assert missing.status_code == 404
