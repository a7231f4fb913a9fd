import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.crypto.cipher import HEADER_SIZE_BYTES, AesGcmSegmentCipher, parse_header
from storage.crypto.keyring import InMemoryKeyRing
from storage.crypto.vault import ContentVault
from storage.errors import ContentMismatchError, IntegrityError, ObjectNotFoundError, UnwrapError
from storage.models import StoredContent, WrappedKey, object_key_for
from storage.objects.filesystem_store import FilesystemObjectStore

SEGMENT = 1024
ITEM = "3f2c1b7a-0000-4000-8000-000000000001"


class RecordingStore(FilesystemObjectStore):
    """Records every ranged read, and can insist that two of them overlap in time."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[tuple[int, int]] = []
        self.meet: threading.Barrier | None = None

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        self.reads.append((offset, length))
        if self.meet is not None:
            self.meet.wait(timeout=5)  # BrokenBarrierError if the reads are sequential
        yield from super().get_range(key, version_id, offset=offset, length=length)


@pytest.fixture
def store(tmp_path: Path) -> RecordingStore:
    created = RecordingStore(tmp_path / "bucket")
    created.ensure_bucket()
    return created


@pytest.fixture
def vault(store: RecordingStore) -> ContentVault:
    return ContentVault(store, InMemoryKeyRing(), AesGcmSegmentCipher(SEGMENT))


def _chunks(data: bytes, size: int = 700) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _seal(vault: ContentVault, data: bytes, **kwargs: object) -> StoredContent:
    return vault.seal(
        item_id=ITEM,
        chunks=_chunks(data),
        content_type="audio/wav",
        expected_size_bytes=kwargs.get("size", len(data)),  # type: ignore[arg-type]
        expected_sha256=kwargs.get("sha", hashlib.sha256(data).hexdigest()),  # type: ignore[arg-type]
        tags={"kl-type": "call_recording"},
    )


async def _open(vault: ContentVault, stored: StoredContent, start: int, end: int) -> bytes:
    return b"".join(
        [p async for p in vault.open(item_id=ITEM, stored=stored, start=start, end=end)]
    )


async def test_seal_then_open_whole_and_any_range(vault: ContentVault) -> None:
    data = os.urandom(SEGMENT * 5 + 123)
    stored = _seal(vault, data)
    assert stored.object_key == object_key_for(ITEM)
    assert stored.content.size_bytes == len(data)
    assert stored.content.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.ciphertext_size_bytes == HEADER_SIZE_BYTES + len(data) + 6 * 16
    assert await _open(vault, stored, 0, len(data) - 1) == data
    for start, end in [
        (0, 0),
        (SEGMENT - 1, SEGMENT),
        (2 * SEGMENT + 5, 4 * SEGMENT + 7),
        (len(data) - 1, len(data) - 1),
    ]:
        assert await _open(vault, stored, start, end) == data[start : end + 1]


async def test_a_range_reads_header_and_only_its_segments_at_once(
    vault: ContentVault, store: RecordingStore
) -> None:
    data = os.urandom(SEGMENT * 8)
    stored = _seal(vault, data)
    store.reads.clear()
    store.meet = threading.Barrier(2)
    start, end = 3 * SEGMENT + 10, 4 * SEGMENT + 20
    assert await _open(vault, stored, start, end) == data[start : end + 1]
    stride = SEGMENT + 16
    assert sorted(store.reads) == [
        (0, HEADER_SIZE_BYTES),
        (HEADER_SIZE_BYTES + 3 * stride, 2 * stride),
    ]


async def test_empty_content_round_trips(vault: ContentVault) -> None:
    stored = _seal(vault, b"")
    assert stored.content.size_bytes == 0
    assert await _open(vault, stored, 0, 0) == b""


def test_header_key_id_is_the_wrapping_key(vault: ContentVault, store: RecordingStore) -> None:
    vault.keyring.rotate()
    stored = _seal(vault, b"after rotation")
    raw = b"".join(store.get_range(stored.object_key, stored.version_id, offset=0, length=64))
    assert (
        parse_header(raw).key_id
        == stored.key_id
        == WrappedKey.from_str(stored.wrapped_key).key_id
        == "k2"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"size": 10}, "size_bytes"), ({"size": 10_000}, "size_bytes"), ({"sha": "0" * 64}, "sha256")],
)
def test_content_that_fails_its_checks_is_never_stored(
    vault: ContentVault, store: RecordingStore, kwargs: dict[str, object], field: str
) -> None:
    closed = []

    def source() -> Iterator[bytes]:
        try:
            yield from _chunks(os.urandom(3000))
        finally:
            closed.append(True)

    with pytest.raises(ContentMismatchError) as refused:
        vault.seal(
            item_id=ITEM,
            chunks=source(),
            content_type="audio/wav",
            expected_size_bytes=kwargs.get("size", 3000),  # type: ignore[arg-type]
            expected_sha256=kwargs.get("sha"),  # type: ignore[arg-type]
            tags={},
        )
    assert refused.value.field == field
    assert store.versions(object_key_for(ITEM)) == []
    assert closed == [True]


async def test_tampered_ciphertext_or_foreign_key_is_refused(
    vault: ContentVault, store: RecordingStore
) -> None:
    data = os.urandom(SEGMENT * 2)
    stored = _seal(vault, data)
    other = ContentVault(store, InMemoryKeyRing(), AesGcmSegmentCipher(SEGMENT))
    with pytest.raises(UnwrapError):
        await _open(other, stored, 0, 10)
    path = store.root / stored.object_key / ".kl-versions" / str(stored.version_id)
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE_BYTES + 5] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        await _open(vault, stored, 0, 10)


def test_drop_versions_keeps_only_the_committed_one(
    vault: ContentVault, store: RecordingStore
) -> None:
    first = _seal(vault, b"first attempt")
    second = _seal(vault, b"second attempt")
    assert vault.drop_versions(first.object_key, keep=second.version_id) == 1
    assert [v.version_id for v in store.versions(first.object_key)] == [second.version_id]
    vault.drop_version(first.object_key, first.version_id)  # already gone: no error
    vault.drop_version(second.object_key, second.version_id)
    assert store.versions(first.object_key) == []


class VanishedStore(FilesystemObjectStore):
    """The header read finds no object while the first segment's read is still under way."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.segment_started = threading.Event()
        self.release = threading.Event()

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        if offset == 0:
            # The header: only once the segment read has begun, so the two overlap.
            self.segment_started.wait(timeout=5)
            raise ObjectNotFoundError(key)
        self.segment_started.set()
        self.release.wait(timeout=5)  # still running when the header read fails
        yield from super().get_range(key, version_id, offset=offset, length=length)


async def test_a_vanished_object_is_reported_as_such_not_as_a_generator_error(
    tmp_path: Path,
) -> None:
    keyring = InMemoryKeyRing()
    writer = ContentVault(
        FilesystemObjectStore(tmp_path / "bucket"), keyring, AesGcmSegmentCipher(SEGMENT)
    )
    writer_store = FilesystemObjectStore(tmp_path / "bucket")
    writer_store.ensure_bucket()
    stored = _seal(writer, os.urandom(5 * SEGMENT))
    store = VanishedStore(tmp_path / "bucket")
    reader = ContentVault(store, keyring, AesGcmSegmentCipher(SEGMENT))
    try:
        with pytest.raises(ObjectNotFoundError):
            await _open(reader, stored, 3 * SEGMENT, 4 * SEGMENT)
    finally:
        store.release.set()
