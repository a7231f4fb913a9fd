"""`python -m deploy provision | run`: the local stack from the command line."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final

from deploy.browser import ensure_chromium, fetch_axe
from deploy.cache import cache_dir, data_dir, port_is_free
from deploy.dex import build_dex
from deploy.errors import CommandError, DeployError, PortInUseError
from deploy.kafka import KafkaDistribution, KafkaProcess, ensure_topics, fetch_kafka
from deploy.minio import MinioProcess, build_minio
from deploy.minio_iam import Identity, LocalIdentities, create_identities, local_identities
from deploy.postgres_install import locate_postgres
from deploy.process import ServerProcess, child_environment, say
from deploy.promtool import build_promtool
from deploy.settings import DEFAULT_KAFKA_BOOTSTRAP, DEFAULT_S3_ENDPOINT, DeploySettings

# The topics of SPEC section 2.
SPEC_TOPICS: Final = (
    "comms.calls",
    "comms.emails",
    "comms.chats",
    "privacy.consent",
    "keepline.dlq",
    "keepline.audit",
)
KAFKA_PORT: Final = 9092
KAFKA_CONTROLLER_PORT: Final = 9093
MINIO_PORT: Final = 9000
MINIO_CONSOLE_PORT: Final = 9001
_LOCAL_HOSTS: Final = ("127.0.0.1", "localhost")
_CHILD_GRACE_S: Final = 30.0


def wants_local_kafka(settings: DeploySettings) -> bool:
    """Tell whether `run` starts its own Kafka: only while the bootstrap is the default.

    Args:
        settings: The stack settings.
    """
    return settings.kafka_bootstrap in {f"{h}:{KAFKA_PORT}" for h in _LOCAL_HOSTS} | {
        DEFAULT_KAFKA_BOOTSTRAP
    }


def wants_local_minio(settings: DeploySettings) -> bool:
    """Tell whether `run` starts its own MinIO: only while the endpoint is the default.

    Args:
        settings: The stack settings.
    """
    endpoint = settings.s3_endpoint.rstrip("/")
    return endpoint in {f"http://{h}:{MINIO_PORT}" for h in _LOCAL_HOSTS} | {DEFAULT_S3_ENDPOINT}


def identities(settings: DeploySettings) -> LocalIdentities:
    """The local MinIO's root user, keepline's own user and the destroying user."""
    keeper = Identity(settings.s3_access_key, settings.s3_secret_key.get_secret_value())
    return local_identities(data_dir(settings) / "minio-identities.json", keeper)


def service_environment(settings: DeploySettings) -> dict[str, str]:
    """Return the variables keepline gets from `run` (user-set values pass through).

    With the local MinIO, keepline runs as two least-privilege users: its own (no deletes)
    and the destroying one (KEEPLINE_S3_DESTROY_*), never as MinIO's root.

    Args:
        settings: The stack settings.
    """
    env = {
        "KEEPLINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KEEPLINE_S3_ENDPOINT": settings.s3_endpoint,
        "KEEPLINE_S3_ACCESS_KEY": settings.s3_access_key,
        "KEEPLINE_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
    }
    if wants_local_minio(settings):
        destroyer = identities(settings).destroyer
        env["KEEPLINE_S3_DESTROY_ACCESS_KEY"] = destroyer.access_key
        env["KEEPLINE_S3_DESTROY_SECRET_KEY"] = destroyer.secret_key
    return env


def provision(settings: DeploySettings) -> tuple[KafkaDistribution, Path]:
    """Fetch Kafka, build MinIO and Dex, find PostgreSQL and the browser (all idempotent).

    Args:
        settings: The stack settings.

    Returns:
        The Kafka distribution and the MinIO binary.
    """
    cache = cache_dir(settings)
    distribution = fetch_kafka(cache)
    binary = build_minio(cache)
    locate_postgres()  # the venv brings its binaries; as root, this also makes keepline-pg
    build_dex(cache)  # the OpenID provider of the sign-in and browser tests
    ensure_chromium(cache)
    fetch_axe(cache)
    build_promtool(cache)  # checks and tests the alert rules of deploy/prometheus/
    say(f"provisioned: Kafka, MinIO, Dex, axe-core and promtool are cached in {cache}")
    return distribution, binary


@dataclass
class _Stack:
    kafka: KafkaProcess | None = None
    minio: MinioProcess | None = None
    child: ServerProcess | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        # Reverse order of start: the service first, so it can flush to Kafka and MinIO.
        if self.child is not None and self.child.running:
            say("stopping keepline")
            self.child.stop(_CHILD_GRACE_S)
        if self.minio is not None and self.minio.running:
            say("stopping MinIO")
            self.minio.stop()
        if self.kafka is not None and self.kafka.running:
            say("stopping Kafka")
            self.kafka.stop()


def _start_servers(settings: DeploySettings, stack: _Stack, logs: Path) -> None:
    data = data_dir(settings)
    cache = cache_dir(settings)
    if wants_local_kafka(settings):
        stack.kafka = KafkaProcess(
            data / "kafka",
            port=KAFKA_PORT,
            controller_port=KAFKA_CONTROLLER_PORT,
            log_dir=logs,
            # `make run` provisioned (and announced) it a moment ago: only a missing or
            # stale cache is worth a line here.
            distribution=fetch_kafka(cache, announce_cached=False),
        )
    else:
        say(f"using the Kafka at {settings.kafka_bootstrap} (KEEPLINE_KAFKA_BOOTSTRAP)")
    if wants_local_minio(settings):
        root = identities(settings).root
        stack.minio = MinioProcess(
            data / "minio",
            port=MINIO_PORT,
            console_port=MINIO_CONSOLE_PORT,
            access_key=root.access_key,
            secret_key=root.secret_key,
            log_dir=logs,
            binary=build_minio(cache, announce_cached=False),
        )
    else:
        say(f"using the object store at {settings.s3_endpoint} (KEEPLINE_S3_ENDPOINT)")
    _check_ports(stack)
    servers: list[KafkaProcess | MinioProcess] = [s for s in (stack.kafka, stack.minio) if s]
    with ThreadPoolExecutor(2, thread_name_prefix="deploy-start") as pool:
        futures = [pool.submit(server.start) for server in servers]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    if stack.kafka is not None:
        say(f"Kafka ready on {stack.kafka.bootstrap}")
    if stack.minio is not None:
        say(f"MinIO ready on {stack.minio.url}")
        users = identities(settings)
        create_identities(
            stack.minio.url,
            users.root,
            settings.s3_bucket,
            keeper=users.keeper,
            destroyer=users.destroyer,
        )
        say(
            f"MinIO users ready: {users.keeper.access_key} (keeps; deletes nothing), "
            f"{users.destroyer.access_key} (destroys; reads nothing), bucket {settings.s3_bucket}"
        )
    ensure_topics(settings.kafka_bootstrap, SPEC_TOPICS, settings.topic_partitions)
    say(f"topics ready: {', '.join(SPEC_TOPICS)}")


def check_configuration(env: dict[str, str]) -> int:
    """Run `keepline check` with keepline's environment; its exit status (0: no mistake).

    Args:
        env: The environment keepline will run with.
    """
    argv = [str(Path(sys.executable).parent / "keepline"), "check"]
    try:
        done = subprocess.run(argv, env=env, check=False)  # noqa: S603 - our own command
    except OSError as error:
        raise CommandError(argv, str(error)) from error
    return done.returncode


def _check_ports(stack: _Stack) -> None:
    # Before anything starts, so a busy port costs no half-started stack.
    wanted: list[tuple[str, int, str]] = []
    if stack.kafka is not None:
        hint = "set KEEPLINE_KAFKA_BOOTSTRAP to a Kafka that is already running"
        wanted += [("Kafka", stack.kafka.port, hint), ("Kafka", stack.kafka.controller_port, hint)]
    if stack.minio is not None:
        hint = "set KEEPLINE_S3_ENDPOINT to an object store that is already running"
        wanted += [("MinIO", stack.minio.port, hint), ("MinIO", stack.minio.console_port, hint)]
    for service, port, hint in wanted:
        if not port_is_free(port):
            raise PortInUseError(service, port, hint)


def run(settings: DeploySettings, command: Sequence[str]) -> int:
    """Start Kafka and MinIO, then keepline; on SIGINT or SIGTERM stop all three.

    Args:
        settings: The stack settings.
        command: The service command; `keepline serve` from this venv when empty.

    Returns:
        0 after a signal, 2 when `keepline check` finds a mistake (nothing is started),
        else the service's exit status.
    """
    stack = _Stack()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stack.stopping.set()

    # While starting, a signal aborts at once; once keepline runs, the loop below notices.
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    logs = data_dir(settings) / "logs"
    say(f"logs go to {logs}/")
    try:
        env = child_environment(service_environment(settings))
        # Before Kafka and MinIO start: a typo costs a second, not a stack started for nothing.
        if (status := check_configuration(env)) != 0:
            say("the configuration has mistakes (above); nothing was started")
            return status
        _start_servers(settings, stack, logs)
        argv = list(command) or [str(Path(sys.executable).parent / "keepline"), "serve"]
        stack.child = ServerProcess("keepline", argv, env=env)
        say(f"starting {' '.join(argv)} (Ctrl-C stops everything)")
        for signum in previous:
            signal.signal(signum, request_stop)
        try:
            stack.child.spawn()
        except OSError as error:
            raise CommandError(argv, str(error)) from error
        return _supervise(stack)
    except KeyboardInterrupt:
        say("interrupted while starting, shutting down")
        return 0
    finally:
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _supervise(stack: _Stack) -> int:
    assert stack.child is not None  # spawned by run()
    while not stack.stopping.wait(0.5):
        status = stack.child.returncode
        if status is not None:
            say(f"keepline exited with status {status}")
            return status
        for server in (stack.kafka, stack.minio):
            if server is not None and not server.running:
                say(f"a server exited unexpectedly; see {server.log_path}")
                return 1
    say("signal received, shutting down")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run `provision` or `run`.

    Args:
        argv: The arguments; `sys.argv[1:]` when omitted.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="The local keepline stack: Apache Kafka and MinIO on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "provision",
        help="fetch Kafka (mvn), build MinIO and Dex (go), install Chromium, fetch axe-core",
    )
    run_parser = commands.add_parser(
        "run",
        help="start Kafka on 127.0.0.1:9092, MinIO on 127.0.0.1:9000, then keepline",
        description="Starts Kafka and MinIO (only where KEEPLINE_KAFKA_BOOTSTRAP and "
        "KEEPLINE_S3_ENDPOINT keep their defaults), creates the topics, then runs "
        "`keepline serve`, or the command after `--`.",
    )
    run_parser.add_argument(
        "service", nargs=argparse.REMAINDER, help="-- COMMAND...: run this instead of keepline"
    )
    args = parser.parse_args(argv)
    settings = DeploySettings()
    try:
        if args.command == "provision":
            provision(settings)
            return 0
        service = args.service[1:] if args.service[:1] == ["--"] else args.service
        return run(settings, service)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
