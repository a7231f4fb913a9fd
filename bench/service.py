"""A `keepline serve` process under test, with its own topics, bucket, catalog and port."""

from __future__ import annotations

import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

from bench.errors import MeasurementError, ServiceExitedError, WaitTimeoutError
from bench.probes import counter_by_label, counter_total, process_memory_bytes
from bench.stack import Stack
from deploy.cache import free_port
from deploy.process import ServerProcess, child_environment, log_tail

ROLES = ("ingest", "qa", "legal", "privacy", "auditor", "admin")
TOPIC_KINDS = ("calls", "emails", "chats", "consent", "dlq", "audit")


class KeeplineProcess:
    """One `python -m keepline.cli serve`; the process is the one whose memory is measured.

    Args:
        name: A short label (used in its directory name).
        stack: The Kafka and MinIO it uses.
        workdir: Its data directory, key ring, policy file and log go here.
        policy_text: The policy YAML; keepline's example policy when None.
        env: Further KEEPLINE_* settings.
        content_sources: Origins it may fetch content from (KEEPLINE_CONTENT_SOURCES).
    """

    def __init__(
        self,
        *,
        name: str,
        stack: Stack,
        workdir: Path,
        policy_text: str | None = None,
        env: Mapping[str, str] | None = None,
        content_sources: Iterable[str] = (),
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.topics = {kind: f"bench.{kind}.{suffix}" for kind in TOPIC_KINDS}
        self.bucket = f"bench-{name}-{suffix}"
        self._tokens = {role: secrets.token_urlsafe(16) for role in ROLES}
        settings = {
            "KEEPLINE_KAFKA_BOOTSTRAP": stack.bootstrap,
            "KEEPLINE_S3_ENDPOINT": stack.minio.url,
            "KEEPLINE_S3_ACCESS_KEY": stack.minio.access_key,
            "KEEPLINE_S3_SECRET_KEY": stack.minio.secret_key,
            "KEEPLINE_S3_BUCKET": self.bucket,
            "KEEPLINE_DATA_DIR": str(workdir / "data"),
            "KEEPLINE_API_PORT": str(self.port),
            "KEEPLINE_API_TOKENS": ",".join(
                f"{token}:{role}:bench-{role}" for role, token in self._tokens.items()
            ),
            "KEEPLINE_APP_ID": f"keepline-bench-{suffix}",
            "KEEPLINE_TOPIC_PARTITIONS": "4",
            "KEEPLINE_CONTENT_SOURCES": ",".join(content_sources),
            **{f"KEEPLINE_TOPIC_{kind.upper()}": topic for kind, topic in self.topics.items()},
        }
        catalog_url = stack.catalog.catalog_url(f"{name}_{suffix}")
        if catalog_url is not None:
            settings["KEEPLINE_CATALOG_URL"] = catalog_url
        if policy_text is not None:
            policy_path = workdir / "policy.yaml"
            policy_path.write_text(policy_text, encoding="utf-8")
            settings["KEEPLINE_POLICY_FILE"] = str(policy_path)
        settings.update(env or {})
        #: Its KEEPLINE_* settings, for a command run on its catalog (e.g. `keepline sweep`).
        self.settings: dict[str, str] = dict(settings)
        self.log_path = workdir / "keepline.log"
        self._process = ServerProcess(
            "keepline",
            [sys.executable, "-m", "keepline.cli", "serve"],
            env=child_environment(settings),
            log_path=self.log_path,
        )

    @property
    def pid(self) -> int:
        """The serve process's id.

        Raises:
            ServiceExitedError: It is not running.
        """
        self.check_alive()
        pid = self._process.pid
        assert pid is not None  # running implies started
        return pid

    def start(self, timeout_s: float = 120.0) -> None:
        """Start it and wait until /readyz answers 200 (Kafka, S3 and catalog reachable).

        Raises:
            ServiceExitedError: It exited while starting.
            WaitTimeoutError: It was not ready in time.
        """
        self._process.spawn()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == httpx.codes.OK:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise WaitTimeoutError("keepline to be ready", timeout_s, self.log_tail(5))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within 30 s."""
        self._process.stop(30.0)

    def check_alive(self) -> None:
        """Raise if the process is not running.

        Raises:
            ServiceExitedError: With its exit status and the end of its log.
        """
        if not self._process.running:
            raise ServiceExitedError(self._process.returncode, self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        """The end of its log."""
        return log_tail(self.log_path, lines)

    def client(self, role: str, timeout_s: float = 60.0) -> httpx.Client:
        """An HTTP client with the bearer token of role."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self._tokens[role]}"},
            timeout=timeout_s,
        )

    def metrics_text(self) -> str:
        """GET /metrics."""
        response = httpx.get(f"{self.url}/metrics", timeout=30)
        response.raise_for_status()
        return response.text

    def stored(self, types: Iterable[str]) -> int:
        """Items stored so far (keepline_items_stored_total) of the given types."""
        text = self.metrics_text()
        return int(sum(counter_total(text, "keepline_items_stored", {"type": t}) for t in types))

    def stored_bytes(self) -> int:
        """Plaintext bytes stored so far (keepline_bytes_stored_total)."""
        return int(counter_total(self.metrics_text(), "keepline_bytes_stored"))

    def dead_letters(self) -> dict[str, float]:
        """Dead letters so far, per reason."""
        return counter_by_label(self.metrics_text(), "keepline_dead_letters", "reason")

    def memory_bytes(self, field: str) -> int:
        """VmHWM (the peak resident set so far) or VmRSS of the process, in bytes."""
        return process_memory_bytes(self.pid, field)

    def wait_stored(
        self,
        types: Iterable[str],
        target: int,
        *,
        timeout_s: float,
        letters_before: float,
        interval_s: float = 0.1,
        on_poll: Callable[[], None] | None = None,
    ) -> float:
        """Poll until at least target items of types are stored; the time.monotonic() then.

        Args:
            types: Item types counted (``call_recording``, ``email``, ``chat``).
            target: The count of stored items (since the process started) to wait for.
            timeout_s: How long to wait.
            letters_before: Dead letters counted before the bench published; more is a
                failure.
            interval_s: Pause between polls of /metrics.
            on_poll: Called at every poll (e.g. to sample memory).

        Raises:
            MeasurementError: An event of the bench was dead-lettered instead.
            ServiceExitedError: The process exited.
            WaitTimeoutError: Not all were stored in time.
        """
        kinds = tuple(types)
        deadline = time.monotonic() + timeout_s
        count = 0
        while True:
            self.check_alive()
            if on_poll is not None:
                on_poll()
            text = self.metrics_text()
            now = time.monotonic()
            count = int(
                sum(counter_total(text, "keepline_items_stored", {"type": t}) for t in kinds)
            )
            if count >= target:
                return now
            letters = counter_by_label(text, "keepline_dead_letters", "reason")
            if sum(letters.values()) > letters_before:
                raise MeasurementError(f"events were dead-lettered: {letters}")
            if now > deadline:
                raise WaitTimeoutError(
                    f"{target} stored {'/'.join(kinds)} items", timeout_s, f"{count} so far"
                )
            time.sleep(interval_s)
