"""promtool, Prometheus's rule checker: built with `go install` from the Prometheus module.

The tests run `promtool check rules` and `promtool test rules` over `deploy/prometheus/`, so
an alert rule that does not parse, or does not fire when it should, fails `make test`.
Built once into the cache, as MinIO is; later calls check that it runs and return at once.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Final

from deploy.cache import cache_dir, exclusive
from deploy.errors import ProvisionError, ToolMissingError
from deploy.process import child_environment, log_tail, say, stream_lines

PROMETHEUS_MODULE: Final = "github.com/prometheus/prometheus"
# Prometheus tags v3.x releases; its Go module versions are v0.3xx.y (v3.6.0 is v0.306.0).
# v0.316.0 is Prometheus 3.16.0.
PROMETHEUS_VERSION: Final = "v0.316.0"
PROMTOOL_PACKAGE: Final = f"{PROMETHEUS_MODULE}/cmd/promtool"
# Without the service-discovery plugins (AWS, Azure, GCE, …: Prometheus's own build tag),
# which checking and testing rules never uses and which are most of the build's time.
BUILD_TAGS: Final = "remove_all_sd"
_PROGRESS_EVERY: Final = 100


def promtool_home(cache: Path | None = None) -> Path:
    """Return the cache directory of the pinned promtool build.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.
    """
    return (cache or cache_dir()) / f"promtool-{PROMETHEUS_VERSION}"


def _runs(binary: Path) -> bool:
    if not binary.is_file():
        return False
    try:
        result = subprocess.run(  # noqa: S603 - our own binary
            [str(binary), "--version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def build_promtool(cache: Path | None = None) -> Path:
    """Build the pinned promtool with `go install` into the cache, once; return the binary.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.

    Raises:
        ToolMissingError: `go` is not installed.
        ProvisionError: The build failed; the error shows the end of its log.
    """
    home = promtool_home(cache)
    with exclusive(home.with_name(f"{home.name}.lock")):
        return _build_locked(home)


def _build_locked(home: Path) -> Path:
    binary = home / "bin" / "promtool"
    if _runs(binary):
        say(f"promtool {PROMETHEUS_VERSION}: cached at {binary}")
        return binary
    go = shutil.which("go")
    if go is None:
        raise ToolMissingError(
            "go", "Install Go 1.25 or newer (https://go.dev/doc/install) and put it on PATH."
        )
    say(
        f"building promtool {PROMETHEUS_VERSION} with go install: first time takes several "
        "minutes; cached afterwards"
    )
    home.mkdir(parents=True, exist_ok=True)
    partial = home / "bin.partial"
    shutil.rmtree(partial, ignore_errors=True)
    log_path = home / "build.log"
    started = time.monotonic()
    built = 0
    downloading = False

    def progress(line: str) -> None:
        nonlocal built, downloading
        elapsed = time.monotonic() - started
        if line.startswith("go: downloading"):
            if not downloading:
                say("  promtool build: downloading Go modules")
            downloading = True
            return
        built += 1
        if built % _PROGRESS_EVERY == 0:
            say(f"  promtool build: {built} packages compiled ({elapsed:.0f} s), at {line}")
        if line == PROMTOOL_PACKAGE:
            say(f"  promtool build: {built} packages compiled ({elapsed:.0f} s), linking")

    env = child_environment({"GOBIN": str(partial), "CGO_ENABLED": "0"})
    argv = [
        go,
        "install",
        "-v",
        "-trimpath",
        "-tags",
        BUILD_TAGS,
        f"{PROMTOOL_PACKAGE}@{PROMETHEUS_VERSION}",
    ]
    with log_path.open("w", encoding="utf-8") as log:
        status = stream_lines(argv, env=env, log=log, on_line=progress)
    if status != 0 or not _runs(partial / "promtool"):
        raise ProvisionError(
            f"building promtool {PROMETHEUS_VERSION}",
            log_path,
            log_tail(log_path),
            "Check that the Go module proxy is reachable (GOPROXY) and that Go is 1.25+.",
        )
    shutil.rmtree(binary.parent, ignore_errors=True)
    partial.rename(binary.parent)
    say(f"promtool {PROMETHEUS_VERSION}: built {binary} in {time.monotonic() - started:.0f} s")
    return binary
