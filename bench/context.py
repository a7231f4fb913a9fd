"""What every benchmark gets: settings, sizes, the stack, the content server, the reporter."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from minio import Minio

from bench.content import ContentServer
from bench.errors import WaitTimeoutError
from bench.report import Reporter
from bench.settings import BenchSettings, Sizes
from bench.stack import Stack

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class BenchContext:
    """The run's shared pieces.

    Attributes:
        settings: The bench settings.
        sizes: The sizes of this run (scale and overrides applied).
        stack: Kafka and MinIO.
        content: Serves generated recordings over HTTP.
        reporter: Progress and results.
        run_id: Unique to the run; in every event id.
        workdir: The run's directory (services' data and logs).
    """

    settings: BenchSettings
    sizes: Sizes
    stack: Stack
    content: ContentServer
    reporter: Reporter
    run_id: str
    workdir: Path

    def say(self, message: str) -> None:
        """A progress line on stderr."""
        self.reporter.say(message)


def wait_until(
    check: Callable[[], _T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
) -> _T:
    """Poll check until it returns something truthy, and return that.

    Raises:
        WaitTimeoutError: It did not within timeout_s.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeoutError(what, timeout_s)
        time.sleep(interval_s)


#: Where the raw (bare SDK) sides of the benches put their objects in scratch buckets.
RAW_PREFIX = "raw/"


def object_versions(
    s3: Minio, bucket: str, prefix: str = "items/"
) -> list[tuple[str, str | None, int]]:
    """Every object version under prefix in a bucket: (name, version id, size in bytes).

    The default prefix lists items' objects: the bucket's marker object (which catalog the
    bucket belongs to) is not an item's. The raw sides' objects are under RAW_PREFIX.
    """
    found: list[tuple[str, str | None, int]] = []
    for obj in s3.list_objects(bucket, prefix=prefix, recursive=True, include_version=True):
        if obj.is_delete_marker or obj.object_name is None:
            continue
        found.append((obj.object_name, obj.version_id, int(obj.size or 0)))
    return found


def legal_holds(
    s3: Minio, bucket: str, versions: list[tuple[str, str | None, int]], threads: int = 8
) -> list[bool]:
    """Whether each of the given object versions carries the S3 legal-hold flag."""

    def held(version: tuple[str, str | None, int]) -> bool:
        name, version_id, _ = version
        return bool(s3.is_object_legal_hold_enabled(bucket, name, version_id=version_id))

    with ThreadPoolExecutor(threads, thread_name_prefix="bench-flags") as pool:
        return list(pool.map(held, versions))
