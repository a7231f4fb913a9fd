import sys
import time
from pathlib import Path

import pytest

from deploy.errors import ServerStartError
from deploy.process import ServerProcess, log_tail, wait_until


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 2) == "line 98\nline 99"
    assert log_tail(tmp_path / "missing.log") == "(no log was written)"


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The child forks a grandchild that ignores SIGTERM; stop() must still take it down.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "out.log"
    proc = ServerProcess("sleeper", [sys.executable, "-c", script], log_path=log)
    proc.spawn()
    wait_until(lambda: log.read_text().strip() != "", process=proc, timeout_s=10)
    grandchild = int(log.read_text().split()[0])
    started = time.monotonic()
    proc.stop(grace_s=5)
    assert time.monotonic() - started < 5
    assert not proc.running
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_wait_until_reports_an_early_exit_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    proc = ServerProcess(
        "failing",
        [sys.executable, "-c", "print('bad config: port'); raise SystemExit(3)"],
        log_path=log,
    )
    proc.spawn()
    with pytest.raises(ServerStartError) as error:
        wait_until(lambda: False, process=proc, timeout_s=10)
    assert "exited with status 3" in str(error.value)
    assert "bad config: port" in str(error.value)


def test_wait_until_times_out(tmp_path: Path) -> None:
    proc = ServerProcess(
        "slow", [sys.executable, "-c", "import time; time.sleep(30)"], log_path=tmp_path / "l"
    )
    proc.spawn()
    try:
        with pytest.raises(ServerStartError, match="did not become ready within 0 s"):
            wait_until(lambda: False, process=proc, timeout_s=0.3)
    finally:
        proc.stop()
