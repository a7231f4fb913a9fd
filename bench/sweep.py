"""sweep_vs_raw_delete: expired items destroyed per second over plain `remove_objects`.

A keepline of its own runs a policy whose one purpose lasts ``sweep_retention_s`` and
sweeps every ``sweep_interval_s``. N chats with inline content, all with the same
``occurred_at``, are stored before that retention runs out, so all of them expire at the
same instant; the time runs from that instant until each one is destroyed: the API lists
none of them (data keys shredded, tombstones and audit entries written) and no version of
their objects is left in the bucket. The raw side removes as many objects of the same size,
one `remove_objects` call per object and as many at once as the sweeper destroys at once;
one bulk `remove_objects` call over all of them is measured too and reported beside it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from minio.deleteobjects import DeleteObject

from bench.artefacts import chat, message
from bench.content import PatternSource
from bench.context import RAW_PREFIX, BenchContext, object_versions, wait_until
from bench.errors import MeasurementError, WaitTimeoutError
from bench.kafka_io import publish
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import rate, ratio

POLICY = """\
purposes:
  brief: {{basis: legitimate_interests, retention: PT{retention_s}S, roles: [legal]}}
rules:
  - match: {{type: chat}}
    purposes: [brief]
"""
_DESTROY_TIMEOUT_S = 900.0


def _remove_one(ctx: BenchContext, bucket: str, version: tuple[str, str | None, int]) -> None:
    errors = list(ctx.stack.s3.remove_objects(bucket, [DeleteObject(version[0], version[1])]))
    if errors:
        raise MeasurementError(f"remove_objects refused: {errors[0]}")


def _fill(ctx: BenchContext, bucket: str, count: int, size: int) -> None:
    def put(index: int) -> None:
        data = PatternSource(seed=90_000 + index, size_bytes=size)
        ctx.stack.s3.put_object(bucket, f"{RAW_PREFIX}{index:06d}", data.reader(), length=size)

    with ThreadPoolExecutor(ctx.settings.sweep_concurrency) as pool:
        list(pool.map(put, range(count)))


def _raw_deletes(ctx: BenchContext, one_by_one: str, bulk: str, count: int) -> tuple[float, float]:
    """Seconds to delete the raw objects: one call each, as many at once as the sweeper; bulk."""
    versions = object_versions(ctx.stack.s3, one_by_one, RAW_PREFIX)
    if len(versions) != count:
        raise MeasurementError(f"{len(versions)} raw objects to delete, not {count}")
    started = time.monotonic()
    with ThreadPoolExecutor(ctx.settings.sweep_concurrency) as pool:
        list(pool.map(lambda v: _remove_one(ctx, one_by_one, v), versions))
    raw_s = time.monotonic() - started
    everything = [
        DeleteObject(name, vid) for name, vid, _ in object_versions(ctx.stack.s3, bulk, RAW_PREFIX)
    ]
    started = time.monotonic()
    errors = list(ctx.stack.s3.remove_objects(bulk, everything))
    bulk_s = time.monotonic() - started
    if (
        errors
        or object_versions(ctx.stack.s3, one_by_one, RAW_PREFIX)
        or object_versions(ctx.stack.s3, bulk, RAW_PREFIX)
    ):
        raise MeasurementError(f"raw deletes left objects behind ({len(errors)} errors)")
    return raw_s, bulk_s


def sweep_vs_raw_delete(ctx: BenchContext) -> Result:
    """Run the sweep benchmark in a keepline of its own (see the module docstring)."""
    sizes = ctx.sizes
    count, retention_s = sizes.sweep_items, sizes.sweep_retention_s
    service = KeeplineProcess(
        name="sweep",
        stack=ctx.stack,
        workdir=ctx.workdir / "keepline-sweep",
        policy_text=POLICY.format(retention_s=retention_s),
        env={
            "KEEPLINE_SWEEP_INTERVAL_S": str(ctx.settings.sweep_interval_s),
            "KEEPLINE_CONCURRENCY": str(ctx.settings.concurrency),
        },
    )
    ctx.say(f"sweep: starting a keepline that sweeps every {ctx.settings.sweep_interval_s} s")
    service.start()
    try:
        return _measure(ctx, service, count, retention_s)
    finally:
        service.stop()


def _measure(ctx: BenchContext, service: KeeplineProcess, count: int, retention_s: int) -> Result:
    occurred_at = datetime.now(UTC)
    expires_at = occurred_at + timedelta(seconds=retention_s)
    subject = f"bench-sweep-{ctx.run_id}"
    messages = [
        message(
            chat(
                run_id=f"{ctx.run_id}-sweep",
                index=i,
                subject_id=subject,
                occurred_at=occurred_at,
                text=PatternSource(seed=70_000 + i, size_bytes=ctx.sizes.sweep_item_bytes).chunk(0),
            )
        )
        for i in range(count)
    ]
    ctx.say(f"sweep: storing {count} chats that all expire at {expires_at.isoformat()}")
    started = time.monotonic()
    publish(ctx.stack.bootstrap, service.topics, messages)
    left_s = (expires_at - datetime.now(UTC)).total_seconds() - 1
    try:
        stored_at = service.wait_stored(["chat"], count, timeout_s=left_s, letters_before=0)
    except WaitTimeoutError as err:
        raise MeasurementError(
            f"storing {count} items took longer than their {retention_s} s retention "
            "(set KEEPLINE_BENCH_SWEEP_RETENTION_S higher)"
        ) from err
    ctx.say(f"sweep: {count} items stored in {stored_at - started:.1f} s")
    stored = object_versions(ctx.stack.s3, service.bucket)
    if len(stored) != count:
        raise MeasurementError(f"{len(stored)} objects for {count} stored items")
    object_size = max(v[2] for v in stored)

    ctx.say(f"sweep: meanwhile, {2 * count} raw objects of {object_size} B to delete later")
    one_by_one, bulk = ctx.stack.scratch_bucket("raw-del"), ctx.stack.scratch_bucket("raw-bulk")
    started = time.monotonic()
    _fill(ctx, one_by_one, count, object_size)
    _fill(ctx, bulk, count, object_size)
    ctx.say(f"sweep: raw objects written in {time.monotonic() - started:.1f} s")
    if datetime.now(UTC) >= expires_at:
        raise MeasurementError(
            "the raw objects were not ready before the items expired "
            "(set KEEPLINE_BENCH_SWEEP_RETENTION_S higher)"
        )

    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()))
    ctx.say("sweep: expired; waiting until every item is destroyed")
    with service.client("legal") as http:

        def all_gone() -> bool:
            # Gone from the catalog first (keys shredded), then from the store.
            service.check_alive()
            page = http.get("/v1/items", params={"subject_id": subject, "limit": 1})
            page.raise_for_status()
            return not page.json()["items"] and not object_versions(ctx.stack.s3, service.bucket)

        wait_until(all_gone, timeout_s=_DESTROY_TIMEOUT_S, what=f"{count} items destroyed")
    keepline_s = (datetime.now(UTC) - expires_at).total_seconds()

    ctx.say(f"sweep: raw remove_objects of {count} objects")
    raw_s, bulk_s = _raw_deletes(ctx, one_by_one, bulk, count)

    keepline_rate, raw_rate, bulk_rate = (
        rate(count, keepline_s),
        rate(count, raw_s),
        rate(count, bulk_s),
    )
    return Result(
        "sweep_vs_raw_delete",
        ratio(keepline_rate, raw_rate),
        "ratio",
        {
            "keepline_items_s": keepline_rate,
            "raw_deletes_s": raw_rate,
            "raw_bulk_deletes_s": bulk_rate,
            "ratio_vs_bulk": ratio(keepline_rate, bulk_rate),
            "items": count,
            "object_size_bytes": object_size,
            "keepline_s": keepline_s,
            "raw_s": raw_s,
            "raw_bulk_s": bulk_s,
            "raw_concurrency": ctx.settings.sweep_concurrency,
            "sweep_interval_s": ctx.settings.sweep_interval_s,
            "retention_s": retention_s,
        },
    )
