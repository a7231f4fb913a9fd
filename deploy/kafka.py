"""Apache Kafka for the local stack: jars from Maven Central, one KRaft broker+controller."""

from __future__ import annotations

import base64
import gc
import hashlib
import shutil
import string
import subprocess
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from deploy.cache import LOOPBACK, cache_dir, exclusive, free_ports, port_is_free
from deploy.errors import PortInUseError, ProvisionError, ToolMissingError
from deploy.process import ServerProcess, child_environment, log_tail, say, wait_until
from streams.kafka_admin import broker_ready, ensure_topics, ensure_topics_async, run_blocking

# Newest 4.x whose jars all resolve from Maven Central: 4.4.0's POM names
# org.apache.kafka:kafka-tools-api:4.4.0, which Central does not serve.
KAFKA_VERSION: Final = "4.3.1"
SCALA_BINARY_VERSION: Final = "2.13"
# log4j-core is the version Kafka's own POM brings; the SLF4J 2 binding must match it.
LOG4J_VERSION: Final = "2.25.4"
SLF4J_VERSION: Final = "2.0.17"

_PACKAGE_DIR: Final = Path(__file__).resolve().parent
POM_TEMPLATE: Final = _PACKAGE_DIR / "kafka-pom.xml"
LOG4J_CONFIG: Final = _PACKAGE_DIR / "kafka-log4j2.xml"
_MARKER: Final = ".provisioned"

__all__ = [
    "KAFKA_VERSION",
    "KafkaDistribution",
    "KafkaProcess",
    "SaslListener",
    "broker_ready",
    "ensure_topics",
    "ensure_topics_async",
    "fetch_kafka",
    "new_cluster_id",
    "render_pom",
    "render_server_properties",
    "run_blocking",
]


@dataclass(frozen=True)
class KafkaDistribution:
    """A provisioned Kafka: the jars of one version in `<home>/libs`."""

    home: Path
    version: str = KAFKA_VERSION

    @property
    def libs(self) -> Path:
        """The directory holding every runtime jar."""
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        """The JVM class path: every jar in `libs`."""
        return f"{self.libs}/*"


def render_pom(version: str = KAFKA_VERSION) -> str:
    """Return the POM that pulls the broker jars of `version` and the log4j2 backend.

    Args:
        version: The Kafka version.
    """
    template = string.Template(POM_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        kafka_version=version,
        scala_binary_version=SCALA_BINARY_VERSION,
        log4j_version=LOG4J_VERSION,
        slf4j_version=SLF4J_VERSION,
    )


def _require(tool: str, hint: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise ToolMissingError(tool, hint)
    return found


def fetch_kafka(
    cache: Path | None = None, version: str = KAFKA_VERSION, *, announce_cached: bool = True
) -> KafkaDistribution:
    """Fetch the Kafka broker jars with Maven into the cache, once.

    A marker written after success makes later calls return at once, as long as the
    POM they would fetch is unchanged.

    Args:
        cache: The cache directory; `deploy.cache.cache_dir()` when omitted.
        version: The Kafka version.
        announce_cached: Say that the cache has it (False where provisioning said so).

    Raises:
        ToolMissingError: `java` or `mvn` is not installed.
        ProvisionError: Maven failed; the error shows the end of its log.
    """
    home = (cache or cache_dir()) / f"kafka-{version}"
    with exclusive(home.with_name(f"{home.name}.lock")):
        return _fetch_locked(KafkaDistribution(home, version), announce_cached=announce_cached)


def _fetch_locked(dist: KafkaDistribution, *, announce_cached: bool) -> KafkaDistribution:
    home, version = dist.home, dist.version
    pom = render_pom(version)
    # The marker holds the POM's digest: a changed POM (another log4j, say) fetches again.
    digest = hashlib.sha256(pom.encode("utf-8")).hexdigest()
    marker = home / _MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == digest:
        if announce_cached:
            say(f"Kafka {version}: cached in {home}")
        return dist
    _require("java", "Install a Java 17+ runtime (Debian/Ubuntu: apt-get install openjdk-17-jre).")
    mvn = _require("mvn", "Install Apache Maven 3.8+ (Debian/Ubuntu: apt-get install maven).")
    say(f"Kafka {version}: fetching the broker jars from Maven Central with mvn into {home}")
    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(pom, encoding="utf-8")
    partial = home / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    log_path = home / "mvn.log"
    with log_path.open("w", encoding="utf-8") as log:
        status = subprocess.call(  # noqa: S603 - fixed argv
            [
                mvn,
                "-B",
                "-ntp",
                "-f",
                str(home / "pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if status != 0:
        raise ProvisionError(
            f"fetching Kafka {version} with mvn",
            log_path,
            log_tail(log_path),
            "Check that Maven Central is reachable (proxy settings go in ~/.m2/settings.xml).",
        )
    shutil.rmtree(dist.libs, ignore_errors=True)
    partial.rename(dist.libs)
    marker.write_text(f"{digest}\n", encoding="utf-8")
    jars = len(list(dist.libs.glob("*.jar")))
    say(f"Kafka {version}: {jars} jars ready in {time.monotonic() - started:.1f} s")
    return dist


@dataclass(frozen=True)
class SaslListener:
    """A SASL_SSL listener beside the plaintext one: TLS with one key pair, SCRAM users.

    Attributes:
        keystore_pem: The broker's private key (unencrypted PKCS#8) followed by its
            certificate chain, PEM, in one file.
        users: SCRAM user names and passwords, created when the storage is formatted.
        mechanism: SCRAM-SHA-512 or SCRAM-SHA-256.
        port: The listener's port; a free one when omitted.
    """

    keystore_pem: Path
    users: Mapping[str, str] = field(default_factory=dict)
    mechanism: str = "SCRAM-SHA-512"
    port: int | None = None


def _sasl_settings(listener: SaslListener) -> dict[str, str]:
    mechanism = listener.mechanism.lower()
    prefix = "listener.name.sasl_ssl"
    return {
        "sasl.enabled.mechanisms": listener.mechanism,
        f"{prefix}.{mechanism}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.location": str(listener.keystore_pem),
        f"{prefix}.ssl.client.auth": "none",
    }


def render_server_properties(
    *,
    port: int,
    controller_port: int,
    log_dirs: Path,
    num_partitions: int = 1,
    host: str = LOOPBACK,
    sasl: tuple[int, SaslListener] | None = None,
) -> str:
    """Return server.properties for one combined broker+controller node in KRaft mode.

    The quorum is static (`controller.quorum.voters`): nothing about ports is written
    into the storage, so a data directory can be restarted on other ports.

    Args:
        port: The client (PLAINTEXT) port.
        controller_port: The KRaft controller port.
        log_dirs: Where partitions and the metadata log live.
        num_partitions: Partitions of automatically created topics.
        host: The address to listen on and advertise.
        sasl: A SASL_SSL listener and its port, beside the plaintext one.
    """
    listeners = [f"PLAINTEXT://{host}:{port}"]
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    extra: dict[str, str] = {}
    if sasl is not None:
        listeners.append(f"SASL_SSL://{host}:{sasl[0]}")
        protocols += ",SASL_SSL:SASL_SSL"
        extra = _sasl_settings(sasl[1])
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": ",".join([*listeners, f"CONTROLLER://{host}:{controller_port}"]),
        "advertised.listeners": ",".join(listeners),
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(log_dirs),
        "num.partitions": str(num_partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "168",
        **extra,
    }
    lines = ["# Written by deploy/kafka.py: one KRaft broker+controller on loopback."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _quiet_broker_ready(bootstrap: str) -> bool:
    # aiokafka leaves the socket of a connection the starting broker dropped mid-handshake
    # to the garbage collector (aio-libs/aiokafka#715). Each probe collects its own garbage
    # before it returns, with that warning silenced: an automatic collection in a later
    # probe, or in some later test, would otherwise report it there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return broker_ready(bootstrap)
        finally:
            gc.collect()


def new_cluster_id() -> str:
    """Return a random cluster id in Kafka's form: 16 bytes, URL-safe base64, unpadded."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):  # Kafka avoids ids that look like a command-line flag
            return text


class KafkaProcess:
    """One Kafka broker+controller (KRaft) listening on 127.0.0.1.

    Use as a context manager, or call `start()` and `stop()`. `stop()` then `start()`
    again reuses the data directory and ports.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        log_dir: Path | None = None,
        num_partitions: int = 1,
        heap: tuple[str, str] = ("256m", "1g"),
        distribution: KafkaDistribution | None = None,
        sasl: SaslListener | None = None,
    ) -> None:
        chosen = free_ports(3)
        # Ports picked here may be taken by someone else before the server binds them; such
        # ports are picked again at start, ports the caller named never are.
        self._auto_ports = port is None and controller_port is None
        self._started_once = False
        self.port = port or chosen[0]
        self.controller_port = controller_port or chosen[1]
        self.data_dir = data_dir
        self.log_dir = log_dir or data_dir / "logs"
        self.num_partitions = num_partitions
        self.heap = heap
        self._distribution = distribution
        self._process: ServerProcess | None = None
        self.sasl = sasl
        self.sasl_port = (sasl.port or chosen[2]) if sasl is not None else None

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string, `127.0.0.1:<port>`."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_SSL listener's bootstrap string (with a SASL listener only)."""
        if self.sasl_port is None:
            raise ValueError("this broker has no SASL listener")
        return f"{LOOPBACK}:{self.sasl_port}"

    @property
    def log_path(self) -> Path:
        """The log4j log of the broker."""
        return self.log_dir / "kafka-server.log"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.running

    def _java(self, dist: KafkaDistribution, *args: str, heap: tuple[str, str]) -> list[str]:
        return [
            _require("java", "Install a Java 17+ runtime."),
            f"-Xms{heap[0]}",
            f"-Xmx{heap[1]}",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            dist.classpath,
            *args,
        ]

    def _scram_users(self) -> list[str]:
        # KRaft keeps SCRAM credentials in the metadata log, written when it is formatted.
        if self.sasl is None:
            return []
        args = []
        for name, password in self.sasl.users.items():
            args += ["--add-scram", f"{self.sasl.mechanism}=[name={name},password={password}]"]
        return args

    def _format_storage(self, dist: KafkaDistribution, properties: Path) -> None:
        log_dirs = self.data_dir / "kraft"
        if (log_dirs / "meta.properties").is_file():
            return
        argv = self._java(
            dist,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(properties),
            *self._scram_users(),
            heap=("64m", "256m"),
        )
        # Tiered compilation stops early: the tool runs for a second, C2 would not pay off.
        argv.insert(1, "-XX:TieredStopAtLevel=1")
        out_path = self.log_dir / "kafka-storage-format.log"
        with out_path.open("w", encoding="utf-8") as out:
            status = subprocess.call(  # noqa: S603 - argv built above
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        if status != 0:
            raise ProvisionError(
                "formatting the Kafka storage",
                out_path,
                log_tail(out_path),
                f"Delete {log_dirs} if it holds data of another Kafka version, and retry.",
            )

    def start(self, timeout_s: float = 90.0) -> None:
        """Format the storage if needed, start the broker, wait until it answers metadata.

        Args:
            timeout_s: How long the broker may take to become ready.

        Raises:
            PortInUseError: A port is taken.
            ServerStartError: The broker exited or did not answer in time.
        """
        if self.running:
            return
        if self._auto_ports and not self._started_once:
            while not (port_is_free(self.port) and port_is_free(self.controller_port)):
                self.port, self.controller_port = free_ports(2)
        for port in (self.port, self.controller_port, *self._sasl_ports()):
            if not port_is_free(port):
                raise PortInUseError("Kafka", port, "pass another port, or none to get a free one")
        self._started_once = True
        dist = self._distribution = self._distribution or fetch_kafka()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        properties = self.data_dir / "server.properties"
        properties.write_text(
            render_server_properties(
                port=self.port,
                controller_port=self.controller_port,
                log_dirs=self.data_dir / "kraft",
                num_partitions=self.num_partitions,
                sasl=(self.sasl_port, self.sasl)
                if self.sasl is not None and self.sasl_port is not None
                else None,
            ),
            encoding="utf-8",
        )
        self._format_storage(dist, properties)
        argv = self._java(
            dist,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "kafka.Kafka",
            str(properties),
            heap=self.heap,
        )
        self._process = ServerProcess(
            "Kafka",
            argv,
            env=child_environment({}),
            log_path=self.log_dir / "kafka.out",
            diagnostic_logs=[self.log_path],
        )
        self._process.spawn()
        ready = False
        try:
            wait_until(
                lambda: _quiet_broker_ready(self.bootstrap),
                process=self._process,
                timeout_s=timeout_s,
                interval_s=0.3,
            )
            ready = True
        finally:
            if not ready:
                self.stop()

    def _sasl_ports(self) -> list[int]:
        return [self.sasl_port] if self.sasl_port is not None else []

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop the broker: SIGTERM to its process group, SIGKILL after `grace_s`.

        Args:
            grace_s: How long a clean shutdown may take.
        """
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
