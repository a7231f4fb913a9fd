"""content_first_byte_ms_p99: time to the first byte of a recording's decrypted content."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from bench.artefacts import call_recording, message
from bench.content import PatternSource
from bench.context import BenchContext
from bench.errors import MeasurementError
from bench.kafka_io import publish
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import megabytes_per_s, percentile

#: Bytes a Range request asks for; it starts off any segment boundary, mid-recording.
RANGE_BYTES = 64 * 1024
_RANGE_OFFSET_SKEW = 12_345
_WARM_UP = 3
_SLOWEST_BYTES_S = 2_000_000


def first_byte_ms(
    http: httpx.Client, path: str, headers: Mapping[str, str], expect_status: int
) -> tuple[float, bytes]:
    """Milliseconds from sending a GET until the first body bytes arrive, and those bytes.

    The response is closed after its first chunk: the rest of a 1 GiB body is not read.

    Raises:
        MeasurementError: Another status, or an empty body.
    """
    started = time.perf_counter()
    with http.stream("GET", path, headers=headers) as response:
        if response.status_code != expect_status:
            # The body is not read: it may be the whole 1 GiB recording.
            raise MeasurementError(
                f"GET {path} {dict(headers)} answered {response.status_code}, not {expect_status}"
            )
        for data in response.iter_raw():
            if data:
                return (time.perf_counter() - started) * 1000, data
    raise MeasurementError(f"GET {path} sent no body")


def content_first_byte_ms_p99(ctx: BenchContext, service: KeeplineProcess) -> Result:
    """p99 time to first byte of ``/content`` and of a mid-recording ``Range`` request.

    One recording (1 GiB by default) is ingested first. Then, one request at a time,
    alternately the whole content and a 64 KiB Range starting in the middle; each timed
    until its first body bytes. The value is the larger of the two p99s; both p50s and
    p99s are in the line. The bytes that come back are compared with what was ingested.
    """
    size = ctx.sizes.first_byte_bytes
    requests = ctx.sizes.first_byte_requests
    source = PatternSource(seed=7, size_bytes=size)
    ctx.say(f"first byte: hashing a {size >> 20} MiB recording")
    subject = f"bench-first-byte-{ctx.run_id}"
    event = call_recording(
        run_id=f"{ctx.run_id}-fb",
        index=0,
        subject_id=subject,
        occurred_at=datetime.now(UTC),
        uri=ctx.content.add(source),
        sha256=source.sha256,
        size_bytes=size,
    )
    before = service.stored(["call_recording"])
    letters = sum(service.dead_letters().values())
    ctx.say(f"first byte: ingesting the {size >> 20} MiB recording")
    started = time.monotonic()
    publish(ctx.stack.bootstrap, service.topics, [message(event)])
    done = service.wait_stored(
        ["call_recording"],
        before + 1,
        timeout_s=120 + size / _SLOWEST_BYTES_S,
        letters_before=letters,
    )
    ingest_s = done - started

    offset = size // 2 + _RANGE_OFFSET_SKEW if size > 2 * _RANGE_OFFSET_SKEW else size // 2
    last = min(offset + RANGE_BYTES, size) - 1
    ranged = {"Range": f"bytes={offset}-{last}"}
    with service.client("legal") as http:
        found = http.get("/v1/items", params={"subject_id": subject}).json()["items"]
        if len(found) != 1 or found[0]["content"]["sha256"] != source.sha256:
            raise MeasurementError(f"expected the one recording of {subject}, found {found}")
        path = f"/v1/items/{found[0]['item_id']}/content"
        whole = http.get(path, headers=ranged)
        if whole.status_code != 206 or whole.content != source.read_at(offset, last - offset + 1):
            raise MeasurementError(f"the Range request answered {whole.status_code} or other bytes")
        for _ in range(_WARM_UP):
            first_byte_ms(http, path, {}, 200)
            first_byte_ms(http, path, ranged, 206)
        ctx.say(f"first byte: timing {requests} whole and {requests} Range requests")
        full_ms: list[float] = []
        range_ms: list[float] = []
        for _ in range(requests):
            elapsed, head = first_byte_ms(http, path, {}, 200)
            if head != source.read_at(0, len(head)):
                raise MeasurementError("the content's first bytes are not the recording's")
            full_ms.append(elapsed)
            elapsed, head = first_byte_ms(http, path, ranged, 206)
            if head != source.read_at(offset, len(head)):
                raise MeasurementError("the Range's first bytes are not the recording's")
            range_ms.append(elapsed)

    full_p99, range_p99 = percentile(full_ms, 99), percentile(range_ms, 99)
    return Result(
        "content_first_byte_ms_p99",
        max(full_p99, range_p99),
        "ms",
        {
            "full_p50_ms": percentile(full_ms, 50),
            "full_p99_ms": full_p99,
            "range_p50_ms": percentile(range_ms, 50),
            "range_p99_ms": range_p99,
            "requests_each": requests,
            "recording_bytes": size,
            "range_offset": offset,
            "range_bytes": last - offset + 1,
            "ingest_s": ingest_s,
            "ingest_mb_s": megabytes_per_s(size, ingest_s),
        },
    )
