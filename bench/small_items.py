"""small_items_vs_raw_put: 4 KiB chats stored per second over plain puts of 4 KiB objects.

keepline: N chats with 4 KiB of inline content (one encrypted object each, WORM retention
per policy, catalogued) published to Kafka, timed from the first publish until /metrics
counts all N stored. Raw: `put_object` of N objects of the same 4 KiB into a bucket with
Object Lock, as many at once as keepline uploads at once (``KEEPLINE_CONCURRENCY``).
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from bench.artefacts import chat, message
from bench.content import PatternSource
from bench.context import RAW_PREFIX, BenchContext, object_versions
from bench.errors import MeasurementError
from bench.kafka_io import publish
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import rate, ratio

#: Size of each chat's inline content and of each raw object.
ITEM_BYTES = 4096
#: Slowest plausible rate of stored chats, for the timeout (items per second).
_SLOWEST_ITEMS_S = 5


def small_items_vs_raw_put(ctx: BenchContext, service: KeeplineProcess) -> Result:
    """Small items stored per second by keepline over raw 4 KiB puts (see the module)."""
    count = ctx.sizes.small_items
    subject = f"bench-small-{ctx.run_id}"
    now = datetime.now(UTC)
    texts = [PatternSource(seed=30_000 + i, size_bytes=ITEM_BYTES).chunk(0) for i in range(count)]
    messages = [
        message(
            chat(
                run_id=f"{ctx.run_id}-small",
                index=i,
                subject_id=subject,
                occurred_at=now,
                text=text,
            )
        )
        for i, text in enumerate(texts)
    ]
    before = service.stored(["chat"])
    letters = sum(service.dead_letters().values())
    ctx.say(f"small items: keepline stores {count} chats of {ITEM_BYTES} B")
    started = time.monotonic()
    publish(ctx.stack.bootstrap, service.topics, messages)
    publish_s = time.monotonic() - started
    done = service.wait_stored(
        ["chat"],
        before + count,
        timeout_s=120 + count / _SLOWEST_ITEMS_S,
        letters_before=letters,
    )
    keepline_s = done - started

    bucket = ctx.stack.scratch_bucket("raw-small")
    ctx.say(f"small items: raw puts of {count} objects of {ITEM_BYTES} B")

    def put(index: int) -> None:
        data = texts[index]
        ctx.stack.s3.put_object(
            bucket, f"{RAW_PREFIX}{index:06d}", io.BytesIO(data), length=len(data)
        )

    started = time.monotonic()
    with ThreadPoolExecutor(ctx.settings.concurrency, thread_name_prefix="bench-small") as pool:
        list(pool.map(put, range(count)))
    raw_s = time.monotonic() - started
    written = object_versions(ctx.stack.s3, bucket, RAW_PREFIX)
    if len(written) != count or any(v[2] != ITEM_BYTES for v in written):
        raise MeasurementError(f"raw puts left {len(written)} objects, not {count}")

    keepline_rate, raw_rate = rate(count, keepline_s), rate(count, raw_s)
    return Result(
        "small_items_vs_raw_put",
        ratio(keepline_rate, raw_rate),
        "ratio",
        {
            "keepline_items_s": keepline_rate,
            "raw_puts_s": raw_rate,
            "items": count,
            "item_size_bytes": ITEM_BYTES,
            "keepline_s": keepline_s,
            "publish_s": publish_s,
            "raw_s": raw_s,
            "concurrency": ctx.settings.concurrency,
        },
    )
