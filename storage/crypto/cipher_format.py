"""The encrypted object format: header, nonces and the size and range arithmetic.

Pure functions of sizes and bytes, kept apart from the AEAD processing in
``storage/crypto/cipher.py``; ``storage/crypto/FORMAT.md`` is the specification. An object is
a fixed 51-byte header, then ``plaintext_size // segment_size + 1`` segments, each the AES-GCM
ciphertext of up to ``segment_size`` plaintext bytes followed by its 16-byte tag. Only the last
segment is shorter (it may be empty) and only it carries the final flag in its nonce.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from storage.errors import FormatError, InvalidRangeError

MAGIC = b"KLSE"
FORMAT_VERSION = 1
HEADER_SIZE_BYTES = 51
KEY_ID_FIELD_BYTES = 32
NONCE_PREFIX_BYTES = 7
TAG_SIZE_BYTES = 16
MAX_SEGMENT_SIZE_BYTES = 1 << 30
MAX_SEGMENTS = 1 << 32  # the segment number is a 32-bit field of the nonce

# magic, version, header length, segment size, key id length, key id (zero-padded), prefix
_HEADER = struct.Struct(">4sBHIB32s7s")
# nonce prefix, segment number, final flag
_NONCE = struct.Struct(">7sIB")
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")

assert _HEADER.size == HEADER_SIZE_BYTES  # the layout and the constant must agree


def check_key_id(key_id: str) -> None:
    """Raise ValueError unless ``key_id`` fits the header: 1..32 of ``[A-Za-z0-9._-]``."""
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError("key id must be 1..32 characters of [A-Za-z0-9._-]")


def check_segment_size(segment_size_bytes: int) -> None:
    """Raise ValueError unless the segment size is within 1 byte..1 GiB."""
    if not 1 <= segment_size_bytes <= MAX_SEGMENT_SIZE_BYTES:
        raise ValueError(f"segment size must be within 1..{MAX_SEGMENT_SIZE_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class Header:
    """The parsed header of an encrypted object (none of it is secret).

    Attributes:
        version: Format version, 1.
        segment_size_bytes: Plaintext bytes per segment (the last one holds fewer).
        key_id: Id of the key-encryption key that wrapped the data key at write time.
        nonce_prefix: Random per-object prefix of every segment nonce.
        size_bytes: Size of the header itself.
    """

    version: int
    segment_size_bytes: int
    key_id: str
    nonce_prefix: bytes
    size_bytes: int = HEADER_SIZE_BYTES

    def to_bytes(self) -> bytes:
        """Return the canonical encoding; ``parse_header`` accepts nothing else."""
        raw_id = self.key_id.encode("ascii")
        return _HEADER.pack(
            MAGIC,
            self.version,
            HEADER_SIZE_BYTES,
            self.segment_size_bytes,
            len(raw_id),
            raw_id,
            self.nonce_prefix,
        )

    def associated_data(self, item_id: str) -> bytes:
        """Return the associated data of every segment: header bytes, then the item id."""
        return self.to_bytes() + item_id.encode("utf-8")


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """Parse the header at the start of ``data`` (bytes after it are ignored).

    Raises:
        FormatError: Too short, wrong magic or version, or not canonically encoded. Every
            other header alteration fails segment authentication instead.
    """
    if len(data) < HEADER_SIZE_BYTES:
        raise FormatError("truncated header")
    magic, version, size, segment_size, id_len, raw_id, prefix = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FormatError("not an encrypted keepline object (bad magic)")
    if version != FORMAT_VERSION:
        raise FormatError(f"unsupported format version {version}")
    if size != HEADER_SIZE_BYTES:
        raise FormatError("bad header length")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE_BYTES:
        raise FormatError("bad segment size in header")
    key_id = raw_id[:id_len].decode("ascii", errors="replace")
    if not _KEY_ID.fullmatch(key_id) or any(raw_id[id_len:]):
        raise FormatError("bad key id in header")
    return Header(FORMAT_VERSION, segment_size, key_id, prefix)


def segment_count(plaintext_size_bytes: int, segment_size_bytes: int) -> int:
    """Return how many segments an object holds: always one more than its full segments."""
    return plaintext_size_bytes // segment_size_bytes + 1


@dataclass(frozen=True, slots=True)
class RangePlan:
    """How to read the inclusive plaintext range [start, end] of an object.

    Attributes:
        ciphertext_offset: First ciphertext byte to fetch (a segment boundary).
        ciphertext_length: Ciphertext bytes to fetch: whole segments, tags included.
        first_segment: Index of the first segment fetched.
        last_segment: Index of the last segment fetched.
        skip_bytes: Plaintext bytes to drop from the start of the first segment.
        take_bytes: Plaintext bytes to return in total (``end - start + 1``).
    """

    ciphertext_offset: int
    ciphertext_length: int
    first_segment: int
    last_segment: int
    skip_bytes: int
    take_bytes: int

    @property
    def ciphertext_end(self) -> int:
        """Return the last ciphertext byte to fetch, inclusive, as HTTP ``Range`` wants it."""
        return self.ciphertext_offset + self.ciphertext_length - 1


def segment_nonce(nonce_prefix: bytes, index: int, *, final: bool) -> bytes:
    """Return the 96-bit nonce of segment ``index``: prefix, 32-bit number, final flag."""
    if not 0 <= index < MAX_SEGMENTS:
        raise ValueError("object too large for its segment size")
    return _NONCE.pack(nonce_prefix, index, final)


def ciphertext_size(plaintext_size_bytes: int, segment_size_bytes: int) -> int:
    """Return the exact object size for a plaintext size."""
    count = segment_count(plaintext_size_bytes, segment_size_bytes)
    return HEADER_SIZE_BYTES + plaintext_size_bytes + count * TAG_SIZE_BYTES


def plaintext_size(ciphertext_size_bytes: int, segment_size_bytes: int) -> int | None:
    """Return the plaintext size of an object of this size, or None if no object has it."""
    stride = segment_size_bytes + TAG_SIZE_BYTES
    full, rest = divmod(ciphertext_size_bytes - HEADER_SIZE_BYTES, stride)
    if full < 0 or rest < TAG_SIZE_BYTES:
        return None
    return full * segment_size_bytes + rest - TAG_SIZE_BYTES


def plan_range(
    *, plaintext_size_bytes: int, start: int, end: int, segment_size_bytes: int
) -> RangePlan:
    """Map the inclusive plaintext range [start, end] to whole ciphertext segments.

    Raises:
        InvalidRangeError: ``start > end``, ``start < 0`` or ``end`` past the last byte.
    """
    if not 0 <= start <= end < plaintext_size_bytes:
        raise InvalidRangeError(start=start, end=end, size_bytes=plaintext_size_bytes)
    size = segment_size_bytes
    first, last = start // size, end // size
    stride = size + TAG_SIZE_BYTES
    final = segment_count(plaintext_size_bytes, size) - 1
    last_length = size if last < final else plaintext_size_bytes - final * size
    return RangePlan(
        ciphertext_offset=HEADER_SIZE_BYTES + first * stride,
        ciphertext_length=(last - first) * stride + last_length + TAG_SIZE_BYTES,
        first_segment=first,
        last_segment=last,
        skip_bytes=start - first * size,
        take_bytes=end - start + 1,
    )
