"""ContentVault: envelope encryption between a stream of plaintext and the object store."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import BinaryIO, cast

from storage.cipher import AesGcmSegmentCipher, SegmentEncryptor, decrypt_stream, new_data_key
from storage.errors import ContentMismatchError
from storage.keyring import KeyRing, WrappedKey
from storage.models import ContentInfo, StoredContent
from storage.ports import ObjectStore

OBJECT_PREFIX = "items/"


def object_key_for(item_id: str) -> str:
    """The object name of an item: its random id only, never personal data."""
    return f"{OBJECT_PREFIX}{item_id[:2]}/{item_id}"


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
    ) -> StoredContent:
        """Encrypt chunks under a fresh data key and upload them (blocking: run in a thread).

        The size and checksum are verified before the upload completes, so content that fails
        them is never committed.
        """
        data_key = new_data_key()
        key_id = self._keyring.current_key_id()
        encryptor = self._cipher.encryptor(data_key=data_key, item_id=item_id, key_id=key_id)
        reader = _EncryptingReader(chunks, encryptor, expected_size_bytes, expected_sha256)
        key = object_key_for(item_id)
        result = self._store.put_stream(
            key,
            cast(BinaryIO, reader),
            content_type="application/octet-stream",
            tags=tags,
        )
        wrapped = self._keyring.wrap(data_key, item_id=item_id)
        return StoredContent(
            object_key=key,
            version_id=result.version_id,
            ciphertext_size_bytes=result.size_bytes,
            segment_size_bytes=self._cipher.segment_size_bytes,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.to_str(),
            content=ContentInfo(reader.size_bytes, reader.sha256, content_type),
        )

    async def open(
        self, *, item_id: str, stored: StoredContent, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """Verified plaintext of the inclusive range [start, end]; fetches only its segments."""
        data_key = self._keyring.unwrap(WrappedKey.from_str(stored.wrapped_key), item_id=item_id)
        size = stored.content.size_bytes
        header_size = self._cipher.header_size_bytes
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
        header = b"".join([c async for c in self._chunks(stored, 0, header_size)])
        decryptor = self._cipher.decryptor(
            data_key=data_key,
            item_id=item_id,
            plaintext_size_bytes=size,
            header=header,
            first_segment=plan.first_segment,
            last_segment=plan.last_segment,
        )
        chunks = self._chunks(stored, plan.ciphertext_offset, plan.ciphertext_length)
        async for piece in decrypt_stream(chunks, decryptor, plan.skip_bytes, plan.take_bytes):
            yield piece

    async def _chunks(
        self, stored: StoredContent, offset: int, length: int
    ) -> AsyncIterator[bytes]:
        iterator = self._store.get_range(
            stored.object_key, stored.version_id, offset=offset, length=length
        )
        sentinel = b""
        try:
            while True:
                chunk = await asyncio.to_thread(next, iterator, sentinel)
                if chunk is sentinel:
                    return
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


class _EncryptingReader:
    """A file-like view of ciphertext, pulled from plaintext chunks as the uploader reads."""

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

    @property
    def sha256(self) -> str:
        """Hex sha256 of the plaintext read so far."""
        return self._digest.hexdigest()

    def read(self, size: int = -1) -> bytes:
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
        else:
            data = bytes(self._out[:size])
            del self._out[:size]
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
