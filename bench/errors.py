"""The bench package's errors: one root, each error carrying what a reader needs."""

from __future__ import annotations


class BenchError(Exception):
    """Root of every error the benchmarks raise."""


class BenchSettingsError(BenchError):
    """A bench setting names something that does not exist or cannot work."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class WaitTimeoutError(BenchError):
    """Something the bench waited for did not happen in time."""

    def __init__(self, what: str, timeout_s: float, detail: str = "") -> None:
        self.what = what
        self.timeout_s = timeout_s
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"timed out after {timeout_s:.0f} s waiting for {what}{suffix}")


class ServiceExitedError(BenchError):
    """The keepline process under test exited while the bench needed it."""

    def __init__(self, returncode: int | None, log_tail: str) -> None:
        self.returncode = returncode
        self.log_tail = log_tail
        super().__init__(f"keepline exited with status {returncode}; log ends:\n{log_tail}")


class MeasurementError(BenchError):
    """A measured outcome is not what the bench needs (a count, a status, dead letters)."""
