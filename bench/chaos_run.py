"""One chaos run: start everything, publish through the faults, wait, account, report.

The wait is for outcomes: it ends when both workers are ready and every published event is
stored (or dead-lettered): `complete`; or when the group has committed every partition to
its end and the catalog has not changed for `settle_s`: `settled` (what is missing then is
never coming: the group believes it is done); or at the deadline: `timeout`, a failure.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from bench.chaos_accounting import STORED, EventKey, Expected, ItemRow, Tally, tally
from bench.chaos_cluster import CatalogKind, ChaosCluster
from bench.chaos_content import FileContent, ThrottledContentServer
from bench.chaos_faults import Fault, FaultKind, FaultRecord, FaultShape, plan_faults, plan_span_s
from bench.chaos_kafka import Published, caught_up, dead_letter_keys, publish_paced
from bench.chaos_workload import ContentSinks, Workload, build_workload
from streams.kafka_admin import run_blocking

Say = Callable[[str], None]
#: Most lost events described in a run's line (all of them go to stderr).
LOST_SHOWN = 10


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What a run does.

    Attributes:
        name: The run's name in its line (``chaos``).
        events: Distinct events published.
        catalog: Where the catalog lives.
        seed: Seeds the workload (kinds, sizes, duplicates); None: a random one.
        shape: The faults.
        deadline_s: Longest wait for the outcome after the last fault.
        settle_s: How long a caught-up group must see no catalog change to be settled.
        content_reads: Stored items read back through the API and compared.
        workdir: Parent of the run's directory; the system's temporary directory if None.
        keep_workdir: Keep the run's directory even when the run is clean.
    """

    name: str = "mixed-workload"
    events: int = 300
    catalog: CatalogKind = CatalogKind.SQLITE
    seed: int | None = None
    shape: FaultShape = field(default_factory=FaultShape)
    deadline_s: float = 300.0
    settle_s: float = 20.0
    content_reads: int = 12
    workdir: Path | None = None
    keep_workdir: bool = False


def _run_faults(
    cluster: ChaosCluster, faults: Sequence[Fault], started: float, say: Say
) -> list[FaultRecord]:
    records: list[FaultRecord] = []

    def run(fault: Fault) -> None:
        if fault.kind is FaultKind.KILL_WORKER:
            record = cluster.kill_and_restart(fault.target or 0, started)
        elif fault.kind is FaultKind.KILL_ALL_WORKERS:
            record = cluster.kill_all_and_restart(started)
        elif fault.kind is FaultKind.MINIO_OUTAGE:
            record = cluster.minio_outage(fault.down_s, started)
        else:
            record = cluster.kafka_restart(started)
        records.append(record)
        say(f"fault done: {record.to_json()}")

    threads: list[threading.Thread] = []
    for fault in faults:
        time.sleep(max(0.0, started + fault.at_s - time.monotonic()))
        say(f"fault at {time.monotonic() - started:.1f} s: {fault.kind}")
        thread = threading.Thread(target=run, args=(fault,), name=f"chaos-{fault.kind}")
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return sorted(records, key=lambda record: record.at_s)


def _await_outcome(
    cluster: ChaosCluster, expected: Mapping[EventKey, Expected], config: RunConfig, say: Say
) -> str:
    started = time.monotonic()
    last: tuple[int, ...] | None = None
    changed = started
    told = started
    while True:
        try:
            rows = cluster.catalog.read_items()
        except SQLAlchemyError as err:  # a busy catalog: look again at the next poll
            say(f"catalog not read ({type(err).__name__}); trying again")
            rows = []
        letters = {key for key in dead_letter_keys(cluster.dead_letters()) if key}
        stored = {(r.source or "", r.event_id or "") for r in rows if r.status == STORED}
        missing = [key for key in expected if key not in stored and key not in letters]
        ready = cluster.all_ready()
        if ready and not missing:
            return "complete"
        now = time.monotonic()
        snapshot = (len(stored), len(rows), len(letters))
        if snapshot != last:
            last, changed = snapshot, now
        if ready and now - changed >= config.settle_s and caught_up(cluster.progress()):
            return "settled"
        if now - started > config.deadline_s:
            return "timeout"
        if now - told >= 10:
            told = now
            say(f"waiting: {len(missing)} events not stored yet, workers ready: {ready}")
        time.sleep(1.0)


def _read_back(
    cluster: ChaosCluster,
    rows: Sequence[ItemRow],
    expected: Mapping[EventKey, Expected],
    count: int,
    rng: random.Random,
) -> tuple[int, list[str]]:
    """Read a sample of stored content through the API (legal); items that differ."""
    with_content = [
        row
        for row in rows
        if row.status == STORED and row.object_key and (row.source, row.event_id) in expected
    ]
    sample = rng.sample(with_content, min(count, len(with_content)))
    worker = cluster.ready_worker()
    if worker is None:  # nothing to read through: every one of them counts as unreadable
        return len(sample), [row.item_id for row in sample]
    wrong: list[str] = []
    with worker.process.client("legal") as http:
        for row in sample:
            want = expected[(row.source or "", row.event_id or "")]
            try:
                response = http.get(f"/v1/items/{row.item_id}/content")
            except httpx.HTTPError:
                wrong.append(row.item_id)
                continue
            body = response.content
            if (
                response.status_code != 200
                or len(body) != want.size_bytes
                or hashlib.sha256(body).hexdigest() != want.sha256
            ):
                wrong.append(row.item_id)
    return len(sample), wrong


def _lost_detail(
    result: Tally,
    published: Sequence[Published],
    rows: Sequence[ItemRow],
    committed: Mapping[tuple[str, int], int | None],
    expected: Mapping[EventKey, Expected],
) -> list[dict[str, Any]]:
    claims = {(r.source, r.event_id): r.item_id for r in rows if r.status != STORED}
    detail = []
    for key in result.lost:
        copies = [p.position for p in published if p.copy.key == key]
        detail.append(
            {
                "source": key[0],
                "event_id": key[1],
                "type": expected[key].type,
                "at": [str(position) for position in copies],
                "committed": [committed.get((p.topic, p.partition)) for p in copies],
                "pending_item": claims.get(key),
            }
        )
    return detail


def run_once(config: RunConfig, index: int, say: Say) -> tuple[dict[str, Any], bool]:
    """Run once on fresh state; the run's JSON line and whether it was clean."""
    run_started = time.monotonic()
    run_id = uuid.uuid4().hex[:10]
    seed = config.seed if config.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed + index)
    root = Path(tempfile.mkdtemp(prefix=f"keepline-chaos-{index}-", dir=config.workdir))
    say(f"run {index}: {config.events} events, catalog {config.catalog}, seed {seed}, in {root}")
    line: dict[str, Any] = {"chaos": config.name, "run": index, "catalog": str(config.catalog)}
    clean = False
    content = ThrottledContentServer()
    files = FileContent(root / "files")
    content.start()
    cluster = ChaosCluster(
        root=root,
        run_id=run_id,
        catalog=config.catalog,
        content_origin=content.origin,
        file_root=files.root,
        say=say,
    )
    try:
        cluster.start()
        workload = build_workload(
            run_id=run_id,
            events=config.events,
            occurred_at=datetime.now(UTC) - timedelta(days=1),
            sinks=ContentSinks(http=content.add, file=files.add),
            rng=rng,
        )
        line_body, clean = _attack(
            cluster=cluster,
            workload=workload,
            config=config,
            rng=rng,
            say=say,
            run_started=run_started,
        )
        line.update(line_body)
    except Exception as err:  # the edge of a run: it fails with its error, the next one runs
        line["error"] = f"{type(err).__name__}: {' '.join(str(err).split())}"[:2000]
        say(f"run {index} FAILED: {line['error']}")
    finally:
        cluster.stop()
        content.stop()
        line["duration_s"] = round(time.monotonic() - run_started, 1)
        if clean and not config.keep_workdir:
            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"logs and data kept in {root}")
    return line, clean


def _attack(
    *,
    cluster: ChaosCluster,
    workload: Workload,
    config: RunConfig,
    rng: random.Random,
    say: Say,
    run_started: float,
) -> tuple[dict[str, Any], bool]:
    faults = plan_faults(config.shape)
    span_s = plan_span_s(faults, config.shape)
    published: list[Published] = []
    failures: list[BaseException] = []
    topics = {kind: cluster.topics[kind] for kind in ("calls", "emails", "chats")}

    def publish() -> None:
        try:
            run_blocking(
                publish_paced(
                    cluster.stack.bootstrap,
                    topics,
                    workload.copies,
                    span_s=span_s,
                    on_published=published.append,
                )
            )
        except Exception as err:  # the edge of the publisher thread: the run fails with it
            failures.append(err)

    say(f"publishing {len(workload.copies)} messages over {span_s:.0f} s; {len(faults)} faults")
    started = time.monotonic()
    publisher = threading.Thread(target=publish, name="chaos-publisher")
    publisher.start()
    records = _run_faults(cluster, faults, started, say)
    publisher.join()
    if failures:
        raise failures[0]
    say(f"published {len(published)} messages; waiting for the outcome")
    waited = time.monotonic()
    outcome = _await_outcome(cluster, workload.expected, config, say)
    recovery_s = time.monotonic() - waited
    rows = cluster.catalog.read_items()
    letters = dead_letter_keys(cluster.dead_letters())
    result = tally(workload.expected, rows, [k for k in letters if k], cluster.versions())
    read, wrong = _read_back(cluster, rows, workload.expected, config.content_reads, rng)
    committed = {(tp.topic, tp.partition): c for tp, (c, _) in cluster.progress().items()}
    lost = _lost_detail(result, published, rows, committed, workload.expected)
    for event in lost:
        say(f"LOST {event}")
    clean = (
        result.ok
        and not letters
        and not wrong
        and outcome != "timeout"
        and not any(r.error for r in records)
    )
    body: dict[str, Any] = {
        "events": result.events,
        "stored": result.stored,
        "lost": len(result.lost),
        "duplicated": len(result.duplicated),
        "orphans": len(result.orphans),
        "dead_letters": len(letters),
        "faults": [record.to_json() for record in records],
        "outcome": outcome,
        "published": len(published),
        "republished": sum(p.copy.republished for p in published),
        "missing_objects": len(result.missing_objects),
        "mismatched": len(result.mismatched) + len(wrong),
        "unexpected": len(result.unexpected),
        "pending": len(result.pending),
        "content_read": read,
        "worker_exits": len(cluster.unplanned_exits),
        "workload_s": round(waited - started, 1),
        "recovery_s": round(recovery_s, 1),
        "ok": clean,
    }
    if lost:
        body["lost_events"] = lost[:LOST_SHOWN]
    if result.orphans:
        body["orphan_versions"] = [f"{k}?versionId={v}" for k, v in result.orphans[:LOST_SHOWN]]
    say(f"run took {time.monotonic() - run_started:.0f} s so far: outcome {outcome}")
    return body, clean
