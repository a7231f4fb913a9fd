"""`make chaos` (`python -m bench.chaos`): nothing accepted is lost, through injected faults.

Each run starts its own Kafka (KRaft, 4 partitions a topic), MinIO, catalog (PostgreSQL, or
SQLite with `--catalog sqlite`) and content server, and two `keepline serve` workers
of one consumer group. It publishes a mixed workload with republished duplicates while
workers are SIGKILLed and restarted, MinIO is stopped twice and the broker restarted once,
then waits for the outcome and accounts for every event. stdout carries one JSON line per run
(and a summary after several); progress goes to stderr. Exit status 1 if anything was lost,
stored twice, left orphaned, altered or dead-lettered, or a run did not finish.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bench.chaos_cluster import CatalogKind
from bench.chaos_run import RunConfig, run_once
from bench.report import Reporter
from bench.settings import BenchSettings

SUMMED = ("events", "stored", "lost", "duplicated", "orphans", "dead_letters")


class ChaosSettings(BaseSettings):
    """Defaults of the chaos run from the environment (``KEEPLINE_BENCH_``); flags win."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_BENCH_", extra="ignore")

    catalog: CatalogKind = Field(
        default=CatalogKind.POSTGRESQL, description="Where the catalog lives: sqlite or postgresql."
    )
    chaos_events: int = Field(default=300, ge=10, description="Distinct events of a run.")
    chaos_runs: int = Field(default=1, ge=1, description="Runs, each on fresh state.")


def _parser(settings: ChaosSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--runs", type=int, default=settings.chaos_runs, help="runs (fresh each)")
    parser.add_argument("--events", type=int, default=settings.chaos_events, help="events a run")
    parser.add_argument(
        "--catalog",
        type=CatalogKind,
        choices=list(CatalogKind),
        default=settings.catalog,
        help="where the catalog lives (KEEPLINE_BENCH_CATALOG)",
    )
    parser.add_argument("--seed", type=int, default=None, help="repeat a workload")
    parser.add_argument("--name", default="mixed-workload", help="the run's name in its line")
    parser.add_argument(
        "--deadline-s", type=float, default=300.0, help="longest wait after the faults"
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep logs and data of clean runs too"
    )
    return parser


def _summary(lines: Sequence[dict[str, Any]], clean: int, elapsed_s: float) -> dict[str, Any]:
    body: dict[str, Any] = {"chaos": "summary", "runs": len(lines), "failed": len(lines) - clean}
    for name in SUMMED:
        body[name] = sum(int(line.get(name) or 0) for line in lines)
    body["faults"] = sum(len(line.get("faults") or ()) for line in lines)
    body["duration_s"] = round(elapsed_s, 1)
    body["catalog"] = lines[0]["catalog"] if lines else None
    return body


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chaos runs; 0 when every run was clean, 1 if any was not, 2 on bad input."""
    # The faults make Kafka clients log every refused connection; the run reports them itself.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    out = sys.stdout
    # Anything else that prints goes to stderr: stdout carries the JSON lines only.
    sys.stdout = sys.stderr
    reporter = Reporter(out)
    try:
        settings = ChaosSettings()
        bench_settings = BenchSettings()
    except ValidationError as err:
        reporter.say(f"bad settings: {err}")
        return 2
    args = _parser(settings).parse_args(argv)
    if args.runs < 1 or args.events < 10:
        reporter.say("--runs must be >= 1 and --events >= 10")
        return 2
    config = RunConfig(
        name=args.name,
        events=args.events,
        catalog=args.catalog,
        seed=args.seed,
        deadline_s=args.deadline_s,
        workdir=bench_settings.workdir,
        keep_workdir=args.keep_workdir or bench_settings.keep_workdir,
    )
    started = time.monotonic()
    lines: list[dict[str, Any]] = []
    clean = 0
    for index in range(args.runs):
        line, ok = run_once(config, index, reporter.say)
        lines.append(line)
        clean += ok
        out.write(json.dumps(line, separators=(", ", ": ")) + "\n")
        out.flush()
    if args.runs > 1:
        out.write(json.dumps(_summary(lines, clean, time.monotonic() - started)) + "\n")
        out.flush()
    reporter.say(f"{clean} of {args.runs} runs clean in {time.monotonic() - started:.0f} s")
    return 0 if clean == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
