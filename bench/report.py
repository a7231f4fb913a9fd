"""The bench's output: one JSON object per line on stdout, progress on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from bench.stats import significant

JsonScalar = str | int | float | bool | None


def _clean(value: JsonScalar) -> JsonScalar:
    if isinstance(value, float):
        return significant(value)
    return value


@dataclass(frozen=True, slots=True)
class Result:
    """One benchmark's figure and the raw numbers behind it.

    Attributes:
        bench: The benchmark's name (SPEC section 8).
        value: The figure.
        unit: Its unit, e.g. ``ratio``, ``items/s``, ``ms``, ``MiB``.
        extra: Raw rates, sizes, counts and durations it was computed from.
    """

    bench: str
    value: float
    unit: str
    extra: Mapping[str, JsonScalar] = field(default_factory=dict)

    def to_json(self, tags: Mapping[str, JsonScalar] | None = None) -> dict[str, JsonScalar]:
        """The JSON object: bench, value, unit first, then the run's tags, then the extras.

        Args:
            tags: Fields every line of the run carries (e.g. ``catalog``).

        Raises:
            ValueError: value or an extra float is NaN or infinite, or an extra field would
                replace one of the fixed ones or a tag.
        """
        run_tags = dict(tags or {})
        clash = ({"bench", "value", "unit", "error"} | set(run_tags)) & set(self.extra)
        if clash:
            raise ValueError(f"extra fields {sorted(clash)} are reserved")
        line: dict[str, JsonScalar] = {
            "bench": self.bench,
            "value": significant(self.value),
            "unit": self.unit,
        }
        line.update(run_tags)
        line.update({key: _clean(value) for key, value in self.extra.items()})
        return line


def result_line(result: Result, tags: Mapping[str, JsonScalar] | None = None) -> str:
    """One line of JSON (no newline) for a result, with the run's tags."""
    return json.dumps(result.to_json(tags), separators=(", ", ": "))


def error_line(
    bench: str, unit: str, error: BaseException, tags: Mapping[str, JsonScalar] | None = None
) -> str:
    """One line of JSON for a benchmark that failed: value null, the run's tags, the error."""
    message = " ".join(str(error).split()) or type(error).__name__
    body: dict[str, Any] = {
        "bench": bench,
        "value": None,
        "unit": unit,
        **dict(tags or {}),
        "error": f"{type(error).__name__}: {message}"[:2000],
    }
    return json.dumps(body, separators=(", ", ": "))


class Reporter:
    """Writes results to the JSON stream and progress lines to the progress stream.

    Args:
        out: Where the JSON lines go (the real stdout).
        progress: Where progress goes (stderr).
        tags: Fields every line carries (e.g. ``{"catalog": "sqlite"}``).
    """

    def __init__(
        self,
        out: TextIO,
        progress: TextIO | None = None,
        tags: Mapping[str, JsonScalar] | None = None,
    ) -> None:
        self._out = out
        self._tags: dict[str, JsonScalar] = dict(tags or {})
        self._progress = progress or sys.stderr
        self._started = time.monotonic()
        self.failed: list[str] = []
        self.succeeded: list[str] = []

    def tag(self, key: str, value: JsonScalar) -> None:
        """Add a field every later line carries."""
        self._tags[key] = value

    def emit(self, result: Result) -> None:
        """Print a result's line and remember that the bench succeeded."""
        self._write(result_line(result, self._tags))
        self.succeeded.append(result.bench)

    def fail(self, bench: str, unit: str, error: BaseException) -> None:
        """Print a failed bench's error line and remember the failure."""
        self._write(error_line(bench, unit, error, self._tags))
        self.failed.append(bench)
        self.say(f"{bench} FAILED: {type(error).__name__}: {error}")

    def say(self, message: str) -> None:
        """A progress line on stderr, with the seconds since the run started."""
        elapsed = time.monotonic() - self._started
        print(f"[bench {elapsed:7.1f}s] {message}", file=self._progress, flush=True)

    def _write(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()
