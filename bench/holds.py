"""hold_apply_items_s: how many stored items per second a new legal hold covers.

The line splits the time in two: ``catalog_items_s`` (items covered per second until the API
answered with the count) and ``flags_vs_raw`` (legal-hold flags set per second, from the
request until the hold reports none pending, over raw `set_object_legal_hold` calls on as
many objects of the same size, as many at once as keepline uploads at once). Once the hold
reports every flag set, MinIO is asked for each object's flag: one missing fails the bench.
The wait asks the API, not MinIO, so the bench's own calls do not compete with keepline's.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from bench.artefacts import chat, message
from bench.content import PatternSource
from bench.context import RAW_PREFIX, BenchContext, legal_holds, object_versions
from bench.errors import MeasurementError, WaitTimeoutError
from bench.kafka_io import publish
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import rate, ratio

#: Size of each held chat transcript (inline content, so each item is an object).
TEXT_BYTES = 4096
_FLAGS_TIMEOUT_S = 300.0
Version = tuple[str, str | None, int]


def _unflagged(ctx: BenchContext, bucket: str, versions: list[Version]) -> list[Version]:
    """The versions among versions that do not carry the legal-hold flag."""
    flags = legal_holds(ctx.stack.s3, bucket, versions)
    return [v for v, held in zip(versions, flags, strict=True) if not held]


def hold_figures(
    *, items: int, response_s: float, until_all_flags_s: float, raw_flags_s: float
) -> dict[str, float]:
    """The split of a hold's time: catalog coverage rate, flag rate, and flags over raw.

    Args:
        items: Items the hold covers (and flags set).
        response_s: From the request until the API answered with the count.
        until_all_flags_s: From the request until MinIO showed every flag.
        raw_flags_s: How long raw `set_object_legal_hold` calls on as many objects took.
    """
    flags_s = rate(items, until_all_flags_s)
    raw_rate = rate(items, raw_flags_s)
    return {
        "catalog_items_s": rate(items, response_s),
        "flags_s": flags_s,
        "raw_flags_s": raw_rate,
        "flags_vs_raw": ratio(flags_s, raw_rate),
    }


def _raw_legal_holds(ctx: BenchContext, count: int) -> float:
    """Seconds raw `set_object_legal_hold` takes on count fresh objects of TEXT_BYTES."""
    bucket = ctx.stack.scratch_bucket("raw-hold")
    data = PatternSource(seed=60_000, size_bytes=TEXT_BYTES).chunk(0)

    def put(index: int) -> None:
        ctx.stack.s3.put_object(
            bucket, f"{RAW_PREFIX}{index:06d}", io.BytesIO(data), length=len(data)
        )

    def hold(index: int) -> None:
        ctx.stack.s3.enable_object_legal_hold(bucket, f"{RAW_PREFIX}{index:06d}")

    threads = ctx.settings.concurrency
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-hold-put") as pool:
        list(pool.map(put, range(count)))
    started = time.monotonic()
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-hold-raw") as pool:
        list(pool.map(hold, range(count)))
    elapsed = time.monotonic() - started
    versions = object_versions(ctx.stack.s3, bucket, RAW_PREFIX)
    if not all(legal_holds(ctx.stack.s3, bucket, versions)) or len(versions) != count:
        raise MeasurementError(f"raw legal holds: {len(versions)} objects, not all flagged")
    return elapsed


def hold_apply_items_s(ctx: BenchContext, service: KeeplineProcess) -> Result:
    """Items covered per second by ``POST /v1/holds``, S3 legal-hold flags included.

    N chats with inline content (one object each) of one subject are stored first. The hold
    names that subject; the time runs from sending the request until the response says it
    matched all N and `GET /v1/holds/{id}` says no flag is pending (``flags_set_at_response``
    says how many were set when the route answered); then MinIO is asked for every flag.
    """
    count = ctx.sizes.hold_items
    subject = f"bench-hold-{ctx.run_id}"
    now = datetime.now(UTC)
    messages = [
        message(
            chat(
                run_id=f"{ctx.run_id}-hold",
                index=i,
                subject_id=subject,
                occurred_at=now,
                text=PatternSource(seed=50_000 + i, size_bytes=TEXT_BYTES).chunk(0),
            )
        )
        for i in range(count)
    ]
    before = service.stored(["chat"])
    letters = sum(service.dead_letters().values())
    ctx.say(f"hold: storing {count} chats to hold")
    publish(ctx.stack.bootstrap, service.topics, messages)
    service.wait_stored(["chat"], before + count, timeout_s=120 + count / 5, letters_before=letters)
    # Only objects without the flag now can gain it from the new hold.
    unflagged = _unflagged(ctx, service.bucket, object_versions(ctx.stack.s3, service.bucket))

    ctx.say(f"hold: placing a hold over {count} items")
    body = {
        "matter": f"bench {ctx.run_id}",
        "description": "hold_apply_items_s",
        "criteria": {"subject_ids": [subject]},
    }
    with service.client("legal", timeout_s=_FLAGS_TIMEOUT_S) as http:
        started = time.monotonic()
        response = http.post("/v1/holds", json=body)
        answered = time.monotonic()
    if response.status_code != 201:
        raise MeasurementError(f"POST /v1/holds answered {response.status_code}: {response.text}")
    matched = int(response.json()["matched"])
    if matched != count:
        raise MeasurementError(f"the hold matched {matched} items, not {count}")

    hold_id = response.json()["hold_id"]
    flags_at_response = count - int(response.json()["flags_pending"])
    finished = answered
    deadline = answered + _FLAGS_TIMEOUT_S
    with service.client("legal") as http:
        while True:
            service.check_alive()
            state = http.get(f"/v1/holds/{hold_id}")
            state.raise_for_status()
            finished = time.monotonic()
            pending = int(state.json()["flags_pending"])
            if pending == 0:
                break
            if finished > deadline:
                raise WaitTimeoutError(
                    f"{count} legal-hold flags", _FLAGS_TIMEOUT_S, f"{pending} pending"
                )
            time.sleep(0.05)
    remaining = _unflagged(ctx, service.bucket, unflagged)
    if remaining or len(unflagged) != count:
        raise MeasurementError(
            f"the hold reports every flag set, but {len(remaining)} of {len(unflagged)} "
            f"objects carry none (the hold covers {count})"
        )
    ctx.say(f"hold: raw set_object_legal_hold on {count} objects")
    raw_s = _raw_legal_holds(ctx, count)
    figures = hold_figures(
        items=matched,
        response_s=answered - started,
        until_all_flags_s=finished - started,
        raw_flags_s=raw_s,
    )
    return Result(
        "hold_apply_items_s",
        rate(matched, finished - started),
        "items/s",
        {
            "items": matched,
            "response_s": answered - started,
            "flags_set_at_response": flags_at_response,
            "until_all_flags_s": finished - started,
            **figures,
            "raw_flags_elapsed_s": raw_s,
            "raw_concurrency": ctx.settings.concurrency,
        },
    )
