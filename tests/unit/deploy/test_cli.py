import stat
from pathlib import Path

import pytest

from deploy.cli import (
    SPEC_TOPICS,
    service_environment,
    wants_local_kafka,
    wants_local_minio,
)
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
