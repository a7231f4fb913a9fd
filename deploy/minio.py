"""MinIO for the local stack: built from source with `go install`, one server on 127.0.0.1."""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

from deploy.cache import LOOPBACK, cache_dir, exclusive, free_ports, port_is_free
from deploy.errors import PortInUseError, ProvisionError, ToolMissingError
from deploy.process import ServerProcess, child_environment, log_tail, say, stream_lines, wait_until

MINIO_MODULE: Final = "github.com/minio/minio"
# MinIO tags releases RELEASE.<date>, which are not semantic versions; `go install` takes the
# pseudo-version of the tagged commit instead. This one is the tag RELEASE.2025-09-07T16-13-09Z,
# commit 07c3a429bfed433e49018cb0f78a52145d4bedeb. (RELEASE.2025-10-15T17-29-55Z is newer,
# but the Go module proxy does not serve its pseudo-version.)
MINIO_RELEASE: Final = "RELEASE.2025-09-07T16-13-09Z"
MINIO_VERSION: Final = "v0.0.0-20250907161309-07c3a429bfed"
_PROGRESS_EVERY: Final = 100


def minio_home(cache: Path | None = None) -> Path:
    """Return the cache directory of the pinned MinIO build.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.
    """
    return (cache or cache_dir()) / f"minio-{MINIO_RELEASE}"


def _runs(binary: Path) -> bool:
    if not binary.is_file():
        return False
    try:
        result = subprocess.run(  # noqa: S603 - our own binary
            [str(binary), "--version"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def build_minio(cache: Path | None = None, *, announce_cached: bool = True) -> Path:
    """Build the pinned MinIO with `go install` into the cache, once; return the binary.

    Later calls find the binary, check that `minio --version` runs, and return at once.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.
        announce_cached: Say that the cache has it (False where provisioning said so).

    Raises:
        ToolMissingError: `go` is not installed.
        ProvisionError: The build failed; the error shows the end of its log.
    """
    home = minio_home(cache)
    with exclusive(home.with_name(f"{home.name}.lock")):
        return _build_locked(home, announce_cached=announce_cached)


def _build_locked(home: Path, *, announce_cached: bool) -> Path:
    binary = home / "bin" / "minio"
    if _runs(binary):
        if announce_cached:
            say(f"MinIO {MINIO_RELEASE}: cached at {binary}")
        return binary
    go = shutil.which("go")
    if go is None:
        raise ToolMissingError(
            "go", "Install Go 1.24 or newer (https://go.dev/doc/install) and put it on PATH."
        )
    say(
        f"building MinIO {MINIO_RELEASE} with go install: first time takes several minutes; "
        "cached afterwards",
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
                say("  MinIO build: downloading Go modules")
            downloading = True
            return
        built += 1
        if built % _PROGRESS_EVERY == 0:
            say(f"  MinIO build: {built} packages compiled ({elapsed:.0f} s), at {line}")
        if line == MINIO_MODULE:
            say(f"  MinIO build: {built} packages compiled ({elapsed:.0f} s), linking the server")

    env = child_environment({"GOBIN": str(partial), "CGO_ENABLED": "0"})
    argv = [go, "install", "-v", "-trimpath", f"{MINIO_MODULE}@{MINIO_VERSION}"]
    with log_path.open("w", encoding="utf-8") as log:
        status = stream_lines(argv, env=env, log=log, on_line=progress)
    if status != 0 or not _runs(partial / "minio"):
        raise ProvisionError(
            f"building MinIO {MINIO_RELEASE}",
            log_path,
            log_tail(log_path),
            "Check that the Go module proxy is reachable (GOPROXY) and that Go is 1.24+.",
        )
    shutil.rmtree(binary.parent, ignore_errors=True)
    partial.rename(binary.parent)
    say(f"MinIO {MINIO_RELEASE}: built {binary} in {time.monotonic() - started:.0f} s")
    return binary


class MinioProcess:
    """One MinIO server on a single drive, listening on 127.0.0.1.

    Use as a context manager, or call `start()` and `stop()`. `stop()` then `start()`
    again, or `pause()` then `resume()`, keep the data directory and port.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        console_port: int | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        log_dir: Path | None = None,
        binary: Path | None = None,
    ) -> None:
        chosen = free_ports(2)
        # Ports picked here may be taken by someone else before the server binds them; such
        # ports are picked again at start, ports the caller named never are.
        self._auto_ports = port is None and console_port is None
        self._started_once = False
        self.port = port or chosen[0]
        self.console_port = console_port or chosen[1]
        self.access_key = access_key or f"test-{secrets.token_hex(4)}"
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self.data_dir = data_dir
        self.log_dir = log_dir or data_dir.parent / "logs"
        self._binary = binary
        self._process: ServerProcess | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint as `127.0.0.1:<port>` (what the `minio` SDK takes)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The S3 endpoint as a URL, `http://127.0.0.1:<port>`."""
        return f"http://{self.endpoint}"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.log_dir / "minio.log"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.running

    def ready(self) -> bool:
        """Tell whether the server answers `GET /minio/health/ready` with 200."""
        try:
            response = httpx.get(f"{self.url}/minio/health/ready", timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until it reports ready.

        Args:
            timeout_s: How long the server may take to become ready.

        Raises:
            PortInUseError: A port is taken.
            ServerStartError: The server exited or was not ready in time.
        """
        if self.running:
            return
        if self._auto_ports and not self._started_once:
            while not (port_is_free(self.port) and port_is_free(self.console_port)):
                self.port, self.console_port = free_ports(2)
        for port in (self.port, self.console_port):
            if not port_is_free(port):
                raise PortInUseError("MinIO", port, "pass another port, or none to get a free one")
        self._started_once = True
        binary = self._binary = self._binary or build_minio()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = child_environment(
            {
                "MINIO_ROOT_USER": self.access_key,
                "MINIO_ROOT_PASSWORD": self.secret_key,
                "MINIO_BROWSER": "off",
                "MINIO_UPDATE": "off",
                "MINIO_CI_CD": "1",  # accept a data directory on the root disk, as in /tmp
            },
        )
        argv = [
            str(binary),
            "server",
            str(self.data_dir),
            "--address",
            self.endpoint,
            "--console-address",
            f"{LOOPBACK}:{self.console_port}",
        ]
        self._process = ServerProcess("MinIO", argv, env=env, log_path=self.log_path)
        self._process.spawn()
        ready = False
        try:
            wait_until(self.ready, process=self._process, timeout_s=timeout_s, interval_s=0.1)
            ready = True
        finally:
            if not ready:
                self.stop()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after `grace_s`.

        Args:
            grace_s: How long a clean shutdown may take.
        """
        if self._process is not None:
            self._process.stop(grace_s)

    def restart(self, timeout_s: float = 60.0) -> None:
        """Stop the server and start it again on the same data directory and port.

        Args:
            timeout_s: How long the server may take to become ready again.
        """
        self.stop()
        self.start(timeout_s)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang instead of being refused."""
        if self._process is not None:
            self._process.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        if self._process is not None:
            self._process.signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
