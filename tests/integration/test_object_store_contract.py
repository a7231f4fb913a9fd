"""The ObjectStore contract on MinioObjectStore, against the real MinIO."""

from __future__ import annotations

from typing import Any

import pytest
from minio import Minio
from pydantic import SecretStr

from deploy.minio import MinioProcess
from storage.objects.minio_store import MinioObjectStore
from storage.settings import StorageSettings
from tests.integration.conftest import BucketFactory
from tests.object_store_contract import ObjectStoreContract


@pytest.fixture
def store(minio: MinioProcess, bucket_factory: BucketFactory) -> MinioObjectStore:
    settings = StorageSettings(
        s3_endpoint=minio.url,
        s3_access_key=minio.access_key,
        s3_secret_key=SecretStr(minio.secret_key),
        part_size_bytes=5 << 20,
    )
    created = MinioObjectStore(settings, bucket=bucket_factory("contract"))
    created.ensure_bucket()
    return created


class TestMinioObjectStore(ObjectStoreContract):
    def read_tags(self, store: Any, key: str, version_id: str | None) -> dict[str, str]:
        client: Minio = store.client
        return dict(client.get_object_tags(store.bucket, key, version_id=version_id) or {})
