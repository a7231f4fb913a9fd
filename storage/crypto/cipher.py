"""Streaming AES-256-GCM in fixed-size segments: the AEAD side of the encrypted object format.

The layout, nonces and range arithmetic are in ``storage/crypto/cipher_format.py`` and specified in
``storage/crypto/FORMAT.md``. Memory stays bounded by one segment whatever the object size, a byte
range decrypts only the segments that hold it, and no plaintext leaves a decryptor before its
whole segment has been authenticated.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import cipher_format as fmt
from storage.crypto.cipher_format import (
    HEADER_SIZE_BYTES,
    TAG_SIZE_BYTES,
    Header,
    RangePlan,
    check_key_id,
    parse_header,
    segment_count,
    segment_nonce,
)
from storage.errors import IntegrityError

__all__ = [
    "HEADER_SIZE_BYTES",
    "TAG_SIZE_BYTES",
    "AesGcmSegmentCipher",
    "Header",
    "RangePlan",
    "SegmentDecryptor",
    "SegmentEncryptor",
    "decrypt_stream",
    "new_data_key",
    "parse_header",
]

DATA_KEY_SIZE_BYTES = 32
DEFAULT_SEGMENT_SIZE_BYTES = 1 << 20

Chunk = bytes | bytearray | memoryview


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key for one item."""
    return os.urandom(DATA_KEY_SIZE_BYTES)


def _aead(data_key: bytes) -> AESGCM:
    if len(data_key) != DATA_KEY_SIZE_BYTES:
        raise ValueError(f"a data key is {DATA_KEY_SIZE_BYTES} bytes")
    return AESGCM(data_key)


class _Staging:
    """Bytes held back until a segment is whole; its memory is reused, never freed early."""

    __slots__ = ("_data", "size")

    def __init__(self) -> None:
        self._data = bytearray()
        self.size = 0

    def fill(self, data: memoryview) -> None:
        end = self.size + len(data)
        self._data[self.size : end] = data  # in place once the buffer has grown
        self.size = end

    def view(self) -> memoryview:
        return memoryview(self._data)[: self.size]


class SegmentEncryptor:
    """Encrypts one object incrementally; never buffers more than one segment.

    Built by ``AesGcmSegmentCipher.encryptor``. Feed plaintext to ``update`` in chunks of any
    size and write out what it returns, then write what ``finalize`` returns.
    """

    def __init__(self, *, aead: AESGCM, header: Header, item_id: str) -> None:
        self._aead = aead
        self._header = header
        self._ad = header.associated_data(item_id)
        self._segment_size = header.segment_size_bytes
        self._held = _Staging()
        self._next_segment = 0
        self._header_sent = False
        self._finalized = False
        self.peak_buffered_bytes = 0
        """Most plaintext bytes ever held between calls (at most ``segment_size - 1``)."""

    def __repr__(self) -> str:
        return f"SegmentEncryptor(key_id={self._header.key_id!r}, segment={self._next_segment})"

    @property
    def header(self) -> Header:
        """Return the header this encryptor writes."""
        return self._header

    @property
    def buffered_bytes(self) -> int:
        """Return the plaintext bytes held back until a segment is full."""
        return self._held.size

    def update(self, data: Chunk) -> bytes:
        """Encrypt ``data``; return the ciphertext now complete (header first, then segments)."""
        if self._finalized:
            raise ValueError("encryptor already finalized")
        pieces: list[bytes] = self._take_header()
        view = memoryview(data).cast("B")
        size = self._segment_size
        pos = 0
        if self._held.size:
            pos = min(size - self._held.size, len(view))
            self._held.fill(view[:pos])
            if self._held.size == size:
                pieces.append(self._seal_held(final=False))
        while len(view) - pos >= size:
            pieces.append(self._seal(view[pos : pos + size], final=False))
            pos += size
        if pos < len(view):
            self._held.fill(view[pos:])
        self.peak_buffered_bytes = max(self.peak_buffered_bytes, self._held.size)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def finalize(self) -> bytes:
        """Return the last ciphertext: the final-flagged segment (and the header if unsent)."""
        if self._finalized:
            raise ValueError("encryptor already finalized")
        pieces = self._take_header()
        pieces.append(self._seal_held(final=True))
        self._held = _Staging()
        self._finalized = True
        return b"".join(pieces)

    def _take_header(self) -> list[bytes]:
        if self._header_sent:
            return []
        self._header_sent = True
        return [self._header.to_bytes()]

    def _seal_held(self, *, final: bool) -> bytes:
        with self._held.view() as held:
            sealed = self._seal(held, final=final)
        self._held.size = 0
        return sealed

    def _seal(self, plaintext: Chunk, *, final: bool) -> bytes:
        nonce = segment_nonce(self._header.nonce_prefix, self._next_segment, final=final)
        self._next_segment += 1
        return self._aead.encrypt(nonce, plaintext, self._ad)


class SegmentDecryptor:
    """Decrypts and verifies a run of whole segments; returns only authenticated plaintext.

    Built by ``AesGcmSegmentCipher.decryptor``. The plaintext size gives the exact length of
    every segment and which one is final, so a missing, extra, reordered or early-final
    segment fails authentication or the length checks in ``finalize``.
    """

    def __init__(
        self,
        *,
        aead: AESGCM,
        item_id: str,
        header: Header | None,
        plaintext_size_bytes: int,
        first_segment: int,
        last_segment: int | None,
    ) -> None:
        if plaintext_size_bytes < 0 or first_segment < 0:
            raise ValueError("sizes and segment indexes are not negative")
        if header is None and first_segment != 0:
            raise ValueError("a read from a later segment needs the header given")
        self._aead = aead
        self._item_id = item_id
        self._size = plaintext_size_bytes
        self._next = first_segment
        self._last_wanted = last_segment
        self._held = _Staging()
        self._header: Header | None = None
        if header is not None:
            self._start(header)

    def __repr__(self) -> str:
        return f"SegmentDecryptor(item_id={self._item_id!r}, segment={self._next})"

    def _start(self, header: Header) -> None:
        self._header = header
        self._ad = header.associated_data(self._item_id)
        self._segment_size = header.segment_size_bytes
        self._final = segment_count(self._size, self._segment_size) - 1
        self._last = self._final if self._last_wanted is None else self._last_wanted
        if not self._next <= self._last <= self._final:
            raise ValueError("segment range outside the object")

    def _expected(self, index: int) -> int:
        if index < self._final:
            return self._segment_size + TAG_SIZE_BYTES
        return self._size - self._final * self._segment_size + TAG_SIZE_BYTES

    def update(self, ciphertext_chunk: Chunk) -> bytes:
        """Take the next ciphertext bytes; return the plaintext of every segment completed.

        Raises:
            IntegrityError: A segment failed authentication or data came past the last one.
        """
        view = memoryview(ciphertext_chunk).cast("B")
        pieces: list[bytes] = []
        pos = 0
        if self._header is None:
            pos = min(HEADER_SIZE_BYTES - self._held.size, len(view))
            self._held.fill(view[:pos])
            if self._held.size < HEADER_SIZE_BYTES:
                return b""
            with self._held.view() as held:
                self._start(parse_header(held))
            self._held.size = 0
        while pos < len(view):
            if self._next > self._last:
                raise IntegrityError(
                    "data past the last segment", item_id=self._item_id, segment=self._next
                )
            need = self._expected(self._next)
            if not self._held.size and len(view) - pos >= need:
                pieces.append(self._open(view[pos : pos + need]))
                pos += need
                continue
            take = min(need - self._held.size, len(view) - pos)
            self._held.fill(view[pos : pos + take])
            pos += take
            if self._held.size == need:
                with self._held.view() as held:
                    pieces.append(self._open(held))
                self._held.size = 0
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def finalize(self) -> bytes:
        """Check that every expected segment came whole; return any plaintext left (none).

        Raises:
            IntegrityError: Data ended inside the header or a segment, or before the last
                segment of the read (for a read to the end: the final-flagged segment).
        """
        if self._header is None:
            raise IntegrityError("truncated header", item_id=self._item_id)
        if self._held.size:
            raise IntegrityError("truncated segment", item_id=self._item_id, segment=self._next)
        if self._next <= self._last:
            raise IntegrityError("missing segments", item_id=self._item_id, segment=self._next)
        return b""

    def _open(self, sealed: Chunk) -> bytes:
        assert self._header is not None  # set before any segment is read
        index = self._next
        nonce = segment_nonce(self._header.nonce_prefix, index, final=index == self._final)
        try:
            plaintext = self._aead.decrypt(nonce, sealed, self._ad)
        except InvalidTag:
            raise IntegrityError(
                "segment failed authentication", item_id=self._item_id, segment=index
            ) from None
        self._next += 1
        return plaintext


async def decrypt_stream(
    chunks: AsyncIterator[bytes], decryptor: SegmentDecryptor, skip: int, take: int
) -> AsyncIterator[bytes]:
    """Yield verified plaintext of ``chunks``, dropping ``skip`` bytes and stopping at ``take``.

    Pass ``RangePlan.skip_bytes`` and ``take_bytes`` (for a whole object: 0 and its size).

    Raises:
        IntegrityError: From the decryptor, or if the data ended before ``take`` bytes.
    """
    to_skip, to_take = skip, take

    def trim(plaintext: bytes) -> bytes:
        nonlocal to_skip, to_take
        if to_skip >= len(plaintext):
            to_skip -= len(plaintext)
            return b""
        start, to_skip = to_skip, 0
        piece = (
            plaintext[start : start + to_take] if start or len(plaintext) > to_take else plaintext
        )
        to_take -= len(piece)
        return piece

    async for chunk in chunks:
        piece = trim(decryptor.update(chunk))
        if piece:
            yield piece
    piece = trim(decryptor.finalize())
    if piece:
        yield piece
    if to_take:
        raise IntegrityError("stream ended before the requested range")


class AesGcmSegmentCipher:
    """The segmented AES-256-GCM object format; encrypts, decrypts and plans byte ranges.

    Args:
        segment_size_bytes: Plaintext bytes per segment for new objects. Reads use the segment
            size in each object's header, so changing this never breaks existing objects
            (plan ranges of those with ``segment_size_bytes`` from their header).
    """

    header_size_bytes = HEADER_SIZE_BYTES

    def __init__(self, segment_size_bytes: int = DEFAULT_SEGMENT_SIZE_BYTES) -> None:
        fmt.check_segment_size(segment_size_bytes)
        self.segment_size_bytes = segment_size_bytes

    def __repr__(self) -> str:
        return f"AesGcmSegmentCipher(segment_size_bytes={self.segment_size_bytes})"

    def encryptor(self, *, data_key: bytes, item_id: str, key_id: str) -> SegmentEncryptor:
        """Start encrypting one object of ``item_id`` whose data key ``key_id`` wraps."""
        check_key_id(key_id)
        prefix = os.urandom(fmt.NONCE_PREFIX_BYTES)
        header = Header(fmt.FORMAT_VERSION, self.segment_size_bytes, key_id, prefix)
        return SegmentEncryptor(aead=_aead(data_key), header=header, item_id=item_id)

    def decryptor(
        self,
        *,
        data_key: bytes,
        item_id: str,
        plaintext_size_bytes: int,
        header: bytes | Header | None = None,
        first_segment: int = 0,
        last_segment: int | None = None,
    ) -> SegmentDecryptor:
        """Start decrypting segments ``first_segment..last_segment`` of one object.

        Args:
            data_key: The item's unwrapped data key.
            item_id: The item the object belongs to (authenticated).
            plaintext_size_bytes: The item's plaintext size, from the catalog.
            header: The object's header. ``None``: the data fed starts with it (whole reads).
            first_segment: Index of the first segment fed (``RangePlan.first_segment``).
            last_segment: Index of the last segment fed; ``None``: the final one.
        """
        parsed = parse_header(header) if isinstance(header, bytes) else header
        return SegmentDecryptor(
            aead=_aead(data_key),
            item_id=item_id,
            header=parsed,
            plaintext_size_bytes=plaintext_size_bytes,
            first_segment=first_segment,
            last_segment=last_segment,
        )

    def ciphertext_size(
        self,
        plaintext_size_bytes: int,
        key_id: str | None = None,
        *,
        segment_size_bytes: int | None = None,
    ) -> int:
        """Return the exact object size for a plaintext size.

        ``key_id`` is accepted for symmetry and checked, but the header has a fixed size, so it
        never changes the result (nor does re-wrapping the data key under a newer key).
        """
        if key_id is not None:
            check_key_id(key_id)
        return fmt.ciphertext_size(
            plaintext_size_bytes, segment_size_bytes or self.segment_size_bytes
        )

    def plan_range(
        self,
        *,
        plaintext_size_bytes: int,
        start: int,
        end: int,
        key_id: str | None = None,
        segment_size_bytes: int | None = None,
    ) -> RangePlan:
        """Map the inclusive plaintext range [start, end] to whole ciphertext segments.

        The header (bytes ``0..HEADER_SIZE_BYTES - 1``) is not part of the plan: fetch it too
        and give it to ``decryptor``. Pass the object's own ``segment_size_bytes`` (catalog or
        header) when it may differ from this cipher's.

        Raises:
            InvalidRangeError: ``start > end``, ``start < 0`` or ``end`` past the last byte.
        """
        if key_id is not None:
            check_key_id(key_id)
        return fmt.plan_range(
            plaintext_size_bytes=plaintext_size_bytes,
            start=start,
            end=end,
            segment_size_bytes=segment_size_bytes or self.segment_size_bytes,
        )

    def encrypt(self, plaintext: bytes, *, data_key: bytes, item_id: str, key_id: str) -> bytes:
        """Encrypt a small object in one call (e.g. inline chat content)."""
        encryptor = self.encryptor(data_key=data_key, item_id=item_id, key_id=key_id)
        return encryptor.update(plaintext) + encryptor.finalize()

    def decrypt(self, ciphertext: bytes, *, data_key: bytes, item_id: str) -> bytes:
        """Decrypt and verify a whole object held in memory.

        Raises:
            IntegrityError: Any alteration, truncation or extension of the object.
        """
        header = parse_header(ciphertext)
        size = fmt.plaintext_size(len(ciphertext), header.segment_size_bytes)
        if size is None:
            raise IntegrityError("truncated object", item_id=item_id)
        decryptor = self.decryptor(
            data_key=data_key, item_id=item_id, plaintext_size_bytes=size, header=header
        )
        plaintext = decryptor.update(memoryview(ciphertext)[HEADER_SIZE_BYTES:])
        return plaintext + decryptor.finalize()
