"""The faults of a chaos run: a compressed schedule, planned before anything starts.

The plan is pure (no clock, no processes): `plan_faults` turns a `FaultShape` into faults at
offsets from the start of the workload. Late in each object-store outage every worker is
killed at once: events whose uploads are being retried then sit in the workers beside events
that needed no upload and were acknowledged (and committed), the moment an offset committed
too early loses an event whichever worker holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import zip_longest
from typing import Any

#: Where in an outage its kill lands, as a share of the outage.
INNER_KILL_AT = 0.8


class FaultKind(StrEnum):
    """What a fault does."""

    KILL_WORKER = "kill_worker"  # SIGKILL one `keepline serve`, then start it again
    KILL_ALL_WORKERS = "kill_all_workers"  # SIGKILL every worker at once, start them again
    MINIO_OUTAGE = "minio_outage"  # stop MinIO, keep it down, start it on the same port and data
    KAFKA_RESTART = "kafka_restart"  # stop the broker cleanly, start it on the same port and logs


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned fault.

    Attributes:
        kind: What it does.
        at_s: When it starts, in seconds after the workload starts.
        down_s: How long MinIO stays down (outages only; the others last as long as the
            restart takes).
        target: The index of the worker a kill is meant for (None for the others).
    """

    kind: FaultKind
    at_s: float
    down_s: float = 0.0
    target: int | None = None


@dataclass(frozen=True, slots=True)
class FaultShape:
    """How many faults of each kind, and how close together.

    Attributes:
        kills: Kill faults in all: one inside each MinIO outage kills every worker, the rest
            kill one worker each, between the other faults.
        minio_outages: MinIO stopped and started again.
        kafka_restarts: Broker restarts.
        workers: Workers the kills take turns on.
        first_at_s: When the first fault starts.
        gap_s: Pause after a kill or an outage before the next fault: longer than the
            workers' session timeout, so the group has settled again when it comes.
        outage_s: How long MinIO stays down each time.
        kafka_gap_s: Pause after a broker restart starts before the next fault (the restart
            itself takes seconds).
    """

    kills: int = 4
    minio_outages: int = 2
    kafka_restarts: int = 1
    workers: int = 2
    first_at_s: float = 4.0
    gap_s: float = 8.0
    outage_s: float = 8.0
    kafka_gap_s: float = 15.0

    def __post_init__(self) -> None:
        counts = (self.kills, self.minio_outages, self.kafka_restarts)
        if min(counts) < 0:
            raise ValueError("fault counts must be >= 0")
        if self.kills and self.workers < 1:
            raise ValueError("kills need at least one worker")
        if min(self.first_at_s, self.gap_s, self.outage_s, self.kafka_gap_s) < 0:
            raise ValueError("times must be >= 0")


def _interleave(first: list[FaultKind], second: list[FaultKind]) -> list[FaultKind]:
    out: list[FaultKind] = []
    for a, b in zip_longest(first, second):
        out += [kind for kind in (a, b) if kind is not None]
    return out


def plan_faults(shape: FaultShape) -> tuple[Fault, ...]:
    """The faults of shape in the order they start, single kills taking turns on the workers.

    Outages and broker restarts alternate; kills not spent inside an outage go before and
    between them, so no two faults but an outage and its inner kill overlap.
    """
    inner_kills = min(shape.kills, shape.minio_outages)
    outer = [FaultKind.KILL_WORKER] * (shape.kills - inner_kills)
    big = _interleave(
        [FaultKind.MINIO_OUTAGE] * shape.minio_outages,
        [FaultKind.KAFKA_RESTART] * shape.kafka_restarts,
    )
    at = shape.first_at_s
    faults: list[Fault] = []
    for kind in _interleave(outer, big):
        if kind is FaultKind.KILL_WORKER:
            faults.append(Fault(kind, at))
            at += shape.gap_s
        elif kind is FaultKind.MINIO_OUTAGE:
            faults.append(Fault(kind, at, down_s=shape.outage_s))
            if inner_kills:
                inner_kills -= 1
                # Late in the outage: the worker has had time to commit what it acknowledged.
                inner_at = at + shape.outage_s * INNER_KILL_AT
                faults.append(Fault(FaultKind.KILL_ALL_WORKERS, inner_at))
            at += shape.outage_s + shape.gap_s
        else:
            faults.append(Fault(kind, at))
            at += shape.kafka_gap_s
    faults.sort(key=lambda fault: fault.at_s)
    turn = 0
    planned: list[Fault] = []
    for fault in faults:
        if fault.kind is FaultKind.KILL_WORKER:
            planned.append(Fault(fault.kind, fault.at_s, target=turn % shape.workers))
            turn += 1
        else:
            planned.append(fault)
    return tuple(planned)


def plan_span_s(faults: tuple[Fault, ...], shape: FaultShape) -> float:
    """How long the workload should keep publishing: until a gap after the last fault."""
    if not faults:
        return shape.first_at_s + shape.gap_s
    last = max(fault.at_s + fault.down_s for fault in faults)
    tail = shape.kafka_gap_s if faults[-1].kind is FaultKind.KAFKA_RESTART else shape.gap_s
    return last + tail


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """What a fault did when it ran.

    Attributes:
        kind: What it was.
        at_s: When it started, in seconds after the workload started.
        target: The worker it hit (kills), else None.
        down_s: How long MinIO was down (outages), else None.
        recovered_after_s: From its start until the component was back (worker ready,
            MinIO ready, broker answering); None if it never came back.
        error: Why it did not come back (or came back only after a hang), if it did not.
        note: Anything else worth knowing (a kill that hit a worker another fault was
            already restarting).
    """

    kind: FaultKind | str
    at_s: float
    target: str | None = None
    down_s: float | None = None
    recovered_after_s: float | None = None
    error: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The fault as it appears in the run's line (unset fields left out)."""
        body: dict[str, Any] = {"fault": str(self.kind), "at_s": round(self.at_s, 1)}
        if self.target is not None:
            body["target"] = self.target
        if self.down_s is not None:
            body["down_s"] = round(self.down_s, 1)
        if self.recovered_after_s is not None:
            body["recovered_after_s"] = round(self.recovered_after_s, 1)
        if self.error is not None:
            body["error"] = self.error
        if self.note is not None:
            body["note"] = self.note
        return body
