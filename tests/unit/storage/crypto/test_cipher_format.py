import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.crypto.cipher_format import (
    HEADER_SIZE_BYTES,
    MAGIC,
    TAG_SIZE_BYTES,
    Header,
    ciphertext_size,
    parse_header,
    plaintext_size,
    plan_range,
    segment_count,
    segment_nonce,
)
from storage.errors import FormatError, IntegrityError, InvalidRangeError, StorageError

PREFIX = bytes.fromhex("0102030405060a")
HEADER = Header(1, 16, "k1", PREFIX)


def test_header_layout_is_exact() -> None:
    raw = HEADER.to_bytes()
    assert len(raw) == HEADER_SIZE_BYTES == HEADER.size_bytes == 51
    assert raw[:4] == MAGIC
    assert raw[4] == 1
    assert raw[5:7] == (51).to_bytes(2, "big")
    assert raw[7:11] == (16).to_bytes(4, "big")
    assert raw[11] == 2
    assert raw[12:44] == b"k1" + bytes(30)
    assert raw[44:51] == PREFIX
    assert parse_header(raw + b"trailing segments") == HEADER
    assert HEADER.associated_data("item-1") == raw + b"item-1"


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"X", "magic"),
        (4, b"\x02", "version"),
        (6, b"\x34", "header length"),
        (7, b"\x00\x00\x00\x00", "segment size"),
        (7, b"\x40\x00\x00\x01", "segment size"),
        (11, b"\x00", "key id"),
        (11, b"\x21", "key id"),
        (14, b"\x01", "key id"),  # non-zero padding: the encoding must be canonical
        (12, b"\xff", "key id"),
    ],
)
def test_malformed_headers_are_refused(offset: int, value: bytes, message: str) -> None:
    raw = bytearray(HEADER.to_bytes())
    raw[offset : offset + len(value)] = value
    with pytest.raises(FormatError, match=message):
        parse_header(bytes(raw))


def test_truncated_header_is_refused() -> None:
    with pytest.raises(FormatError, match="truncated"):
        parse_header(HEADER.to_bytes()[:-1])
    assert issubclass(FormatError, IntegrityError)
    assert issubclass(IntegrityError, StorageError)
    assert FormatError.retriable is False


def test_segment_nonce_layout() -> None:
    assert segment_nonce(PREFIX, 0, final=False) == PREFIX + bytes(5)
    assert segment_nonce(PREFIX, 258, final=True) == PREFIX + b"\x00\x00\x01\x02\x01"
    with pytest.raises(ValueError, match="too large"):
        segment_nonce(PREFIX, 1 << 32, final=False)


@given(size=st.integers(0, 10_000), seg=st.integers(1, 4096))
def test_sizes_invert(size: int, seg: int) -> None:
    total = ciphertext_size(size, seg)
    assert total == HEADER_SIZE_BYTES + size + (size // seg + 1) * TAG_SIZE_BYTES
    assert segment_count(size, seg) == size // seg + 1
    assert plaintext_size(total, seg) == size


def test_impossible_ciphertext_sizes_have_no_plaintext_size() -> None:
    assert plaintext_size(HEADER_SIZE_BYTES + TAG_SIZE_BYTES - 1, 16) is None
    assert plaintext_size(HEADER_SIZE_BYTES + 32, 16) is None  # one full segment, no final
    assert plaintext_size(10, 16) is None


@given(data=st.data(), size=st.integers(1, 2000), seg=st.integers(1, 100))
def test_plans_cover_exactly_the_segments_of_the_range(
    data: st.DataObject, size: int, seg: int
) -> None:
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size - 1))
    plan = plan_range(plaintext_size_bytes=size, start=start, end=end, segment_size_bytes=seg)
    stride = seg + TAG_SIZE_BYTES
    assert plan.first_segment == start // seg
    assert plan.last_segment == end // seg
    assert plan.ciphertext_offset == HEADER_SIZE_BYTES + plan.first_segment * stride
    fetched_plaintext = min(size, (plan.last_segment + 1) * seg) - plan.first_segment * seg
    segments = plan.last_segment - plan.first_segment + 1
    assert plan.ciphertext_length == fetched_plaintext + segments * TAG_SIZE_BYTES
    assert plan.ciphertext_end < ciphertext_size(size, seg)
    assert plan.first_segment * seg + plan.skip_bytes == start
    assert plan.take_bytes == end - start + 1


def test_range_plan_of_a_middle_byte() -> None:
    plan = plan_range(plaintext_size_bytes=100, start=40, end=40, segment_size_bytes=16)
    assert plan.first_segment == plan.last_segment == 2
    assert plan.ciphertext_offset == HEADER_SIZE_BYTES + 2 * 32
    assert (plan.ciphertext_length, plan.ciphertext_end) == (32, HEADER_SIZE_BYTES + 95)
    assert (plan.skip_bytes, plan.take_bytes) == (8, 1)


@pytest.mark.parametrize(
    ("size", "start", "end"),
    [(100, 5, 4), (100, -1, 3), (100, 0, 100), (100, 100, 100), (0, 0, 0)],
)
def test_invalid_ranges_are_refused(size: int, start: int, end: int) -> None:
    with pytest.raises(InvalidRangeError) as info:
        plan_range(plaintext_size_bytes=size, start=start, end=end, segment_size_bytes=16)
    assert isinstance(info.value, ValueError)
    assert (info.value.start, info.value.end, info.value.size_bytes) == (start, end, size)
