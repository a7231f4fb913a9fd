"""The run: start the stack, run each selected benchmark, report, stop everything.

Benchmarks that share a keepline (ingest, events, hold, first byte) run in one process, one
after the other; the sweep and the peak-RSS benchmarks each start their own. A benchmark that
fails prints an error line and the run goes on; the exit status is 1 if any failed.
"""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from bench.catalog_size import catalog_list_p99_ms
from bench.content import ContentServer
from bench.context import BenchContext
from bench.errors import BenchSettingsError
from bench.first_byte import content_first_byte_ms_p99
from bench.holds import hold_apply_items_s
from bench.memory import ingest_peak_rss_mb
from bench.report import Reporter, Result
from bench.service import KeeplineProcess
from bench.settings import BENCHES, BenchSettings
from bench.small_items import small_items_vs_raw_put
from bench.stack import Stack
from bench.sweep import sweep_vs_raw_delete
from bench.throughput import events_vs_raw_consume, ingest_vs_raw_put

SharedBench = Callable[[BenchContext, KeeplineProcess], Result]
OwnBench = Callable[[BenchContext], Result]

#: Benchmarks run in the shared keepline, in this order.
SHARED: dict[str, SharedBench] = {
    "ingest_vs_raw_put": ingest_vs_raw_put,
    "events_vs_raw_consume": events_vs_raw_consume,
    "small_items_vs_raw_put": small_items_vs_raw_put,
    "hold_apply_items_s": hold_apply_items_s,
    "content_first_byte_ms_p99": content_first_byte_ms_p99,
}
#: Benchmarks that start a keepline of their own.
OWN: dict[str, OwnBench] = {
    "sweep_vs_raw_delete": sweep_vs_raw_delete,
    "ingest_peak_rss_mb": ingest_peak_rss_mb,
    "catalog_list_p99_ms": catalog_list_p99_ms,
}


def _attempt(ctx: BenchContext, name: str, run: Callable[[], Result]) -> None:
    ctx.say(f"{name}: start")
    started = time.monotonic()
    try:
        result = run()
    except Exception as err:  # the edge of the bench loop: one failure never stops the rest
        ctx.reporter.fail(name, BENCHES[name], err)
        return
    ctx.reporter.emit(result)
    ctx.say(f"{name}: done in {time.monotonic() - started:.1f} s")


def _run_shared(ctx: BenchContext, names: list[str]) -> None:
    service = KeeplineProcess(
        name="main",
        stack=ctx.stack,
        workdir=ctx.workdir / "keepline-main",
        env={"KEEPLINE_CONCURRENCY": str(ctx.settings.concurrency)},
        content_sources=[f"http://127.0.0.1:{ctx.content.port}"],
    )
    ctx.say("starting the shared keepline")
    try:
        service.start()
    except Exception as err:  # every bench that needed it fails with this error
        service.stop()
        for name in names:
            ctx.reporter.fail(name, BENCHES[name], err)
        return
    try:
        for name in names:
            _attempt(ctx, name, functools.partial(SHARED[name], ctx, service))
    finally:
        service.stop()


def run(ctx: BenchContext, selected: list[str]) -> None:
    """Run the selected benchmarks on a started stack."""
    shared = [name for name in SHARED if name in selected]
    if shared:
        _run_shared(ctx, shared)
    for name, bench in OWN.items():
        if name in selected:
            _attempt(ctx, name, functools.partial(bench, ctx))


def main() -> int:
    """Entry point of `python -m bench`: 0 when every selected benchmark succeeded."""
    out = sys.stdout
    # Anything else that prints goes to stderr: stdout carries the JSON lines only.
    sys.stdout = sys.stderr
    reporter = Reporter(out)
    try:
        settings = BenchSettings()
        selected, sizes = settings.selected(), settings.sizes()
    except (BenchSettingsError, ValidationError) as err:
        reporter.say(f"bad settings: {err}")
        return 2
    reporter.tag("catalog", settings.catalog.value)
    root = Path(tempfile.mkdtemp(prefix="keepline-bench-", dir=settings.workdir))
    reporter.say(
        f"scale {settings.scale.value}, catalog {settings.catalog.value}: "
        f"{', '.join(selected)}; working in {root}"
    )
    reporter.say(f"sizes: {sizes}")
    started = time.monotonic()
    stack = Stack(root, settings.catalog)
    content = ContentServer()
    ctx = BenchContext(
        settings=settings,
        sizes=sizes,
        stack=stack,
        content=content,
        reporter=reporter,
        run_id=uuid.uuid4().hex[:10],
        workdir=root,
    )
    try:
        with content:
            try:
                reporter.say(f"starting Kafka, MinIO and the {settings.catalog.value} catalog")
                stack.start()
            except Exception as err:  # every bench fails with the stack's error
                for name in selected:
                    reporter.fail(name, BENCHES[name], err)
            else:
                try:
                    run(ctx, selected)
                finally:
                    stack.stop()
    finally:
        elapsed = time.monotonic() - started
        reporter.say(
            f"finished in {elapsed:.0f} s: {len(reporter.succeeded)} succeeded, "
            f"{len(reporter.failed)} failed"
        )
        if reporter.failed or settings.keep_workdir:
            reporter.say(f"logs and data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if reporter.failed else 0
