"""Dex, a real OpenID provider for local use and the tests: built with Go, run on 127.0.0.1.

Dex's go.mod has a replace directive (its api/v2 module), which `go install module@version`
refuses; the pinned commit is therefore built as a dependency of a two-line module in the
cache (`go get` then `go build`), which is what `go install` would do otherwise.

The server gets static users, one per keepline role (`qa@keepline.test`, … with the
password `keepline-local`, the group of their role), and a public client for the console
(`keepline-console`, authorization code with PKCE, any loopback redirect URI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

from deploy.cache import LOOPBACK, cache_dir, exclusive, free_ports, port_is_free
from deploy.errors import PortInUseError, ProvisionError, ToolMissingError
from deploy.process import ServerProcess, child_environment, log_tail, say, stream_lines, wait_until

DEX_MODULE: Final = "github.com/dexidp/dex"
# Tag v2.45.1 (commit 11d2eeb52b42e1980e14cb91e69dd9e3faab2076): the first release line whose
# static users carry groups. Dex's v2 tags are not Go module versions (its module path has
# no /v2), so the pseudo-version of the tagged commit is pinned.
DEX_RELEASE: Final = "v2.45.1"
DEX_VERSION: Final = "v0.0.0-20260303133905-11d2eeb52b42"
CONSOLE_CLIENT_ID: Final = "keepline-console"
#: The password of every static user: they exist for local use and tests only.
STATIC_PASSWORD: Final = "keepline-local"  # noqa: S105 - a documented local-only password
# bcrypt (cost 10) of STATIC_PASSWORD; Dex stores only hashes.
_STATIC_HASH: Final = "$2a$10$74ujxulg6QkShBY2E1h4EOEV5cylyw/yTFS/0DAQc36whR2TChq9K"
ROLES: Final = ("qa", "legal", "privacy", "auditor", "admin")
_PROGRESS_EVERY: Final = 100


def static_user(role: str) -> str:
    """The e-mail address (Dex's login name) of the static user of a role."""
    return f"{role}@keepline.test"


def dex_home(cache: Path | None = None) -> Path:
    """Return the cache directory of the pinned Dex build.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.
    """
    return (cache or cache_dir()) / f"dex-{DEX_RELEASE}"


def _runs(binary: Path) -> bool:
    if not binary.is_file():
        return False
    try:
        result = subprocess.run(  # noqa: S603 - our own binary
            [str(binary), "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def build_dex(cache: Path | None = None) -> Path:
    """Build the pinned Dex into the cache, once; return the binary.

    Later calls find the binary, check that `dex version` runs, and return at once.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.

    Raises:
        ToolMissingError: `go` is not installed.
        ProvisionError: The build failed; the error shows the end of its log.
    """
    home = dex_home(cache)
    with exclusive(home.with_name(f"{home.name}.lock")):
        return _build_locked(home)


def _build_locked(home: Path) -> Path:
    binary = home / "bin" / "dex"
    if _runs(binary):
        say(f"Dex {DEX_RELEASE}: cached at {binary}")
        return binary
    go = shutil.which("go")
    if go is None:
        raise ToolMissingError(
            "go", "Install Go 1.25 or newer (https://go.dev/doc/install) and put it on PATH."
        )
    say(f"building Dex {DEX_RELEASE} with go: first time takes a few minutes; cached afterwards")
    source = home / "src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    (source / "go.mod").write_text("module keepline.local/dex-build\n\ngo 1.25\n", "utf-8")
    partial = home / "bin.partial"
    shutil.rmtree(partial, ignore_errors=True)
    log_path = home / "build.log"
    started = time.monotonic()
    built = 0

    def progress(line: str) -> None:
        nonlocal built
        if line.startswith("go: downloading") or line.startswith("go: added"):
            if built == 0:
                say("  Dex build: downloading Go modules")
                built = -1
            return
        built = max(built, 0) + 1
        elapsed = time.monotonic() - started
        if built % _PROGRESS_EVERY == 0:
            say(f"  Dex build: {built} packages compiled ({elapsed:.0f} s), at {line}")
        if line == f"{DEX_MODULE}/cmd/dex":
            say(f"  Dex build: {built} packages compiled ({elapsed:.0f} s), linking the server")

    env = child_environment({"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"})
    steps = [
        [go, "get", f"{DEX_MODULE}/cmd/dex@{DEX_VERSION}"],
        [go, "build", "-v", "-trimpath", "-o", str(partial / "dex"), f"{DEX_MODULE}/cmd/dex"],
    ]
    with log_path.open("w", encoding="utf-8") as log:
        status = 0
        for argv in steps:
            status = stream_lines(argv, env=env, log=log, on_line=progress, cwd=source)
            if status != 0:
                break
    if status != 0 or not _runs(partial / "dex"):
        raise ProvisionError(
            f"building Dex {DEX_RELEASE}",
            log_path,
            log_tail(log_path),
            "Check that the Go module proxy is reachable (GOPROXY) and that Go is 1.25+.",
        )
    shutil.rmtree(binary.parent, ignore_errors=True)
    partial.rename(binary.parent)
    say(f"Dex {DEX_RELEASE}: built {binary} in {time.monotonic() - started:.0f} s")
    return binary


def dex_config(
    *, issuer: str, address: str, telemetry: str, allowed_origins: list[str]
) -> dict[str, object]:
    """Dex's configuration: memory storage, static users and the console's public client."""
    return {
        "issuer": issuer,
        "storage": {"type": "memory"},
        "web": {"http": address, "allowedOrigins": allowed_origins},
        "telemetry": {"http": telemetry},
        "oauth2": {"responseTypes": ["code"], "skipApprovalScreen": True},
        "expiry": {"idTokens": "1h", "signingKeys": "6h"},
        "logger": {"level": "info", "format": "text"},
        # A public client without redirect URIs: Dex accepts any http loopback one.
        "staticClients": [
            {"id": CONSOLE_CLIENT_ID, "name": "keepline console", "public": True},
        ],
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": static_user(role),
                "hash": _STATIC_HASH,
                "username": f"{role}-user",
                "preferredUsername": f"{role}-user",
                "userID": f"00000000-0000-4000-8000-00000000000{number}",
                "groups": [role],
            }
            for number, role in enumerate(ROLES, 1)
        ],
    }


class DexProcess:
    """One Dex server on 127.0.0.1 with the static users and the console client.

    `issuer` is what keepline's KEEPLINE_OIDC_ISSUER must be set to.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        port: int | None = None,
        allowed_origins: list[str] | None = None,
        binary: Path | None = None,
    ) -> None:
        chosen = free_ports(2)
        self._auto_port = port is None
        self.port = port or chosen[0]
        self.telemetry_port = chosen[1]
        self.work_dir = work_dir
        self.allowed_origins = allowed_origins or [f"http://{LOOPBACK}:8080"]
        self._binary = binary
        self._process: ServerProcess | None = None

    @property
    def issuer(self) -> str:
        """The issuer URL (discovery lives under it)."""
        return f"http://{LOOPBACK}:{self.port}/dex"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.work_dir / "dex.log"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.running

    def ready(self) -> bool:
        """Tell whether the discovery document is served."""
        try:
            response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    def start(self, timeout_s: float = 30.0) -> None:
        """Write the configuration, start Dex and wait for its discovery document.

        Raises:
            PortInUseError: A port is taken.
            ServerStartError: The server exited or was not ready in time.
        """
        if self.running:
            return
        if self._auto_port:
            while not (port_is_free(self.port) and port_is_free(self.telemetry_port)):
                self.port, self.telemetry_port = free_ports(2)
        for port in (self.port, self.telemetry_port):
            if not port_is_free(port):
                raise PortInUseError("Dex", port, "pass another port, or none to get a free one")
        binary = self._binary = self._binary or build_dex()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "dex.yaml"
        # JSON is YAML: Dex reads it as it is.
        document = dex_config(
            issuer=self.issuer,
            address=f"{LOOPBACK}:{self.port}",
            telemetry=f"{LOOPBACK}:{self.telemetry_port}",
            allowed_origins=self.allowed_origins,
        )
        config.write_text(json.dumps(document, indent=2), encoding="utf-8")
        argv = [str(binary), "serve", str(config)]
        self._process = ServerProcess(
            "Dex", argv, env=child_environment({}), log_path=self.log_path
        )
        self._process.spawn()
        ready = False
        try:
            wait_until(self.ready, process=self._process, timeout_s=timeout_s, interval_s=0.1)
            ready = True
        finally:
            if not ready:
                self.stop()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after `grace_s`)."""
        if self._process is not None:
            self._process.stop(grace_s)

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
