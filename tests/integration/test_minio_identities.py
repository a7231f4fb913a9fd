"""Least privilege on real MinIO: the identity that keeps cannot destroy, the one that
destroys cannot read, and neither reaches another bucket."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio
from minio.error import S3Error
from pydantic import SecretStr

from deploy.minio import MinioProcess
from deploy.minio_iam import Identity, create_identities
from storage.errors import ObjectStoreError
from storage.models import object_key_for
from storage.objects.minio_store import MinioObjectStore
from storage.settings import StorageSettings
from tests.integration.keepline_service import KeeplineService
from tests.integration.retention_support import POLICY, artefact, ingest, object_versions


def _identity(name: str) -> Identity:
    return Identity(f"{name}-{secrets.token_hex(3)}", secrets.token_urlsafe(18))


def _client(minio: MinioProcess, who: Identity) -> Minio:
    return Minio(minio.endpoint, access_key=who.access_key, secret_key=who.secret_key, secure=False)


def _root(minio: MinioProcess) -> Identity:
    return Identity(minio.access_key, minio.secret_key)


def test_keeping_and_destroying_are_separate_identities(
    minio: MinioProcess, bucket_factory: Callable[..., str]
) -> None:
    bucket, elsewhere = bucket_factory("iam"), bucket_factory("other")
    keeper, destroyer = _identity("keeper"), _identity("destroyer")
    create_identities(minio.url, _root(minio), bucket, keeper=keeper, destroyer=destroyer)
    create_identities(minio.url, _root(minio), bucket, keeper=keeper, destroyer=destroyer)

    settings = StorageSettings(
        s3_endpoint=minio.url,
        s3_access_key=keeper.access_key,
        s3_secret_key=SecretStr(keeper.secret_key),
        s3_bucket=bucket,
    )
    keeping_only = MinioObjectStore(settings)
    keeping_only.ensure_bucket()  # the bucket exists: a HEAD is all the keeper needs
    keeping_only.put_stream(
        "items/x1", io.BytesIO(b"ciphertext"), content_type="application/octet-stream", tags={}
    )
    [version] = keeping_only.versions("items/x1")
    until = datetime.now(UTC) + timedelta(days=1)
    keeping_only.set_retention("items/x1", version.version_id, until=until)
    keeping_only.set_legal_hold("items/x1", version.version_id, on=False)

    with pytest.raises(ObjectStoreError, match="AccessDenied"):
        keeping_only.delete_versions([version], bypass_governance=True)
    with pytest.raises(S3Error) as refused:  # not even past an expired lock, nor unversioned
        _client(minio, keeper).remove_object(bucket, "items/x1", version_id=version.version_id)
    assert refused.value.code == "AccessDenied"

    with pytest.raises(S3Error) as unread:  # the destroyer reads nothing
        _client(minio, destroyer).get_object(bucket, "items/x1")
    assert unread.value.code == "AccessDenied"
    for who in (keeper, destroyer):  # nor does either reach another bucket
        with pytest.raises(S3Error) as outside:
            list(_client(minio, who).list_objects(elsewhere))
        assert outside.value.code == "AccessDenied"

    both = MinioObjectStore(
        settings.model_copy(
            update={
                "s3_destroy_access_key": destroyer.access_key,
                "s3_destroy_secret_key": SecretStr(destroyer.secret_key),
            }
        )
    )
    assert both.versions("items/x1") == [version]
    both.delete_versions([version], bypass_governance=True)  # governance retention bypassed
    assert both.versions("items/x1") == []


def test_keepline_runs_and_erases_with_the_two_identities(
    minio: MinioProcess,
    minio_client: Minio,
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    keeper, destroyer = _identity("keeper"), _identity("destroyer")
    service = keepline_factory(
        run=False,
        policy_text=POLICY,  # chats kept on legitimate interests only: erasure destroys them
        env={
            "KEEPLINE_S3_ACCESS_KEY": keeper.access_key,
            "KEEPLINE_S3_SECRET_KEY": keeper.secret_key,
            "KEEPLINE_S3_DESTROY_ACCESS_KEY": destroyer.access_key,
            "KEEPLINE_S3_DESTROY_SECRET_KEY": destroyer.secret_key,
            "KEEPLINE_OBJECT_LOCK_MODE": "GOVERNANCE",
        },
    )
    create_identities(minio.url, _root(minio), service.bucket, keeper=keeper, destroyer=destroyer)
    service.start()
    text = b"least privilege"
    item = ingest(service, artefact("chat", subject="cust-iam", data=text))
    [version] = object_versions(minio_client, service, item["item_id"])
    with pytest.raises(S3Error) as refused:  # what keepline runs with cannot delete it
        _client(minio, keeper).remove_object(
            service.bucket, object_key_for(item["item_id"]), version_id=version.version_id
        )
    assert refused.value.code == "AccessDenied"
    with service.client("legal") as legal:
        assert legal.get(f"/v1/items/{item['item_id']}/content").content == text
    with service.client("privacy") as privacy:
        erased = privacy.post("/v1/subjects/cust-iam/erasure")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] == [item["item_id"]], erased.text
    assert object_versions(minio_client, service, item["item_id"]) == []
