"""catalog_list_p99_ms: a catalog of a bank's size, listed, filtered, previewed and swept.

A keepline of its own (its sweeper idle: one pass a day) gets N metadata-only items written
into its catalog by the bench, through the catalog's own adapter (`SqlCatalog
.insert_stored_many`, a transaction per batch): e-mails, chats and call recordings spread
over two years, each with two parties (a subject among ``N / 20``, an address, a staff id
among 2,000), one attribute and one or two purposes that run for years, so that nothing is
due. First `keepline sweep --json` on the same catalog: its pass finds nothing due (the
pass's own ``duration_s``, and the command's whole time beside it), and leaves the planner's
statistics fresh, as a running keepline's sweeper does (at most every 10 minutes). Then,
through the API, one request at a time: `GET /v1/items` pages with no filter, by type, by
subject, by staff id, by attribute and over a one-week window (``REQUESTS`` of each kind,
each timed to its whole response; the value is the p99 of all of them, every kind's p99 is
in the line); and `POST /v1/holds/preview` of criteria that match every item (timed
``PREVIEWS`` times).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.context import BenchContext
from bench.errors import MeasurementError
from bench.report import Result
from bench.service import KeeplineProcess
from bench.stats import percentile, rate, significant
from deploy.process import child_environment
from storage.models import NewItem, PartyRow, PurposeRow
from storage.settings import StorageSettings
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database

#: Items written per transaction while seeding.
SEED_BATCH = 5_000
#: Timed requests of each list kind, and timed previews.
REQUESTS = 100
PREVIEWS = 5
TYPES = ("email", "chat", "call_recording")
DESKS = ("fx", "rates", "equities", "credit", "retail", "wealth")
_SPAN = timedelta(days=730)


def _items(start: int, count: int, *, subjects: int, now: datetime) -> list[NewItem]:
    """Items start..start+count, the same for the same indexes (a seeded generator)."""
    rng = random.Random(start)
    batch = []
    for index in range(start, start + count):
        kind = TYPES[index % 3]
        occurred = now - _SPAN * rng.random()
        subject = f"cust-{rng.randrange(subjects):07d}"
        staff = f"agent-{rng.randrange(2_000):04d}"
        purposes = [PurposeRow("legal", "legal_obligation", occurred + timedelta(days=3650), True)]
        if kind != "email":
            purposes.append(
                PurposeRow("quality", "legitimate_interests", now + timedelta(days=365), False)
            )
        batch.append(
            NewItem(
                source="bench-size",
                event_id=f"size-{index:08d}",
                item_type=kind,
                occurred_at=occurred,
                ingested_at=occurred,
                policy_version="bench",
                event={},
                parties=[
                    PartyRow(f"{subject}@example.com", subject, None),
                    PartyRow(f"{staff}@bank.example", None, staff),
                ],
                attributes={"desk": DESKS[index % len(DESKS)]},
                purposes=purposes,
                hold_ids=(),
            )
        )
    return batch


async def _seed(url: str, count: int, say: Callable[[str], None]) -> float:
    """Write count items into the catalog at url; seconds it took."""
    db = Database(url)
    try:
        catalog = SqlCatalog(db)
        now = datetime.now(UTC)
        started = time.monotonic()
        step = max(SEED_BATCH, count // 10)
        for start in range(0, count, SEED_BATCH):
            size = min(SEED_BATCH, count - start)
            claims = await catalog.insert_stored_many(
                _items(start, size, subjects=max(1, count // 20), now=now)
            )
            if not all(c.created for c in claims):
                raise MeasurementError("seeding found items already in the catalog")
            if (start + size) % step == 0 or start + size == count:
                say(f"catalog size: {start + size:,} of {count:,} items written")
        return time.monotonic() - started
    finally:
        await db.dispose()


def _timed(http: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, object]:
    started = time.perf_counter()
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if response.status_code != httpx.codes.OK:
        raise MeasurementError(f"{method} {path} answered {response.status_code}: {response.text}")
    return elapsed, response.json()


def _list_kinds(count: int) -> dict[str, Callable[[random.Random], dict[str, str]]]:
    subjects = max(1, count // 20)
    week = timedelta(days=7)

    def window(rng: random.Random) -> dict[str, str]:
        since = datetime.now(UTC) - _SPAN * rng.random()
        return {"since": since.isoformat(), "until": (since + week).isoformat()}

    return {
        "all": lambda rng: {},
        "type": lambda rng: {"type": rng.choice(TYPES)},
        "subject": lambda rng: {"subject_id": f"cust-{rng.randrange(subjects):07d}"},
        "staff": lambda rng: {"staff_id": f"agent-{rng.randrange(2_000):04d}"},
        "attribute": lambda rng: {"attr.desk": rng.choice(DESKS)},
        "window": window,
    }


def catalog_list_p99_ms(ctx: BenchContext) -> Result:
    """Run the catalog-at-size bench in a keepline of its own (see the module docstring)."""
    count = ctx.sizes.catalog_items
    service = KeeplineProcess(
        name="size",
        stack=ctx.stack,
        workdir=ctx.workdir / "keepline-size",
        env={"KEEPLINE_SWEEP_INTERVAL_S": "86400"},
    )
    ctx.say("catalog size: starting a keepline whose sweeper waits a day")
    service.start()
    try:
        return _measure(ctx, service, count)
    finally:
        service.stop()


def _measure(ctx: BenchContext, service: KeeplineProcess, count: int) -> Result:
    settings = StorageSettings(
        data_dir=Path(service.settings["KEEPLINE_DATA_DIR"]),
        catalog_url=service.settings.get("KEEPLINE_CATALOG_URL"),
    )
    ctx.say(f"catalog size: writing {count:,} items into the catalog")
    seed_s = asyncio.run(_seed(settings.resolved_catalog_url(), count, ctx.say))
    ctx.say(f"catalog size: {count:,} items written in {seed_s:.1f} s")

    ctx.say("catalog size: one sweep pass (keepline sweep) that finds nothing due")
    started = time.monotonic()
    done = subprocess.run(  # our own CLI, our own arguments
        [sys.executable, "-m", "keepline.cli", "sweep", "--json"],
        env=child_environment(service.settings),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    sweep_command_s = time.monotonic() - started
    if done.returncode != 0:
        raise MeasurementError(f"keepline sweep exited {done.returncode}: {done.stderr[-500:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    if summary["destroyed"] or summary["purposes_dropped"] or summary["examined"]:
        raise MeasurementError(f"the sweep found something due: {summary}")

    rng = random.Random(7)
    samples: dict[str, list[float]] = {}
    with service.client("legal") as http:
        for kind, params in _list_kinds(count).items():
            ctx.say(f"catalog size: {REQUESTS} pages listed {kind}")
            times = samples.setdefault(kind, [])
            for _ in range(REQUESTS):
                elapsed, body = _timed(http, "GET", "/v1/items", params=params(rng))
                times.append(elapsed)
                if kind == "all" and len(body["items"]) != 50:  # type: ignore[index]
                    raise MeasurementError("the first page of all items is not full")
        ctx.say(f"catalog size: {PREVIEWS} hold previews over every item")
        previews = []
        for _ in range(PREVIEWS):
            elapsed, body = _timed(
                http,
                "POST",
                "/v1/holds/preview",
                json={"criteria": {"types": list(TYPES)}},
            )
            previews.append(elapsed)
            if int(body["matched"]) != count:  # type: ignore[index]
                raise MeasurementError(f"the preview matched {body}, not {count}")
    every = [t for times in samples.values() for t in times]
    return Result(
        "catalog_list_p99_ms",
        significant(percentile(every, 99) * 1000),
        "ms",
        {
            "items": count,
            "seed_s": significant(seed_s),
            "seed_items_s": rate(count, seed_s),
            **{
                f"list_{kind}_p99_ms": significant(percentile(times, 99) * 1000)
                for kind, times in samples.items()
            },
            "list_p50_ms": significant(percentile(every, 50) * 1000),
            "requests_per_kind": REQUESTS,
            "hold_preview_all_s_max": significant(max(previews)),
            "hold_preview_all_s_p50": significant(percentile(previews, 50)),
            "sweep_pass_nothing_due_s": significant(float(summary["duration_s"])),
            "sweep_command_s": significant(sweep_command_s),
        },
    )
