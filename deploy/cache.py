"""Where the stack keeps downloads, builds and data, and free loopback ports."""

from __future__ import annotations

import fcntl
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from deploy.settings import DeploySettings

LOOPBACK = "127.0.0.1"


def repo_root() -> Path:
    """Return the repository root: the parent of the `deploy` package directory."""
    return Path(__file__).resolve().parent.parent


def cache_dir(settings: DeploySettings | None = None) -> Path:
    """Return the cache directory (`KEEPLINE_CACHE_DIR`, default `<repo>/.cache`).

    Args:
        settings: Settings to read; fresh ones from the environment when omitted.
    """
    settings = settings or DeploySettings()
    return (settings.cache_dir or repo_root() / ".cache").resolve()


def data_dir(settings: DeploySettings | None = None) -> Path:
    """Return the data directory of `deploy run` (`KEEPLINE_DATA_DIR`, default `<repo>/.data`).

    Args:
        settings: Settings to read; fresh ones from the environment when omitted.
    """
    settings = settings or DeploySettings()
    return (settings.data_dir or repo_root() / ".data").resolve()


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports that are free on 127.0.0.1 right now.

    All sockets stay bound until every port is chosen, so the ports differ.

    Args:
        count: How many ports to return.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    return free_ports(1)[0]


def port_is_free(port: int) -> bool:
    """Tell whether a TCP port can be bound on 127.0.0.1 right now.

    Args:
        port: The port to try.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so a port in TIME_WAIT after a restart counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block.

    Two processes provisioning the same cache entry at once take turns; the second then
    finds the first one's result.

    Args:
        path: The lock file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
