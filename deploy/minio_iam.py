"""Least-privilege S3 identities on the local MinIO: one that keeps, one that destroys.

keepline's main identity stores, reads, tags and locks objects and can delete nothing; the
destroying identity (`KEEPLINE_S3_DESTROY_ACCESS_KEY`) removes object versions under
governance retention and can read nothing. Neither is MinIO's root user, which only creates
them and the bucket.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from minio import Minio
from minio.credentials.providers import StaticProvider
from minio.minioadmin import MinioAdmin
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.errors import DeployError

#: What keepline's main identity may do: everything but deleting and bypassing retention.
KEEP_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketVersioning",
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:PutObjectRetention",
    "s3:GetObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:GetObjectLegalHold",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
)
#: What the destroying identity may do: remove versions, past governance retention.
DESTROY_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
)


class IdentityError(DeployError):
    """MinIO refused to create a user or a policy."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(
            f"creating {what} on MinIO failed: {detail}; check that the MinIO root "
            "credentials are the ones the server was started with"
        )


@dataclass(frozen=True)
class Identity:
    """An S3 user: access key and secret key."""

    access_key: str
    secret_key: str


def bucket_policy(bucket: str, actions: tuple[str, ...]) -> dict[str, Any]:
    """An IAM policy allowing `actions` on `bucket` and its objects only."""
    bucket_actions = [a for a in actions if "Bucket" in a or a == "s3:ListBucket"]
    object_actions = [a for a in actions if a not in bucket_actions]
    statements = [
        {
            "Effect": "Allow",
            "Action": bucket_actions,
            "Resource": [f"arn:aws:s3:::{bucket}"],
        }
    ]
    if object_actions:
        statements.append(
            {"Effect": "Allow", "Action": object_actions, "Resource": [f"arn:aws:s3:::{bucket}/*"]}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def create_identities(
    endpoint: str,
    root: Identity,
    bucket: str,
    *,
    keeper: Identity,
    destroyer: Identity,
) -> None:
    """Create the bucket (with Object Lock) and the two users with their policies (idempotent).

    Args:
        endpoint: MinIO's URL, `http://127.0.0.1:9000`.
        root: MinIO's root user, which only does this.
        bucket: keepline's bucket.
        keeper: keepline's main identity (KEEPLINE_S3_ACCESS_KEY).
        destroyer: the destroying identity (KEEPLINE_S3_DESTROY_ACCESS_KEY).

    Raises:
        IdentityError: MinIO refused.
    """
    parts = urlsplit(endpoint)
    secure = parts.scheme == "https"
    client = Minio(
        parts.netloc, access_key=root.access_key, secret_key=root.secret_key, secure=secure
    )
    admin = MinioAdmin(
        endpoint=parts.netloc,
        credentials=StaticProvider(root.access_key, root.secret_key),
        secure=secure,
    )
    try:
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket, object_lock=True)
    except Exception as err:  # the edge of a set-up step: say which step failed
        raise IdentityError(f"the bucket {bucket}", type(err).__name__) from err
    for name, identity, actions in (
        ("keepline-keep", keeper, KEEP_ACTIONS),
        ("keepline-destroy", destroyer, DESTROY_ACTIONS),
    ):
        policy = f"{name}-{bucket}"
        try:
            admin.policy_add(policy, policy=bucket_policy(bucket, actions))
            admin.user_add(identity.access_key, identity.secret_key)
            admin.policy_set(policy, user=identity.access_key)
        except Exception as err:  # the edge of a set-up step: say which step failed
            raise IdentityError(f"the user {identity.access_key}", str(err)[:200]) from err


@dataclass(frozen=True)
class LocalIdentities:
    """The three users of the local MinIO of `make run`."""

    root: Identity
    keeper: Identity
    destroyer: Identity


ROOT_USER = "keepline-root"
DESTROYER_USER = "keepline-destroy"


def local_identities(secrets_file: Path, keeper: Identity) -> LocalIdentities:
    """The root and destroying users' secrets, made once and kept in `secrets_file` (0600).

    keepline's own identity is the one its settings name (KEEPLINE_S3_ACCESS_KEY and
    KEEPLINE_S3_SECRET_KEY); the other two have secrets no document shows.
    """
    if secrets_file.is_file():
        stored = json.loads(secrets_file.read_text(encoding="utf-8"))
    else:
        stored = {"root": secrets.token_urlsafe(24), "destroyer": secrets.token_urlsafe(24)}
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
    return LocalIdentities(
        root=Identity(ROOT_USER, stored["root"]),
        keeper=keeper,
        destroyer=Identity(DESTROYER_USER, stored["destroyer"]),
    )


class UsersSettings(BaseSettings):
    """What `python -m deploy.minio_iam` needs: MinIO's root user and the two to create.

    The root credentials are MinIO's own variables (`MINIO_ROOT_USER`,
    `MINIO_ROOT_PASSWORD`); the rest are keepline's settings of the same name.
    """

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    root_user: str = Field(
        validation_alias="MINIO_ROOT_USER", description="MinIO's root user (creates only)."
    )
    root_password: SecretStr = Field(
        validation_alias="MINIO_ROOT_PASSWORD", description="MinIO's root password."
    )
    s3_endpoint: str = Field(default="http://127.0.0.1:9000", description="MinIO's URL.")
    s3_bucket: str = Field(default="keepline", description="keepline's bucket.")
    s3_access_key: str = Field(default="keepline", description="keepline's own user.")
    s3_secret_key: SecretStr = Field(description="Its secret key.")
    s3_destroy_access_key: str = Field(default=DESTROYER_USER, description="The destroying user.")
    s3_destroy_secret_key: SecretStr = Field(description="Its secret key.")


def main() -> int:
    """Create the bucket and keepline's two users (a one-shot step of docker-compose.yml)."""
    settings = UsersSettings()
    create_identities(
        settings.s3_endpoint,
        Identity(settings.root_user, settings.root_password.get_secret_value()),
        settings.s3_bucket,
        keeper=Identity(settings.s3_access_key, settings.s3_secret_key.get_secret_value()),
        destroyer=Identity(
            settings.s3_destroy_access_key, settings.s3_destroy_secret_key.get_secret_value()
        ),
    )
    print(
        f"MinIO users ready: {settings.s3_access_key} (keeps; deletes nothing), "
        f"{settings.s3_destroy_access_key} (destroys; reads nothing), bucket {settings.s3_bucket}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
