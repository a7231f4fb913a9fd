"""Settings of the benchmarks (prefix ``KEEPLINE_BENCH_``): scale, selection, sizes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bench.catalogs import CatalogKind
from bench.errors import BenchSettingsError

MIB = 1 << 20
KIB = 1 << 10

#: Every benchmark of SPEC section 8, in the order the run reports them, with its unit.
BENCHES: dict[str, str] = {
    "ingest_vs_raw_put": "ratio",
    "events_vs_raw_consume": "ratio",
    "small_items_vs_raw_put": "ratio",
    "hold_apply_items_s": "items/s",
    "content_first_byte_ms_p99": "ms",
    "sweep_vs_raw_delete": "ratio",
    "ingest_peak_rss_mb": "MiB",
    "catalog_list_p99_ms": "ms",
}


class Scale(StrEnum):
    """How big a run is: ``small`` to check it works, ``default``, or ``full``."""

    SMALL = "small"
    DEFAULT = "default"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Sizes:
    """The amounts of data each benchmark uses.

    Attributes:
        ingest_items: Call recordings in ingest_vs_raw_put.
        ingest_item_bytes: Size of each of them.
        events: Metadata-only e-mail and chat events in events_vs_raw_consume.
        small_items: 4 KiB chats (inline content) in small_items_vs_raw_put.
        hold_items: Stored items a new hold covers in hold_apply_items_s.
        sweep_items: Items that expire together in sweep_vs_raw_delete.
        sweep_item_bytes: Inline content of each of them.
        sweep_retention_s: Their retention: longer than ingesting them takes.
        first_byte_bytes: The recording content_first_byte_ms_p99 reads.
        first_byte_requests: Requests of each kind (whole content, a Range) it times.
        rss_bytes: The recording ingest_peak_rss_mb ingests.
        catalog_items: Items seeded into the catalog of catalog_list_p99_ms.
    """

    ingest_items: int
    ingest_item_bytes: int
    events: int
    small_items: int
    hold_items: int
    sweep_items: int
    sweep_item_bytes: int
    sweep_retention_s: int
    first_byte_bytes: int
    first_byte_requests: int
    rss_bytes: int
    catalog_items: int


SCALES: dict[Scale, Sizes] = {
    Scale.SMALL: Sizes(
        ingest_items=4,
        ingest_item_bytes=8 * MIB,
        events=2_000,
        small_items=500,
        hold_items=200,
        sweep_items=200,
        sweep_item_bytes=4 * KIB,
        sweep_retention_s=30,
        first_byte_bytes=64 * MIB,
        first_byte_requests=30,
        rss_bytes=256 * MIB,
        catalog_items=20_000,
    ),
    # SPEC sizes for the 1 GiB and 2 GiB recordings: they are part of those benchmarks.
    Scale.DEFAULT: Sizes(
        ingest_items=64,
        ingest_item_bytes=16 * MIB,
        events=50_000,
        small_items=5_000,
        hold_items=5_000,
        sweep_items=2_000,
        sweep_item_bytes=4 * KIB,
        sweep_retention_s=150,
        first_byte_bytes=1024 * MIB,
        first_byte_requests=500,
        rss_bytes=2048 * MIB,
        catalog_items=1_000_000,
    ),
    Scale.FULL: Sizes(
        ingest_items=128,
        ingest_item_bytes=32 * MIB,
        events=200_000,
        small_items=20_000,
        hold_items=20_000,
        sweep_items=10_000,
        sweep_item_bytes=4 * KIB,
        sweep_retention_s=600,
        first_byte_bytes=1024 * MIB,
        first_byte_requests=2_000,
        rss_bytes=2048 * MIB,
        catalog_items=1_000_000,
    ),
}


class BenchSettings(BaseSettings):
    """What `python -m bench` runs, and how big; every size can be overridden alone."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_BENCH_", extra="ignore")

    scale: Scale = Field(
        default=Scale.DEFAULT, description="small (a quick check), default, or full."
    )
    only: str = Field(
        default="", description="Comma-separated benchmark names to run; empty runs all."
    )
    workdir: Path | None = Field(
        default=None, description="Parent of the run's temporary directory (default: /tmp)."
    )
    catalog: CatalogKind = Field(
        default=CatalogKind.SQLITE,
        description="Every bench keepline's catalog: sqlite (a file each) or postgresql "
        "(one server of the run's own, a database each).",
    )
    keep_workdir: bool = Field(
        default=False, description="Keep the run's directory (logs, data) after a clean run."
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Uploads at once: keepline's KEEPLINE_CONCURRENCY and the raw puts alike.",
    )
    sweep_interval_s: float = Field(
        default=0.5, gt=0, description="KEEPLINE_SWEEP_INTERVAL_S of the sweep benchmark."
    )
    sweep_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Raw deletes at once: the number of items keepline's sweeper destroys at once.",
    )
    ingest_items: int | None = Field(default=None, ge=1, description="Override: recordings.")
    ingest_item_mib: int | None = Field(
        default=None, ge=1, description="Override: MiB per recording in ingest_vs_raw_put."
    )
    events: int | None = Field(default=None, ge=2, description="Override: metadata events.")
    small_items: int | None = Field(
        default=None, ge=1, description="Override: 4 KiB chats in small_items_vs_raw_put."
    )
    hold_items: int | None = Field(default=None, ge=1, description="Override: items held.")
    sweep_items: int | None = Field(default=None, ge=1, description="Override: items swept.")
    sweep_retention_s: int | None = Field(
        default=None, ge=5, description="Override: retention of the swept items, in seconds."
    )
    first_byte_mib: int | None = Field(
        default=None, ge=1, description="Override: MiB of the recording read for first bytes."
    )
    first_byte_requests: int | None = Field(
        default=None, ge=1, description="Override: timed requests of each kind."
    )
    rss_mib: int | None = Field(
        default=None, ge=1, description="Override: MiB of the recording whose ingest RSS counts."
    )
    catalog_items: int | None = Field(
        default=None, ge=1, description="Override: items seeded for catalog_list_p99_ms."
    )

    def sizes(self) -> Sizes:
        """The scale's sizes with every override applied."""
        base = SCALES[self.scale]
        overrides: dict[str, int] = {}
        for name, value, unit in (
            ("ingest_items", self.ingest_items, 1),
            ("ingest_item_bytes", self.ingest_item_mib, MIB),
            ("events", self.events, 1),
            ("small_items", self.small_items, 1),
            ("hold_items", self.hold_items, 1),
            ("sweep_items", self.sweep_items, 1),
            ("sweep_retention_s", self.sweep_retention_s, 1),
            ("first_byte_bytes", self.first_byte_mib, MIB),
            ("first_byte_requests", self.first_byte_requests, 1),
            ("rss_bytes", self.rss_mib, MIB),
            ("catalog_items", self.catalog_items, 1),
        ):
            if value is not None:
                overrides[name] = value * unit
        return dataclasses.replace(base, **overrides)

    def selected(self) -> list[str]:
        """The benchmarks to run, in report order.

        Raises:
            BenchSettingsError: ``only`` names a benchmark that does not exist.
        """
        wanted = {name.strip() for name in self.only.split(",") if name.strip()}
        unknown = wanted - set(BENCHES)
        if unknown:
            raise BenchSettingsError(
                "KEEPLINE_BENCH_ONLY",
                f"unknown {', '.join(sorted(unknown))}; the benchmarks are {', '.join(BENCHES)}",
            )
        return [name for name in BENCHES if not wanted or name in wanted]
