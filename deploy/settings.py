"""Settings of the local stack, read from `KEEPLINE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_S3_ENDPOINT = "http://127.0.0.1:9000"


class DeploySettings(BaseSettings):
    """Where the stack keeps its files and how keepline reaches Kafka and MinIO.

    `python -m deploy run` starts a local Kafka only while `kafka_bootstrap` is the
    default, and a local MinIO only while `s3_endpoint` is the default; otherwise it
    uses the servers those settings point to.
    """

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    cache_dir: Path | None = Field(
        default=None,
        description="Where the Kafka jars and the MinIO binary are kept; "
        "default: `.cache/` at the repository root.",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Where `python -m deploy run` keeps Kafka and MinIO data and the logs; "
        "default: `.data/` at the repository root.",
    )
    kafka_bootstrap: str = Field(
        default=DEFAULT_KAFKA_BOOTSTRAP,
        description="Kafka bootstrap servers keepline connects to (host:port).",
    )
    topic_partitions: int = Field(
        default=4,
        ge=1,
        description="Partitions of the SPEC topics `python -m deploy run` creates "
        "(the same variable the stream workers read).",
    )
    s3_endpoint: str = Field(
        default=DEFAULT_S3_ENDPOINT,
        description="URL of the S3-compatible object store keepline uses.",
    )
    s3_access_key: str = Field(
        default="keepline",
        description="S3 access key keepline runs with; on the local stack a MinIO user that "
        "stores, reads and locks objects but deletes nothing.",
    )
    s3_secret_key: SecretStr = Field(
        default=SecretStr("keepline-local-secret"),
        description="S3 secret key keepline runs with (at least 8 characters).",
    )
    s3_bucket: str = Field(
        default="keepline", description="keepline's bucket, made with Object Lock by `run`."
    )
