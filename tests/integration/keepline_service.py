"""A real `keepline serve` process for integration tests, isolated by unique names."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.cache import free_port

ROLES = ("ingest", "qa", "legal", "privacy", "auditor", "admin")
TOKENS = {role: f"tok-{role}" for role in ROLES}
_T = TypeVar("_T")


def token_setting() -> str:
    """KEEPLINE_API_TOKENS with one token per role; the principal is `<role>-user`."""
    return ",".join(f"{tok}:{role}:{role}-user" for role, tok in TOKENS.items())


class KeeplineService:
    """One keepline process with its own topics, bucket, catalog and port."""

    def __init__(
        self,
        *,
        bootstrap: str,
        s3_endpoint: str,
        s3_access_key: str,
        s3_secret_key: str,
        workdir: Path,
        policy_text: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.topics = {
            "calls": f"comms.calls.{self.suffix}",
            "emails": f"comms.emails.{self.suffix}",
            "chats": f"comms.chats.{self.suffix}",
            "consent": f"privacy.consent.{self.suffix}",
            "dlq": f"keepline.dlq.{self.suffix}",
            "audit": f"keepline.audit.{self.suffix}",
            "notices": f"keepline.notices.{self.suffix}",
        }
        self.bucket = f"kl-{self.suffix}"
        self.log_path = workdir / "keepline.log"
        self.env = dict(os.environ)
        self.env.update(
            {
                "KEEPLINE_KAFKA_BOOTSTRAP": bootstrap,
                "KEEPLINE_S3_ENDPOINT": s3_endpoint,
                "KEEPLINE_S3_ACCESS_KEY": s3_access_key,
                "KEEPLINE_S3_SECRET_KEY": s3_secret_key,
                "KEEPLINE_S3_BUCKET": self.bucket,
                "KEEPLINE_DATA_DIR": str(workdir / "data"),
                "KEEPLINE_API_PORT": str(self.port),
                "KEEPLINE_API_TOKENS": token_setting(),
                "KEEPLINE_APP_ID": f"keepline-{self.suffix}",
                "KEEPLINE_TOPIC_CALLS": self.topics["calls"],
                "KEEPLINE_TOPIC_EMAILS": self.topics["emails"],
                "KEEPLINE_TOPIC_CHATS": self.topics["chats"],
                "KEEPLINE_TOPIC_CONSENT": self.topics["consent"],
                "KEEPLINE_TOPIC_DLQ": self.topics["dlq"],
                "KEEPLINE_TOPIC_AUDIT": self.topics["audit"],
                "KEEPLINE_TOPIC_NOTICES": self.topics["notices"],
                "KEEPLINE_TOPIC_PARTITIONS": "2",
                "KEEPLINE_RETRY_MAX_S": "2",
            }
        )
        if policy_text is not None:
            policy_path = workdir / "policy.yaml"
            policy_path.write_text(policy_text, encoding="utf-8")
            self.env["KEEPLINE_POLICY_FILE"] = str(policy_path)
        self.env.update(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._port_retried = False

    # -- process -------------------------------------------------------------------------

    def start(self, timeout_s: float = 90.0) -> None:
        """Start `keepline serve` and wait until /readyz answers 200."""
        self.spawn()
        self.wait_ready(timeout_s)

    def spawn(self) -> None:
        """Start `keepline serve` without waiting for it."""
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "keepline.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self._proc is not None and self._proc.poll() is None

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait until /readyz answers 200 (a port taken meanwhile is picked again, once)."""
        assert self._proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if "address already in use" in self.log_tail(5) and not self._port_retried:
                    # Another process took the free port first: pick another, once.
                    self._port_retried = True
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
                    self.env["KEEPLINE_API_PORT"] = str(self.port)
                    self.start(timeout_s)
                    return
                raise RuntimeError(f"keepline exited {self._proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"keepline not ready in {timeout_s}s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, no clean-up: a crash."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        """The end of the service's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- HTTP ----------------------------------------------------------------------------

    def client(self, role: str | None = None) -> httpx.Client:
        """An HTTP client with the token of role (none: unauthenticated)."""
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    # -- Kafka ---------------------------------------------------------------------------

    def publish(self, kind: str, value: bytes | Mapping[str, Any], key: bytes = b"k") -> None:
        """Publish one message to this service's topic of kind (calls, emails, …)."""
        data = value if isinstance(value, bytes) else json.dumps(value).encode()

        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(self.topics[kind], data, key=key)
            finally:
                await producer.stop()

        asyncio.run(send())

    def read_topic(
        self,
        kind: str,
        *,
        expect: int,
        timeout_s: float = 30.0,
        where: Callable[[Any], bool] | None = None,
    ) -> list[Any]:
        """Read at least expect JSON messages of a topic (from the beginning), or until the
        timeout; with `where`, only the messages it accepts are kept and counted."""

        async def read() -> list[Any]:
            consumer = AIOKafkaConsumer(
                self.topics[kind],
                bootstrap_servers=self.bootstrap,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                group_id=None,
            )
            await consumer.start()
            found: list[Any] = []
            try:
                deadline = time.monotonic() + timeout_s
                while len(found) < expect and time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        values = (json.loads(r.value) for r in records if r.value)
                        found.extend(v for v in values if where is None or where(v))
            finally:
                await consumer.stop()
            return found

        return asyncio.run(read())

    def end_offsets(self, kind: str) -> dict[int, int]:
        """The end offset of each partition of a topic (the offset its next message gets)."""

        async def read() -> dict[int, int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
            await admin.start()
            await consumer.start()
            try:
                (topic,) = await admin.describe_topics([self.topics[kind]])
                # A topic nobody created yet (an error code instead) holds no messages.
                parts = [
                    TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
                ]
                ends = await consumer.end_offsets(parts) if parts else {}
            finally:
                await consumer.stop()
                await admin.close()
            return {tp.partition: offset for tp, offset in ends.items()}

        return asyncio.run(read())

    def read_to_end(self, kind: str, timeout_s: float = 30.0) -> list[Any]:
        """Every JSON message of a topic up to its end offsets as they are now."""
        ends = self.end_offsets(kind)
        return self.read_topic(kind, expect=sum(ends.values()), timeout_s=timeout_s)


def wait_for(check: Callable[[], _T | None], *, timeout_s: float = 30.0, what: str = "") -> _T:
    """Poll check until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or check}")
        time.sleep(0.25)
