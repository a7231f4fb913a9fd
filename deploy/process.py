"""Child processes in their own process group, stopped without leaving strays behind."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TextIO

from deploy.errors import ServerStartError

_LIVE: set[ServerProcess] = set()
_LIVE_LOCK = threading.Lock()


def log_tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a log file, or a note when there is none.

    Args:
        path: The log file.
        lines: How many lines to return at most.
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip() or "(the log is empty)"
    except FileNotFoundError:
        return "(no log was written)"


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Return this process's environment with `extra` on top, for a child process.

    This copies the environment to hand it on (PATH, JAVA_HOME, proxies...); configuration
    is read through the settings classes, never here.

    Args:
        extra: Variables to add or replace.
    """
    return {**os.environ, **extra}


class ServerProcess:
    """A child process in its own process group, its output appended to a log file.

    `diagnostic_logs` are further logs the server writes itself; their ends are shown
    when it fails to start. Signals go to the whole group, so helper processes a server
    forks die with it. Processes still running when the interpreter exits are killed.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        diagnostic_logs: Sequence[Path] = (),
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.diagnostic_logs = list(diagnostic_logs)
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.log_path = log_path
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id while started, else None."""
        return self._popen.pid if self._popen else None

    @property
    def running(self) -> bool:
        """Whether the process has been started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has exited, else None."""
        return self._popen.poll() if self._popen else None

    def spawn(self) -> None:
        """Start the process; its stdout and stderr go to the log file (or inherit)."""
        if self.running:
            return
        log: IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
        try:
            self._popen = subprocess.Popen(  # noqa: S603 - argv is built by this package
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()  # the child holds its own descriptor
        with _LIVE_LOCK:
            _LIVE.add(self)

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Wait for the process to exit; return its status, or None on timeout.

        Args:
            timeout_s: How long to wait; forever when None.
        """
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int) -> None:
        """Send a signal to the whole process group.

        Args:
            signum: The signal, e.g. `signal.SIGSTOP`.
        """
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self._popen.pid, signum)

    def stop(self, grace_s: float = 20.0) -> int | None:
        """Stop the process group: SIGTERM, wait up to `grace_s`, then SIGKILL.

        Args:
            grace_s: How long the process may take to shut down cleanly.

        Returns:
            The exit status, or None if the process was never started.
        """
        if self._popen is None:
            return None
        self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.signal(signal.SIGTERM)
        status = self.wait(grace_s)
        # SIGKILL the group even after a clean exit: it reaps any child left behind.
        self.signal(signal.SIGKILL)
        if status is None:
            status = self._popen.wait()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return status

    def describe_failure(self, reason: str) -> ServerStartError:
        """Build the error for a failed start, with the tail of the log.

        Args:
            reason: What went wrong, e.g. "did not answer within 60 s".
        """
        path = self.log_path or Path("(terminal)")
        tail = log_tail(path, 15)
        for other in self.diagnostic_logs:
            tail += f"\n--- last lines of {other}:\n{log_tail(other)}"
        return ServerStartError(self.name, reason, path, tail)


def wait_until(
    ready: Callable[[], bool],
    *,
    process: ServerProcess,
    timeout_s: float,
    interval_s: float = 0.2,
) -> None:
    """Poll `ready` until it returns True; fail if the process exits or time runs out.

    Args:
        ready: The readiness probe; it must return quickly (use short timeouts).
        process: The process being waited for.
        timeout_s: The deadline, in seconds from now.
        interval_s: Pause between probes.

    Raises:
        ServerStartError: The process exited, or the deadline passed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if not process.running:
            raise process.describe_failure(f"exited with status {process.returncode}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise process.describe_failure(f"did not become ready within {timeout_s:.0f} s")
        time.sleep(interval_s)


def stream_lines(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log: TextIO,
    on_line: Callable[[str], None],
    cwd: Path | None = None,
) -> int:
    """Run a command to completion, copying each output line to `log` and `on_line`.

    Args:
        argv: The command.
        env: Its environment.
        log: Where every line is written.
        on_line: Called with each line (without its newline), e.g. to show progress.
        cwd: Its working directory.

    Returns:
        The command's exit status.
    """
    with subprocess.Popen(  # noqa: S603 - argv is built by this package
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None  # PIPE was requested
        lines: Iterable[str] = proc.stdout
        try:
            for line in lines:
                log.write(line)
                on_line(line.rstrip("\n"))
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)  # Ctrl-C: take the build down with us
            raise
        return proc.wait()


def say(message: str) -> None:
    """Print a progress line of the stack, flushed at once."""
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        process.signal(signal.SIGCONT)
        process.signal(signal.SIGKILL)
