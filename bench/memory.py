"""ingest_peak_rss_mb: the serve process's peak resident set while it ingests 2 GiB."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bench.artefacts import call_recording, message
from bench.content import PatternSource
from bench.context import BenchContext
from bench.kafka_io import publish
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import mebibytes, megabytes_per_s

_SLOWEST_BYTES_S = 2_000_000


def ingest_peak_rss_mb(ctx: BenchContext) -> Result:
    """VmHWM of a fresh `keepline serve` after it ingested one large recording.

    The process is started for this bench alone, so its high-water mark holds nothing but
    start-up and this ingest; the mark at readiness is reported beside it, and VmRSS is
    sampled while the recording streams through.
    """
    size = ctx.sizes.rss_bytes
    source = PatternSource(seed=11, size_bytes=size)
    ctx.say(f"peak RSS: hashing a {size >> 20} MiB recording")
    sha256 = source.sha256
    service = KeeplineProcess(
        name="rss",
        stack=ctx.stack,
        workdir=ctx.workdir / "keepline-rss",
        env={"KEEPLINE_CONCURRENCY": str(ctx.settings.concurrency)},
        content_sources=[f"http://127.0.0.1:{ctx.content.port}"],
    )
    service.start()
    try:
        baseline = service.memory_bytes("VmHWM")
        event = call_recording(
            run_id=f"{ctx.run_id}-rss",
            index=0,
            subject_id=f"bench-rss-{ctx.run_id}",
            occurred_at=datetime.now(UTC),
            uri=ctx.content.add(source),
            sha256=sha256,
            size_bytes=size,
        )
        ctx.say(f"peak RSS: ingesting the {size >> 20} MiB recording")
        sampled = 0

        def sample() -> None:
            nonlocal sampled
            sampled = max(sampled, service.memory_bytes("VmRSS"))

        started = time.monotonic()
        publish(ctx.stack.bootstrap, service.topics, [message(event)])
        done = service.wait_stored(
            ["call_recording"],
            1,
            timeout_s=120 + size / _SLOWEST_BYTES_S,
            letters_before=0,
            interval_s=0.25,
            on_poll=sample,
        )
        peak = service.memory_bytes("VmHWM")
    finally:
        service.stop()
    ingest_s = done - started
    return Result(
        "ingest_peak_rss_mb",
        mebibytes(peak),
        "MiB",
        {
            "baseline_mib": mebibytes(baseline),
            "sampled_rss_max_mib": mebibytes(sampled),
            "recording_bytes": size,
            "ingest_s": ingest_s,
            "ingest_mb_s": megabytes_per_s(size, ingest_s),
            "concurrency": ctx.settings.concurrency,
        },
    )
