"""PostgreSQL for the tests and the local stack: one cluster listening on 127.0.0.1.

The binaries and, as root, the unprivileged user that runs them come from
`deploy.postgres_install`. As root, the cluster must live in a directory that user owns and
can reach: a `cluster/` directory inside the given one when every directory above it lets the
user pass, otherwise a private directory under the system temporary directory, which
`close()` removes. As any other user, the cluster lives in the given directory itself.

The superuser `keepline` has a random password (SCRAM), kept in `<cluster>/password`
(mode 0600) so that a stopped cluster can be started again.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from deploy.cache import LOOPBACK, free_port, port_is_free
from deploy.errors import DeployError, PortInUseError, ProvisionError, ToolMissingError
from deploy.postgres_install import (
    PostgresBinaries,
    RunAs,
    find_postgres,
    reachable_by,
    server_user,
    usable_by,
)
from deploy.process import ServerProcess, child_environment, log_tail, wait_until

SUPERUSER: Final = "keepline"
# sockaddr_un.sun_path holds 108 bytes, the final NUL included.
SOCKET_PATH_MAX: Final = 107
_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresCommandError(DeployError):
    """A command sent to the local PostgreSQL failed."""

    def __init__(self, command: str, output: str) -> None:
        self.command = command
        self.output = output
        super().__init__(f"PostgreSQL refused `{command}`: {output.strip()}")


def server_options(port: int, socket_dir: Path | None, *, durable: bool) -> list[str]:
    """Return the `postgres` options: TCP on 127.0.0.1 only, a Unix socket where it fits.

    Args:
        port: The TCP port.
        socket_dir: Where the Unix socket goes; None for no socket.
        durable: False turns off fsync and full-page writes: faster, not crash-safe (tests).
    """
    settings = {
        "listen_addresses": LOOPBACK,
        "port": str(port),
        "unix_socket_directories": str(socket_dir) if socket_dir is not None else "",
        "logging_collector": "off",
    }
    if not durable:
        settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    return [part for key, value in settings.items() for part in ("-c", f"{key}={value}")]


def socket_fits(socket_dir: Path, port: int) -> bool:
    """Tell whether the socket `<socket_dir>/.s.PGSQL.<port>` fits in a socket address."""
    return len(os.fsencode(socket_dir / f".s.PGSQL.{port}")) <= SOCKET_PATH_MAX


def postmaster_status(pid_file_text: str) -> str | None:
    """Return the status line of `postmaster.pid` ("starting", "ready", ...), or None."""
    lines = pid_file_text.splitlines()
    return lines[7].strip() if len(lines) > 7 else None  # noqa: PLR2004 - its 8th line


def check_name(name: str) -> str:
    """Return a database name after checking it against a strict allow-list.

    Raises:
        ValueError: The name is not lower-case letters, digits and underscores.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} is not [a-z_][a-z0-9_]{{0,62}}")
    return name


@dataclass(frozen=True, slots=True)
class PostgresClient:
    """Reaches a running cluster as its superuser: SQLAlchemy URLs and psql commands.

    What another process needs to use a server it did not start (the test workers that
    share one): its port, the superuser's password and the binaries (psql).
    """

    port: int
    password: str
    binaries: PostgresBinaries
    user: str = SUPERUSER

    def url(self, database: str, *, driver: str | None = "asyncpg") -> str:
        """Return a SQLAlchemy URL of a database as the superuser, over TCP.

        Args:
            database: The database.
            driver: The DBAPI, e.g. `asyncpg`; None for a plain `postgresql://` URL.
        """
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        name = check_name(database)
        return f"{scheme}://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{name}"

    def execute(self, sql: str, *, database: str = "postgres") -> str:
        """Run one SQL command with psql as the superuser; return its unaligned output.

        Raises:
            PostgresCommandError: psql or the server reported an error.
        """
        argv = [self.binaries.tool("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", LOOPBACK, "-p", str(self.port), "-U", self.user, "-d", check_name(database)]
        env = child_environment({"PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"})
        result = subprocess.run(  # noqa: S603 - argv built here, the SQL from this package
            [*argv, "-c", sql], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if result.returncode != 0:
            raise PostgresCommandError(sql, result.stderr or result.stdout)
        return result.stdout.strip()

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """Create a database owned by the superuser unless it exists.

        Args:
            name: The database.
            template: A database to copy (it must have no session open); None: empty.
        """
        check_name(name)
        exists = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - checked name
        if self.execute(exists) != "1":
            copied = f' TEMPLATE "{check_name(template)}"' if template else ""
            self.execute(f'CREATE DATABASE "{name}"{copied}')

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions; nothing if it does not exist."""
        self.execute(f'DROP DATABASE IF EXISTS "{check_name(name)}" WITH (FORCE)')


class PostgresProcess:
    """One PostgreSQL cluster listening on 127.0.0.1 (and a Unix socket where it fits).

    Use as a context manager, or call `start()` and `stop()`, then `close()`. `stop()` then
    `start()` again keeps the data and the port. `start()` creates `database` if missing.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        database: str = "keepline",
        log_dir: Path | None = None,
        binaries: PostgresBinaries | None = None,
        durable: bool = True,
    ) -> None:
        # A port picked here may be taken before the server binds it; it is picked again at
        # start, a port the caller named never is.
        self._auto_port = port is None
        self._started_once = False
        self.port = port or free_port()
        self.base_dir = base_dir
        self.database = check_name(database)
        self.log_dir = log_dir or base_dir / "logs"
        self.durable = durable
        self.user = SUPERUSER
        self._binaries = binaries
        self._cluster: Path | None = None
        self._private = False
        self._run_as: RunAs | None = None
        self._password: str | None = None
        self._process: ServerProcess | None = None

    @property
    def cluster_dir(self) -> Path:
        """The directory the server owns: `data/`, `run/` (the socket) and `password`."""
        if self._cluster is None:
            raise DeployError("the PostgreSQL cluster directory is chosen by start()")
        return self._cluster

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.cluster_dir / "data"

    @property
    def socket_dir(self) -> Path | None:
        """The Unix socket's directory, or None when its path would be too long."""
        run = self.cluster_dir / "run"
        return run if socket_fits(run, self.port) else None

    @property
    def log_path(self) -> Path:
        """The server's log (its stderr)."""
        return self.log_dir / "postgres.log"

    @property
    def password(self) -> str:
        """The superuser's password."""
        if self._password is None:
            raise DeployError("the PostgreSQL password is set by start()")
        return self._password

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.running

    @property
    def client(self) -> PostgresClient:
        """What reaches this server as its superuser, in this process or another."""
        password = self.password  # refuses before start()
        assert self._binaries is not None  # set by start()
        return PostgresClient(self.port, password, self._binaries, self.user)

    def url(self, database: str | None = None, *, driver: str | None = "asyncpg") -> str:
        """Return a SQLAlchemy URL of a database as the superuser, over TCP.

        Args:
            database: The database; `self.database` when omitted.
            driver: The DBAPI, e.g. `asyncpg`; None for a plain `postgresql://` URL.
        """
        return self.client.url(database or self.database, driver=driver)

    def ready(self) -> bool:
        """Tell whether the postmaster reports that it accepts connections."""
        try:
            text = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        return postmaster_status(text) == "ready"

    def start(self, timeout_s: float = 60.0) -> None:
        """Initialise the cluster if needed, start the server, wait for it, create the database.

        Args:
            timeout_s: How long the server may take to accept connections.

        Raises:
            PortInUseError: The port is taken.
            ProvisionError: initdb failed.
            ServerStartError: The server exited or did not become ready in time.
        """
        if self.running:
            return
        if self._auto_port and not self._started_once:
            while not port_is_free(self.port):
                self.port = free_port()
        if not port_is_free(self.port):
            raise PortInUseError("PostgreSQL", self.port, "pass another port, or none")
        self._started_once = True
        self._run_as = server_user()
        binaries = self._binaries = self._binaries or find_postgres(usable=usable_by(self._run_as))
        self._prepare_cluster()
        self._initdb(binaries)
        argv = [binaries.tool("postgres"), "-D", str(self.data_dir)]
        argv += server_options(self.port, self.socket_dir, durable=self.durable)
        self._process = ServerProcess(
            "PostgreSQL", self._as_server(argv), env=child_environment({}), log_path=self.log_path
        )
        self._process.spawn()
        ready = False
        try:
            wait_until(self.ready, process=self._process, timeout_s=timeout_s, interval_s=0.1)
            self.create_database(self.database)
            ready = True
        finally:
            if not ready:
                self.stop()

    def execute(self, sql: str, *, database: str = "postgres") -> str:
        """Run one SQL command with psql as the superuser; return its unaligned output.

        Raises:
            PostgresCommandError: psql or the server reported an error.
        """
        return self.client.execute(sql, database=database)

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """Create a database owned by the superuser unless it exists (a copy of template)."""
        self.client.create_database(name, template=template)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions; nothing if it does not exist."""
        self.client.drop_database(name)

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop the server: SIGINT (fast shutdown), then SIGTERM and SIGKILL after `grace_s`.

        Args:
            grace_s: How long the shutdown may take.
        """
        if self._process is None:
            return
        # SIGTERM waits for every client to leave; SIGINT disconnects them.
        self._process.signal(signal.SIGINT)
        self._process.wait(grace_s)
        self._process.stop(grace_s=1.0)

    def close(self) -> None:
        """Stop the server and remove the private cluster directory, if one was made."""
        self.stop()
        if self._private and self._cluster is not None:
            shutil.rmtree(self._cluster, ignore_errors=True)
            self._cluster = None

    def _as_server(self, argv: list[str]) -> list[str]:
        if self._run_as is None:
            return argv
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise ToolMissingError("setpriv", "Install util-linux (it runs postgres for root).")
        return self._run_as.wrap(argv, setpriv)

    def _prepare_cluster(self) -> None:
        if self._cluster is not None:
            return
        run_as = self._run_as
        if run_as is None:
            cluster = self.base_dir
        elif reachable_by(self.base_dir, run_as.uid, run_as.gid):
            cluster = self.base_dir / "cluster"
        else:
            cluster = Path(tempfile.mkdtemp(prefix="keepline-pg-"))
            self._private = True
        for directory in (cluster, cluster / "run"):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if run_as is not None:
                os.chown(directory, run_as.uid, run_as.gid)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._cluster = cluster
        password_file = cluster / "password"
        if not password_file.is_file():
            password_file.write_text(secrets.token_urlsafe(24), encoding="ascii")
        password_file.chmod(0o600)
        if run_as is not None:
            os.chown(password_file, run_as.uid, run_as.gid)
        self._password = password_file.read_text(encoding="ascii").strip()

    def _initdb(self, binaries: PostgresBinaries) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)  # what a failed initdb left
        argv = [binaries.tool("initdb"), "-D", str(self.data_dir), "-U", self.user]
        argv += ["--pwfile", str(self.cluster_dir / "password"), "--auth=scram-sha-256"]
        argv += ["--encoding=UTF8", "--no-locale"] + ([] if self.durable else ["--no-sync"])
        log_path = self.log_dir / "initdb.log"
        with log_path.open("w", encoding="utf-8") as log:
            status = subprocess.call(  # noqa: S603 - argv built above
                self._as_server(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cluster_dir,
            )
        if status != 0:
            raise ProvisionError(
                f"initdb of PostgreSQL {binaries.version}",
                log_path,
                log_tail(log_path),
                f"Check that {self.cluster_dir} is writable by the server user and retry.",
            )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
