"""Settings of the storage context: object store, catalog and key ring."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    """Where keepline keeps ciphertext, the catalog and the key-encryption keys."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".data"),
        description="Local state: the SQLite catalog and, by default, the key ring.",
    )
    s3_endpoint: str = Field(
        default="http://127.0.0.1:9000",
        description="S3 endpoint URL (scheme, host, port) of the object store.",
    )
    s3_access_key: str = Field(default="keepline", description="S3 access key id.")
    s3_secret_key: SecretStr = Field(
        default=SecretStr("keepline-local-secret"), description="S3 secret access key."
    )
    s3_bucket: str = Field(
        default="keepline", description="Bucket for ciphertext; created with Object Lock."
    )
    s3_region: str | None = Field(default=None, description="S3 region, if the store needs one.")
    s3_destroy_access_key: str | None = Field(
        default=None,
        description="The S3 identity that removes object versions under governance retention "
        "(the sweeper, erasure, reconcile, the clean-up of an interrupted upload): the only one "
        "that needs s3:BypassGovernanceRetention. Unset: the main identity does it.",
    )
    s3_destroy_secret_key: SecretStr | None = Field(
        default=None, description="The secret key of the destroying identity."
    )
    object_store: Literal["minio", "filesystem"] = Field(
        default="minio",
        description="Where ciphertext lives: an S3 store with Object Lock (MinIO, or any S3 "
        "endpoint), or a directory under data_dir for development and tests.",
    )
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description="S3 Object Lock mode for purposes marked worm: true.",
    )
    catalog_url: str | None = Field(
        default=None,
        description="Catalog database: sqlite:///path or postgresql://...; "
        "default a SQLite file under data_dir.",
    )
    keyring_file: Path | None = Field(
        default=None,
        description="Key-encryption key ring (JSON, mode 0600); "
        "default data_dir/keys/keyring.json.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 keys that sign productions, disposal certificates and audit "
        "checkpoints (JSON, mode 0600; never in the catalog); default "
        "data_dir/keys/signing-keys.json.",
    )
    segment_size_bytes: int = Field(
        default=1 << 20, ge=16, description="Plaintext bytes per encrypted segment."
    )
    part_size_bytes: int = Field(
        default=5 << 20, ge=5 << 20, description="Multipart upload part size."
    )

    audit_checkpoint_every_s: float = Field(
        default=300.0,
        gt=0,
        description="Sign a checkpoint of the audit chain head at least this often (seconds) "
        "while new entries arrive.",
    )
    audit_checkpoint_every_entries: int = Field(
        default=1000,
        ge=1,
        description="Sign a checkpoint as soon as this many entries follow the last one.",
    )

    def resolved_catalog_url(self) -> str:
        """The SQLAlchemy async URL of the catalog."""
        url = self.catalog_url or f"sqlite:///{(self.data_dir / 'keepline.db').resolve()}"
        for prefix, driver in (
            ("sqlite:", "sqlite+aiosqlite:"),
            ("postgresql:", "postgresql+asyncpg:"),
            ("postgres:", "postgresql+asyncpg:"),
        ):
            if url.startswith(prefix):
                return driver + url[len(prefix) :]
        return url

    def resolved_keyring_file(self) -> Path:
        """Path of the key ring file."""
        return self.keyring_file or self.data_dir / "keys" / "keyring.json"

    def resolved_signing_key_file(self) -> Path:
        """Path of the signing key file."""
        return self.signing_key_file or self.data_dir / "keys" / "signing-keys.json"
