"""ContentVault: envelope encryption between a stream of plaintext and the object store."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from datetime import datetime
from typing import BinaryIO, cast

from storage.crypto.cipher import (
    AesGcmSegmentCipher,
    SegmentEncryptor,
    decrypt_stream,
    new_data_key,
)
from storage.errors import ContentMismatchError
from storage.models import ContentInfo, StoredContent, WrappedKey, object_key_for
from storage.ports import KeyRing, ObjectStore, ObjectVersion


class _End:
    """Marks the end of a chunk iterator (an empty chunk is data, not the end)."""


_END = _End()


class ContentVault:
    """Seals plaintext into encrypted objects and opens byte ranges of them."""

    def __init__(self, store: ObjectStore, keyring: KeyRing, cipher: AesGcmSegmentCipher) -> None:
        self._store = store
        self._keyring = keyring
        self._cipher = cipher

    @property
    def store(self) -> ObjectStore:
        """The object store."""
        return self._store

    @property
    def keyring(self) -> KeyRing:
        """The key ring."""
        return self._keyring

    def seal(
        self,
        *,
        item_id: str,
        chunks: Iterator[bytes],
        content_type: str,
        expected_size_bytes: int | None,
        expected_sha256: str | None,
        tags: Mapping[str, str],
        object_key: str | None = None,
        retain_until: datetime | None = None,
    ) -> StoredContent:
        """Encrypt chunks under a fresh data key and upload them (blocking: run in a thread).

        Memory stays bounded whatever the size: chunks are pulled as the uploader reads a
        part, encrypted one segment at a time, and sent. The size and checksum are verified
        before the upload completes, so content that fails them is never committed. The
        chunks iterator is closed when this returns or raises.

        ``object_key`` is where the object goes: the item's own key by default; a legal
        production, sealed under its own id, goes under ``productions/``. With
        ``retain_until`` the object is retained under Object Lock from its upload on.

        Raises:
            ContentMismatchError: The content is not the size or sha256 expected.
            ObjectStoreError: The store refused or could not be reached (``retriable``).
        """
        data_key = new_data_key()
        # Wrap first: the header names the KEK that wrapped this data key, even when a
        # rotation lands in the middle of the upload.
        wrapped = self._keyring.wrap(data_key, item_id=item_id)
        encryptor = self._cipher.encryptor(
            data_key=data_key, item_id=item_id, key_id=wrapped.key_id
        )
        reader = _EncryptingReader(chunks, encryptor, expected_size_bytes, expected_sha256)
        if expected_size_bytes is not None:
            # Announced, so the uploader reads exact parts instead of probing for the end.
            reader.length = self._cipher.ciphertext_size(expected_size_bytes)
        key = object_key or object_key_for(item_id)
        try:
            result = self._store.put_stream(
                key,
                cast(BinaryIO, reader),
                content_type="application/octet-stream",
                tags=tags,
                retain_until=retain_until,
            )
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return StoredContent(
            object_key=key,
            version_id=result.version_id,
            ciphertext_size_bytes=result.size_bytes,
            segment_size_bytes=self._cipher.segment_size_bytes,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.to_str(),
            content=ContentInfo(reader.size_bytes, reader.sha256, content_type),
        )

    def drop_versions(self, object_key: str, *, keep: str | None) -> int:
        """Remove every version of object_key but ``keep`` (blocking); returns how many.

        Used for uploads that lost: an attempt that died before its commit, or a second
        attempt at an event another worker committed first.
        """
        stale = [v for v in self._store.versions(object_key) if v.version_id != keep]
        self._store.delete_versions(stale, bypass_governance=True)
        return len(stale)

    def drop_version(self, object_key: str, version_id: str | None) -> None:
        """Remove one version (blocking); one that is already gone is not an error."""
        if version_id is None:
            return
        present = {v.version_id for v in self._store.versions(object_key)}
        if version_id in present:
            self._store.delete_versions(
                [ObjectVersion(object_key, version_id)], bypass_governance=True
            )

    async def open(
        self, *, item_id: str, stored: StoredContent, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """Verified plaintext of the inclusive range [start, end]; fetches only its segments.

        The header and the segments are requested at the same time, so a read costs one
        round trip to the store before the first byte, wherever the range lies.
        """
        data_key = self._keyring.unwrap(WrappedKey.from_str(stored.wrapped_key), item_id=item_id)
        size = stored.content.size_bytes
        if size == 0:
            decryptor = self._cipher.decryptor(
                data_key=data_key, item_id=item_id, plaintext_size_bytes=0
            )
            chunks = self._chunks(stored, 0, stored.ciphertext_size_bytes)
            async for piece in decrypt_stream(chunks, decryptor, 0, 0):
                yield piece
            return
        plan = self._cipher.plan_range(
            plaintext_size_bytes=size,
            start=start,
            end=end,
            segment_size_bytes=stored.segment_size_bytes,
        )
        segments = self._chunks(stored, plan.ciphertext_offset, plan.ciphertext_length)
        # The first segment is fetched while the header is read; if the header read fails,
        # that fetch is ended before the generator is closed (closing a generator another
        # task is still running raises RuntimeError and hides the real error).
        first_fetch = asyncio.ensure_future(anext(segments, _END))
        try:
            header = await self._read_all(stored, 0, self._cipher.header_size_bytes)
            first = await first_fetch
            decryptor = self._cipher.decryptor(
                data_key=data_key,
                item_id=item_id,
                plaintext_size_bytes=size,
                header=header,
                first_segment=plan.first_segment,
                last_segment=plan.last_segment,
            )
            async for piece in decrypt_stream(
                _prepend(first, segments), decryptor, plan.skip_bytes, plan.take_bytes
            ):
                yield piece
        finally:
            if not first_fetch.done():
                first_fetch.cancel()
            # Its outcome matters only when the header read succeeded (awaited above).
            await asyncio.gather(first_fetch, return_exceptions=True)
            await segments.aclose()

    async def _read_all(self, stored: StoredContent, offset: int, length: int) -> bytes:
        return b"".join([chunk async for chunk in self._chunks(stored, offset, length)])

    async def _chunks(
        self, stored: StoredContent, offset: int, length: int
    ) -> AsyncGenerator[bytes, None]:
        iterator = self._store.get_range(
            stored.object_key, stored.version_id, offset=offset, length=length
        )
        try:
            while True:
                chunk = await asyncio.to_thread(next, iterator, _END)
                if isinstance(chunk, _End):
                    return
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


async def _prepend(first: bytes | _End, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(first, _End):
        return
    yield first
    async for chunk in rest:
        yield chunk


class _EncryptingReader:
    """A file-like view of ciphertext, pulled from plaintext chunks as the uploader reads.

    ``length`` is the exact ciphertext size when the plaintext size is known: object store
    adapters may read it to upload parts of a known total (the source is still checked, so
    a source that sends another size fails the upload).
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        encryptor: SegmentEncryptor,
        expected_size_bytes: int | None,
        expected_sha256: str | None,
    ) -> None:
        self._chunks = chunks
        self._encryptor = encryptor
        self._expected_size = expected_size_bytes
        self._expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self._digest = hashlib.sha256()
        self._out = bytearray()
        self._done = False
        self.size_bytes = 0
        self.length: int | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of the plaintext read so far."""
        return self._digest.hexdigest()

    def read(self, size: int = -1) -> bytes:
        """Up to size bytes of ciphertext (all that is left for a negative size)."""
        while not self._done and (size < 0 or len(self._out) < size):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._finish()
                break
            self.size_bytes += len(chunk)
            if self._expected_size is not None and self.size_bytes > self._expected_size:
                # Stop pulling a source that sends more than it announced.
                raise ContentMismatchError(
                    field="size_bytes",
                    expected=str(self._expected_size),
                    actual=f">{self._expected_size}",
                )
            self._digest.update(chunk)
            self._out += self._encryptor.update(chunk)
        if size < 0 or size >= len(self._out):
            data = bytes(self._out)
            self._out.clear()
            return data
        with memoryview(self._out) as view:
            data = bytes(view[:size])  # one copy: a part handed to the uploader
        del self._out[:size]  # a bytearray drops its head without copying the rest
        return data

    def _finish(self) -> None:
        self._done = True
        if self._expected_size is not None and self.size_bytes != self._expected_size:
            raise ContentMismatchError(
                field="size_bytes", expected=str(self._expected_size), actual=str(self.size_bytes)
            )
        if self._expected_sha256 is not None and self.sha256 != self._expected_sha256:
            raise ContentMismatchError(
                field="sha256", expected=self._expected_sha256, actual=self.sha256
            )
        self._out += self._encryptor.finalize()
