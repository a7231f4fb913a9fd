import asyncio
import os
from collections.abc import AsyncIterator, Iterable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.crypto.cipher import (
    HEADER_SIZE_BYTES,
    TAG_SIZE_BYTES,
    AesGcmSegmentCipher,
    Header,
    decrypt_stream,
    new_data_key,
    parse_header,
)
from storage.errors import IntegrityError, InvalidRangeError

SEG = 16
KEY = bytes(range(32))
ITEM = "item-0001"


def chunked(data: bytes, size: int) -> Iterable[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def encrypt(
    plaintext: bytes,
    *,
    seg: int = SEG,
    chunk: int | None = None,
    key: bytes = KEY,
    item_id: str = ITEM,
    key_id: str = "k1",
) -> bytes:
    enc = AesGcmSegmentCipher(seg).encryptor(data_key=key, item_id=item_id, key_id=key_id)
    out = [enc.update(part) for part in chunked(plaintext, chunk or len(plaintext) or 1)]
    out.append(enc.finalize())
    return b"".join(out)


def decrypt(
    ciphertext: bytes,
    size: int,
    *,
    seg: int = SEG,
    chunk: int = 7,
    key: bytes = KEY,
    item_id: str = ITEM,
) -> bytes:
    dec = AesGcmSegmentCipher(seg).decryptor(
        data_key=key, item_id=item_id, plaintext_size_bytes=size
    )
    out = [dec.update(part) for part in chunked(ciphertext, chunk)]
    out.append(dec.finalize())
    return b"".join(out)


def segments(ciphertext: bytes, seg: int = SEG) -> list[bytes]:
    body = ciphertext[HEADER_SIZE_BYTES:]
    stride = seg + TAG_SIZE_BYTES
    return [body[i : i + stride] for i in range(0, len(body), stride)]


async def agen(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


SIZES = [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 5, 10 * SEG]
CHUNKS = [1, 5, SEG, SEG + 3, 1000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_round_trip_for_sizes_and_chunkings(size: int, chunk: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt(plaintext, chunk=chunk)
    assert len(ciphertext) == AesGcmSegmentCipher(SEG).ciphertext_size(size, "k1")
    assert len(segments(ciphertext)) == size // SEG + 1
    assert decrypt(ciphertext, size, chunk=chunk) == plaintext
    assert decrypt(ciphertext, size, chunk=len(ciphertext)) == plaintext
    assert AesGcmSegmentCipher(SEG).decrypt(ciphertext, data_key=KEY, item_id=ITEM) == plaintext


@settings(max_examples=150, deadline=None)
@given(
    plaintext=st.binary(max_size=400),
    seg=st.integers(1, 64),
    chunk=st.integers(1, 100),
)
def test_round_trip_property(plaintext: bytes, seg: int, chunk: int) -> None:
    ciphertext = encrypt(plaintext, seg=seg, chunk=chunk)
    assert len(ciphertext) == AesGcmSegmentCipher(seg).ciphertext_size(len(plaintext))
    assert decrypt(ciphertext, len(plaintext), seg=seg, chunk=chunk) == plaintext
    assert parse_header(ciphertext).segment_size_bytes == seg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(1, 300), seg=st.integers(1, 48))
def test_random_ranges_equal_the_plaintext_slice(data: st.DataObject, size: int, seg: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt(plaintext, seg=seg)
    start = data.draw(st.integers(0, size - 1), label="start")
    end = data.draw(st.integers(start, size - 1), label="end")
    chunk = data.draw(st.integers(1, 64), label="chunk")
    cipher = AesGcmSegmentCipher(seg)
    plan = cipher.plan_range(plaintext_size_bytes=size, start=start, end=end, key_id="k1")
    fetched = ciphertext[plan.ciphertext_offset : plan.ciphertext_end + 1]
    assert len(fetched) == plan.ciphertext_length
    # Whole segments only: the fetch starts and ends on segment boundaries.
    assert (plan.ciphertext_offset - HEADER_SIZE_BYTES) % (seg + TAG_SIZE_BYTES) == 0
    dec = cipher.decryptor(
        data_key=KEY,
        item_id=ITEM,
        header=ciphertext[:HEADER_SIZE_BYTES],
        plaintext_size_bytes=size,
        first_segment=plan.first_segment,
        last_segment=plan.last_segment,
    )

    async def collect() -> bytes:
        stream = decrypt_stream(
            agen(chunked(fetched, chunk)), dec, plan.skip_bytes, plan.take_bytes
        )
        return b"".join([piece async for piece in stream])

    assert asyncio.run(collect()) == plaintext[start : end + 1]


def test_header_size_does_not_depend_on_the_key_id() -> None:
    cipher = AesGcmSegmentCipher(SEG)
    sizes = {cipher.ciphertext_size(1000, key_id) for key_id in ("k1", "k99", "x" * 32)}
    assert sizes == {HEADER_SIZE_BYTES + 1000 + (1000 // SEG + 1) * TAG_SIZE_BYTES}
    header = parse_header(encrypt(b"abc", key_id="rotated-key.v12"))
    assert header == Header(1, SEG, "rotated-key.v12", header.nonce_prefix)
    assert header.size_bytes == HEADER_SIZE_BYTES == len(header.to_bytes())


@pytest.mark.parametrize("key_id", ["", "x" * 33, "k:1", "ké", "k 1"])
def test_bad_key_ids_are_refused(key_id: str) -> None:
    with pytest.raises(ValueError, match="key id"):
        AesGcmSegmentCipher(SEG).encryptor(data_key=KEY, item_id=ITEM, key_id=key_id)


def test_every_flipped_bit_is_refused() -> None:
    plaintext = os.urandom(2 * SEG + 5)
    ciphertext = encrypt(plaintext)
    assert decrypt(ciphertext, len(plaintext)) == plaintext
    cipher = AesGcmSegmentCipher(SEG)
    for bit in range(len(ciphertext) * 8):
        forged = bytearray(ciphertext)
        forged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            decrypt(bytes(forged), len(plaintext))
        with pytest.raises(IntegrityError):
            cipher.decrypt(bytes(forged), data_key=KEY, item_id=ITEM)


def test_no_plaintext_is_released_before_its_segment_verifies() -> None:
    ciphertext = encrypt(os.urandom(3 * SEG))
    forged = bytearray(ciphertext)
    forged[-1] ^= 1  # the tag of the (empty) final segment
    dec = AesGcmSegmentCipher(SEG).decryptor(
        data_key=KEY, item_id=ITEM, plaintext_size_bytes=3 * SEG
    )
    forged_first = bytearray(ciphertext)
    forged_first[HEADER_SIZE_BYTES + SEG + 3] ^= 1  # inside the first segment's tag
    first = AesGcmSegmentCipher(SEG).decryptor(
        data_key=KEY, item_id=ITEM, plaintext_size_bytes=3 * SEG
    )
    assert first.update(forged_first[: HEADER_SIZE_BYTES + SEG]) == b""
    with pytest.raises(IntegrityError) as info:
        first.update(forged_first[HEADER_SIZE_BYTES + SEG :])
    assert (info.value.item_id, info.value.segment) == (ITEM, 0)
    assert len(dec.update(forged[:-TAG_SIZE_BYTES])) == 3 * SEG
    with pytest.raises(IntegrityError):
        dec.update(forged[-TAG_SIZE_BYTES:])


@pytest.mark.parametrize("size", [0, 5, SEG, 2 * SEG, 2 * SEG + 5])
def test_every_truncation_is_refused(size: int) -> None:
    ciphertext = encrypt(os.urandom(size))
    cipher = AesGcmSegmentCipher(SEG)
    for length in range(len(ciphertext)):
        with pytest.raises(IntegrityError):
            decrypt(ciphertext[:length], size)
        with pytest.raises(IntegrityError):
            cipher.decrypt(ciphertext[:length], data_key=KEY, item_id=ITEM)


def test_truncation_at_a_segment_boundary_is_refused_even_with_a_smaller_size() -> None:
    plaintext = os.urandom(2 * SEG + 5)
    ciphertext = encrypt(plaintext)
    cut = HEADER_SIZE_BYTES + 2 * (SEG + TAG_SIZE_BYTES)  # drops the final segment only
    # Even a catalog size that agrees with the cut fails: segment 1 is not flagged final.
    with pytest.raises(IntegrityError) as info:
        decrypt(ciphertext[:cut], SEG)
    assert info.value.segment == 1
    with pytest.raises(IntegrityError, match="truncated"):
        AesGcmSegmentCipher(SEG).decrypt(ciphertext[:cut], data_key=KEY, item_id=ITEM)
    with pytest.raises(IntegrityError, match="missing segments"):
        decrypt(ciphertext[:cut], len(plaintext))


def test_reordered_segments_are_refused() -> None:
    plaintext = os.urandom(3 * SEG + 1)
    ciphertext = encrypt(plaintext)
    parts = segments(ciphertext)
    swapped = ciphertext[:HEADER_SIZE_BYTES] + b"".join([parts[1], parts[0], *parts[2:]])
    with pytest.raises(IntegrityError) as info:
        decrypt(swapped, len(plaintext))
    assert info.value.segment == 0


def test_trailing_data_is_refused() -> None:
    ciphertext = encrypt(b"abc")
    with pytest.raises(IntegrityError, match="past the last segment"):
        decrypt(ciphertext + b"\x00", 3)
    with pytest.raises(IntegrityError):
        AesGcmSegmentCipher(SEG).decrypt(ciphertext + bytes(16), data_key=KEY, item_id=ITEM)


@pytest.mark.parametrize("same_key", [True, False])
def test_another_items_object_is_refused(same_key: bool) -> None:
    plaintext = os.urandom(SEG + 3)
    other_key = KEY if same_key else new_data_key()
    other = encrypt(plaintext, key=other_key, item_id="item-0002")
    with pytest.raises(IntegrityError):
        decrypt(other, len(plaintext))  # read as ITEM with ITEM's key
    mine = encrypt(plaintext)
    spliced = mine[:HEADER_SIZE_BYTES] + other[HEADER_SIZE_BYTES:]
    with pytest.raises(IntegrityError):
        decrypt(spliced, len(plaintext))


def test_wrong_item_id_and_wrong_key_are_refused() -> None:
    ciphertext = encrypt(b"secret words")
    with pytest.raises(IntegrityError):
        decrypt(ciphertext, 12, item_id="item-0002")
    with pytest.raises(IntegrityError):
        decrypt(ciphertext, 12, key=new_data_key())


def test_an_early_final_flag_is_refused() -> None:
    # Seal segment 0 as final with the real key: a valid segment in the wrong place.
    honest = encrypt(os.urandom(SEG + 4))
    header = parse_header(honest)
    aead, ad = AESGCM(KEY), header.associated_data(ITEM)
    nonce = header.nonce_prefix + (0).to_bytes(4, "big") + b"\x01"
    early = aead.encrypt(nonce, os.urandom(SEG), ad)
    forged = honest[:HEADER_SIZE_BYTES] + early + segments(honest)[1]
    with pytest.raises(IntegrityError) as info:
        decrypt(forged, SEG + 4)
    assert info.value.segment == 0
    # And a short object whose only segment is final cannot pass for the start of a long one.
    short = encrypt(os.urandom(SEG - 1))
    with pytest.raises(IntegrityError):
        decrypt(short, 5 * SEG)


def test_encryptor_buffers_at_most_one_segment_for_64_mib() -> None:
    cipher = AesGcmSegmentCipher()
    enc = cipher.encryptor(data_key=new_data_key(), item_id=ITEM, key_id="k1")
    chunk = os.urandom(64 * 1024)
    total = 0
    for _ in range(1024):
        total += len(enc.update(chunk))
        assert enc.buffered_bytes < cipher.segment_size_bytes
    total += len(enc.finalize())
    assert 0 < enc.peak_buffered_bytes < cipher.segment_size_bytes
    assert total == cipher.ciphertext_size(64 * 1024 * 1024)


def test_encryptor_emits_the_header_first_and_full_segments_at_once() -> None:
    enc = AesGcmSegmentCipher(SEG).encryptor(data_key=KEY, item_id=ITEM, key_id="k1")
    first = enc.update(b"x" * (SEG - 1))
    assert first == enc.header.to_bytes()
    assert len(enc.update(b"yy")) == SEG + TAG_SIZE_BYTES
    assert enc.buffered_bytes == 1
    assert len(enc.finalize()) == 1 + TAG_SIZE_BYTES
    with pytest.raises(ValueError, match="finalized"):
        enc.update(b"z")


def test_nonce_prefixes_differ_between_objects() -> None:
    a, b = encrypt(b"same"), encrypt(b"same")
    assert parse_header(a).nonce_prefix != parse_header(b).nonce_prefix
    assert a != b


async def test_stream_helpers_round_trip_and_refuse_a_short_stream() -> None:
    plaintext = os.urandom(5 * SEG + 3)
    cipher = AesGcmSegmentCipher(SEG)
    ciphertext = encrypt(plaintext, chunk=9)
    dec = cipher.decryptor(data_key=KEY, item_id=ITEM, plaintext_size_bytes=len(plaintext))
    stream = decrypt_stream(agen(chunked(ciphertext, 11)), dec, 0, len(plaintext))
    assert b"".join([p async for p in stream]) == plaintext
    dec = cipher.decryptor(data_key=KEY, item_id=ITEM, plaintext_size_bytes=len(plaintext))
    short = decrypt_stream(agen([ciphertext[: HEADER_SIZE_BYTES + SEG + 16]]), dec, 0, 1)
    with pytest.raises(IntegrityError, match="missing segments"):
        _ = [p async for p in short]


def test_reprs_hide_the_data_key() -> None:
    key = new_data_key()
    cipher = AesGcmSegmentCipher(SEG)
    enc = cipher.encryptor(data_key=key, item_id=ITEM, key_id="k1")
    dec = cipher.decryptor(data_key=key, item_id=ITEM, plaintext_size_bytes=0)
    for text in (repr(enc), repr(dec), repr(cipher)):
        assert key.hex() not in text
        assert repr(key) not in text
    assert len(key) == 32
    assert key != new_data_key()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidRangeError):
        AesGcmSegmentCipher(SEG).plan_range(plaintext_size_bytes=10, start=3, end=2)
    with pytest.raises(ValueError, match="segment size"):
        AesGcmSegmentCipher(0)
    with pytest.raises(ValueError, match="data key"):
        AesGcmSegmentCipher(SEG).encryptor(data_key=b"short", item_id=ITEM, key_id="k1")
    with pytest.raises(ValueError, match="outside the object"):
        AesGcmSegmentCipher(SEG).decryptor(
            data_key=KEY,
            item_id=ITEM,
            plaintext_size_bytes=10,
            header=encrypt(b"0123456789")[:HEADER_SIZE_BYTES],
            first_segment=1,
        )
