"""Settings of the streams context: Kafka, topics, fetching and concurrency."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol
from streams.sources import ContentSources


class StreamSettings(BaseSettings):
    """How keepline reads and writes Kafka."""

    # Errors never echo what was given: a bad setting may sit beside a password.
    model_config = SettingsConfigDict(
        env_prefix="KEEPLINE_", extra="ignore", hide_input_in_errors=True
    )

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    app_id: str = Field(default="keepline", description="Kafka consumer group of the workers.")
    topic_calls: str = Field(default="comms.calls", description="Call-recording events.")
    topic_emails: str = Field(default="comms.emails", description="E-mail events.")
    topic_chats: str = Field(default="comms.chats", description="Chat events.")
    topic_consent: str = Field(default="privacy.consent", description="Consent events.")
    topic_dlq: str = Field(default="keepline.dlq", description="Dead letters.")
    topic_audit: str = Field(default="keepline.audit", description="Audit entries for a SIEM.")
    topic_notices: str = Field(
        default="keepline.notices",
        description="Notices the privacy team owes (restriction lifting, recipients to inform).",
    )
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of created topics.")
    allow_file_uris: bool = Field(
        default=False, description="Accept file:// content references (operator opt-in)."
    )
    fetch_timeout_s: float = Field(default=30.0, gt=0, description="Per-read fetch timeout.")
    content_sources: str = Field(
        default="",
        description="Comma-separated origins content may be fetched from: http://host:port, "
        "https://host[:port] (exact scheme, host and port) and s3://bucket (on the S3 "
        "endpoint, never keepline's own bucket). Nothing else is fetched (content_forbidden). "
        "A host whose addresses are loopback, link-local, private or otherwise not public "
        "is refused unless each such address is listed too (e.g. http://127.0.0.1:8099).",
    )
    content_s3_access_key: str | None = Field(
        default=None,
        description="Access key for s3:// content sources (read-only; never keepline's own). "
        "Unset: s3 sources are read anonymously.",
    )
    content_s3_secret_key: SecretStr | None = Field(
        default=None, description="Secret key for s3:// content sources."
    )
    file_uri_root: Path | None = Field(
        default=None,
        description="The only directory file:// content may come from (regular files under "
        "it). Unset: file URIs are refused even with KEEPLINE_ALLOW_FILE_URIS=1.",
    )
    fetch_deadline_s: float = Field(
        default=1800.0,
        gt=0,
        description="The longest one whole content fetch may take; a slower source is "
        "dead-lettered as content_missing.",
    )
    fetch_max_bytes: int = Field(
        default=8 << 30,
        gt=0,
        description="The most bytes one content fetch may deliver, whatever size_bytes says.",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="Content uploads at once per worker (memory bound)."
    )
    max_in_flight: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Events processed at once per worker (content uploads are bounded "
        "separately by KEEPLINE_CONCURRENCY; metadata-only events in flight fill the batches).",
    )
    ack_window: int = Field(
        default=10_000,
        ge=1,
        description="Most events outstanding per consumer at once: running, or finished and "
        "waiting for an earlier event of their partition (acknowledgements reach Kafka in "
        "offset order). Bounds memory and the redelivery after a crash.",
    )
    max_batch: int = Field(
        default=500, ge=1, description="Most metadata-only events written per transaction."
    )
    content_unavailable_deadline_s: float = Field(
        default=900.0,
        gt=0,
        description="How long an unreachable content source is retried before the event is "
        "dead-lettered as content_missing.",
    )
    session_timeout_s: float = Field(
        default=15.0,
        ge=6,
        description="Kafka consumer session timeout: how soon the partitions of a worker that "
        "died are handed to the others (heartbeats run beside processing, so slow items are "
        "not a reason to raise it).",
    )
    stale_claim_after_s: float = Field(
        default=600.0,
        gt=0,
        description="A pending claim no attempt touched for this long counts as stale "
        "(keepline_stale_pending_claims; keepline reconcile reports them).",
    )
    lag_interval_s: float = Field(
        default=5.0, gt=0, description="How often the consumer lag gauge is refreshed."
    )
    retry_initial_s: float = Field(default=0.5, gt=0, description="First retry backoff.")
    retry_max_s: float = Field(default=15.0, gt=0, description="Longest retry backoff.")
    sweep_interval_s: float = Field(default=60.0, gt=0, description="Retention sweep interval.")
    worker_web_port: int = Field(default=0, ge=0, description="Faust's own web port (0: disabled).")

    kafka_security_protocol: SecurityProtocol = Field(
        default=SecurityProtocol.PLAINTEXT,
        description="How every Kafka client connects: PLAINTEXT (the local stack), SSL, "
        "SASL_PLAINTEXT or SASL_SSL (TLS with a user name and password; what production uses).",
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (with SASL_*)."
    )
    kafka_sasl_username: str | None = Field(default=None, description="The SASL user.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="The SASL user's password."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA certificates (PEM) the broker's certificate must chain to; unset: the "
        "system trust store. The broker's host name is always verified.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="A client certificate (PEM), for brokers requiring mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="The client certificate's private key (PEM)."
    )
    kafka_ssl_keyfile_password: SecretStr | None = Field(
        default=None, description="The private key's password, when it is encrypted."
    )

    def kafka_security(self) -> KafkaSecurity:
        """How every Kafka client of this process connects."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            cafile=self.kafka_ssl_cafile,
            certfile=self.kafka_ssl_certfile,
            keyfile=self.kafka_ssl_keyfile,
            keyfile_password=self.kafka_ssl_keyfile_password,
        )

    @model_validator(mode="after")
    def _usable_kafka_security(self) -> StreamSettings:
        problems = self.kafka_security().problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("content_sources")
    @classmethod
    def _parse_sources(cls, value: str) -> str:
        ContentSources.parse(value)  # raises ValueError naming the bad entry
        return value
