import hashlib
import stat
from pathlib import Path

import pytest

from deploy import cli
from deploy.cli import (
    SPEC_TOPICS,
    service_environment,
    wants_local_kafka,
    wants_local_minio,
)
from deploy.kafka import KAFKA_VERSION, fetch_kafka, render_pom
from deploy.minio import build_minio, minio_home
from deploy.settings import DeploySettings


def test_spec_topics() -> None:
    assert set(SPEC_TOPICS) == {
        "comms.calls",
        "comms.emails",
        "comms.chats",
        "privacy.consent",
        "keepline.dlq",
        "keepline.audit",
    }


@pytest.mark.parametrize(
    ("bootstrap", "local"),
    [("127.0.0.1:9092", True), ("localhost:9092", True), ("kafka.example:9092", False)],
)
def test_local_kafka_only_for_the_default_bootstrap(bootstrap: str, local: bool) -> None:
    assert wants_local_kafka(DeploySettings(kafka_bootstrap=bootstrap)) is local


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("http://127.0.0.1:9000", True),
        ("http://localhost:9000/", True),
        ("https://s3.example.com", False),
        ("http://127.0.0.1:9100", False),
    ],
)
def test_local_minio_only_for_the_default_endpoint(endpoint: str, local: bool) -> None:
    assert wants_local_minio(DeploySettings(s3_endpoint=endpoint)) is local


def test_service_gets_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KAFKA_BOOTSTRAP", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        monkeypatch.delenv(f"KEEPLINE_{name}", raising=False)
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    env = service_environment(DeploySettings())
    destroy_secret = env.pop("KEEPLINE_S3_DESTROY_SECRET_KEY")
    assert env == {
        "KEEPLINE_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "KEEPLINE_S3_ENDPOINT": "http://127.0.0.1:9000",
        "KEEPLINE_S3_ACCESS_KEY": "keepline",
        "KEEPLINE_S3_SECRET_KEY": "keepline-local-secret",
        "KEEPLINE_S3_DESTROY_ACCESS_KEY": "keepline-destroy",
    }
    assert len(destroy_secret) >= 24  # made once for this data directory, shown nowhere
    assert service_environment(DeploySettings())["KEEPLINE_S3_DESTROY_SECRET_KEY"] == (
        destroy_secret
    )
    assert stat.S_IMODE((tmp_path / "minio-identities.json").stat().st_mode) == 0o600


def test_another_object_store_gets_no_local_users(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    env = service_environment(DeploySettings(s3_endpoint="https://s3.example.com"))
    assert "KEEPLINE_S3_DESTROY_ACCESS_KEY" not in env
    assert not (tmp_path / "minio-identities.json").exists()


def test_user_values_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_S3_ACCESS_KEY", "someone")
    monkeypatch.setenv("KEEPLINE_KAFKA_BOOTSTRAP", "broker:9092")
    env = service_environment(DeploySettings())
    assert env["KEEPLINE_S3_ACCESS_KEY"] == "someone"
    assert env["KEEPLINE_KAFKA_BOOTSTRAP"] == "broker:9092"


class _Server:
    """A Kafka or MinIO process that starts at once (the cache is what is tested)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        del args, kwargs
        self.running = False
        self.bootstrap = self.url = "127.0.0.1:1"

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def _cached_stack(tmp_path: Path) -> None:
    """A cache holding the pinned Kafka (its marker) and a MinIO binary that runs."""
    home = tmp_path / f"kafka-{KAFKA_VERSION}"
    (home / "libs").mkdir(parents=True)
    digest = hashlib.sha256(render_pom().encode()).hexdigest()
    (home / ".provisioned").write_text(digest + "\n")
    binary = minio_home(tmp_path) / "bin" / "minio"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho 'minio version test'\n")
    binary.chmod(0o755)


def test_make_run_announces_the_cached_servers_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cached_stack(tmp_path)
    monkeypatch.setenv("PATH", "/bin:/usr/bin")
    for name in ("KafkaProcess", "MinioProcess"):
        monkeypatch.setattr(cli, name, _Server)
    monkeypatch.setattr(cli, "_check_ports", lambda stack: None)
    monkeypatch.setattr(cli, "ensure_topics", lambda *args: None)
    created: list[str] = []
    monkeypatch.setattr(cli, "create_identities", lambda *args, **kw: created.append(args[2]))
    settings = DeploySettings(cache_dir=tmp_path, data_dir=tmp_path / "data")

    # `make stack`, then `python -m deploy run`: as `make run` does.
    fetch_kafka(tmp_path)
    build_minio(tmp_path)
    cli._start_servers(settings, cli._Stack(), tmp_path / "logs")

    lines = capsys.readouterr().err.splitlines()
    assert sum(f"Kafka {KAFKA_VERSION}: cached" in line for line in lines) == 1
    assert sum("MinIO" in line and "cached" in line for line in lines) == 1
    assert any("topics ready" in line for line in lines)
    assert created == ["keepline"]  # the least-privilege users of keepline's bucket
