"""MinioObjectStore: ciphertext in an S3 bucket with Object Lock, through the minio SDK."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import BinaryIO, NoReturn
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE, Tags
from minio.deleteobjects import DeleteObject
from minio.error import S3Error, ServerError
from minio.retention import Retention
from urllib3.exceptions import HTTPError as Urllib3Error

from storage.errors import ObjectNotFoundError, ObjectStoreError, ObjectStoreUnavailableError
from storage.ports import BucketProtection, ObjectVersion, PutResult
from storage.settings import StorageSettings

_READ_CHUNK_BYTES = 256 * 1024
# S3 codes that mean "try again later", not "you asked for something wrong".
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "XMinioServerNotInitialized",
        "RequestTimeout",
    }
)


# A version that is already gone is what a delete wanted.
_GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion"})


def _raise(err: Exception, key: str | None = None) -> NoReturn:
    if isinstance(err, S3Error):
        if err.code in {"NoSuchKey", "NoSuchVersion", "NoSuchObject"}:
            raise ObjectNotFoundError(key or "") from err
        if err.code in _TRANSIENT_CODES:
            raise ObjectStoreUnavailableError(err.code) from err
        raise ObjectStoreError(f"S3 refused: {err.code}") from err
    if isinstance(err, (ServerError, Urllib3Error, OSError)):
        raise ObjectStoreUnavailableError(type(err).__name__) from err
    raise err


class MinioObjectStore:
    """ObjectStore on MinIO (or any S3 with Object Lock)."""

    def __init__(self, settings: StorageSettings, *, bucket: str | None = None) -> None:
        parts = urlsplit(settings.s3_endpoint)
        # Short timeouts and few retries: our own retry loop owns backoff, so a store that
        # is down pauses ingest instead of hanging a thread for minutes.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            maxsize=16,
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
        )
        self._client = Minio(
            parts.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=parts.scheme == "https",
            region=settings.s3_region,
            http_client=http,
        )
        # Least privilege: only this identity may bypass governance retention, and it is used
        # for nothing else; without one, the main identity destroys too.
        self._destroyer = self._client
        if settings.s3_destroy_access_key and settings.s3_destroy_secret_key is not None:
            self._destroyer = Minio(
                parts.netloc,
                access_key=settings.s3_destroy_access_key,
                secret_key=settings.s3_destroy_secret_key.get_secret_value(),
                secure=parts.scheme == "https",
                region=settings.s3_region,
                http_client=http,
            )
        self._bucket = bucket or settings.s3_bucket
        self._part_size_bytes = settings.part_size_bytes
        self._lock_mode = COMPLIANCE if settings.object_lock_mode == "COMPLIANCE" else GOVERNANCE

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket

    @property
    def client(self) -> Minio:
        """The underlying SDK client (for tests and the reconcile tool)."""
        return self._client

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock (and so versioning) if it is missing."""
        try:
            if not self._client.bucket_exists(self._bucket):
                self._client.make_bucket(self._bucket, object_lock=True)
        except S3Error as err:
            if err.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                _raise(err)
        except Exception as err:  # mapped to the port's errors
            _raise(err)

    def ping(self) -> None:
        """Raise ObjectStoreUnavailableError when the store does not answer."""
        try:
            self._client.bucket_exists(self._bucket)
        except Exception as err:  # mapped to the port's errors
            _raise(err)

    def put_stream(
        self,
        key: str,
        reader: BinaryIO,
        *,
        content_type: str,
        tags: Mapping[str, str],
        retain_until: datetime | None = None,
    ) -> PutResult:
        """Upload in parts of part_size_bytes, two in flight.

        A reader with an int ``length`` attribute announces its exact size: the parts are
        then read exactly, with no probing read for the end of the stream.
        """
        s3_tags = Tags(for_object=True)
        s3_tags.update(tags)
        counter = _CountingReader(reader)
        length = getattr(reader, "length", None)
        try:
            result = self._client.put_object(
                self._bucket,
                key,
                counter,  # type: ignore[arg-type]  # the SDK only calls read()
                length=length if isinstance(length, int) else -1,
                part_size=self._part_size_bytes,
                num_parallel_uploads=2,
                content_type=content_type,
                tags=s3_tags,
                retention=None
                if retain_until is None
                else Retention(self._lock_mode, retain_until),
            )
        except _SourceError as err:
            # The reader failed (bad or unreachable content), not the store.
            raise err.original from None
        except (S3Error, ServerError, Urllib3Error, OSError) as err:
            _raise(err, key)
        return PutResult(key=key, version_id=result.version_id, size_bytes=counter.size_bytes)

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        """Stream bytes [offset, offset+length) of one version."""
        try:
            response = self._client.get_object(
                self._bucket, key, offset=offset, length=length, version_id=version_id
            )
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)
        try:
            yield from response.stream(_READ_CHUNK_BYTES)
        except (Urllib3Error, OSError) as err:
            _raise(err, key)
        finally:
            response.close()
            response.release_conn()

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version and delete marker of key."""
        try:
            return [
                ObjectVersion(key=o.object_name or key, version_id=o.version_id)
                for o in self._client.list_objects(self._bucket, prefix=key, include_version=True)
                if o.object_name == key
            ]
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        """Remove versions for good; MinIO refuses locked ones (COMPLIANCE, or without bypass)."""
        if not versions:
            return
        client = self._destroyer if bypass_governance else self._client
        try:
            errors = list(
                client.remove_objects(
                    self._bucket,
                    [DeleteObject(v.key, v.version_id) for v in versions],
                    bypass_governance_mode=bypass_governance,
                )
            )
        except Exception as err:  # mapped to the port's errors
            _raise(err)
        refused = [e for e in errors if e.code not in _GONE_CODES]
        if refused:
            raise ObjectStoreError(f"delete refused: {refused[0].code}")

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        """Set or clear the legal-hold flag."""
        try:
            if on:
                self._client.enable_object_legal_hold(self._bucket, key, version_id=version_id)
            else:
                self._client.disable_object_legal_hold(self._bucket, key, version_id=version_id)
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        """Object Lock retention in the configured mode until the given time."""
        try:
            self._client.set_object_retention(
                self._bucket, key, Retention(self._lock_mode, until), version_id=version_id
            )
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
        """Replace the object's tags."""
        s3_tags = Tags(for_object=True)
        s3_tags.update(tags)
        try:
            self._client.set_object_tags(self._bucket, key, s3_tags, version_id=version_id)
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)

    def list_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version of every key under prefix, the versions of one key together."""
        try:
            for obj in self._client.list_objects(
                self._bucket, prefix=prefix, recursive=True, include_version=True
            ):
                if obj.object_name:
                    yield ObjectVersion(
                        key=obj.object_name,
                        version_id=obj.version_id,
                        modified_at=obj.last_modified,
                    )
        except Exception as err:  # mapped to the port's errors
            _raise(err)

    def protection(self) -> BucketProtection:
        """The bucket's versioning state and whether Object Lock is enabled on it.

        A bucket whose Object Lock configuration is gone (a known MinIO failure after a
        restart) answers ObjectLockConfigurationNotFoundError: that is ``object_lock`` false.
        """
        try:
            versioning = self._client.get_bucket_versioning(self._bucket).status
        except Exception as err:  # mapped to the port's errors
            _raise(err)
        try:
            self._client.get_object_lock_config(self._bucket)
        except S3Error as err:
            if err.code != "ObjectLockConfigurationNotFoundError":
                _raise(err)
            return BucketProtection(versioning=versioning or "Off", object_lock=False)
        except Exception as err:  # mapped to the port's errors
            _raise(err)
        return BucketProtection(versioning=versioning or "Off", object_lock=True)

    def lock_state(self, key: str, version_id: str | None) -> tuple[bool, datetime | None]:
        """(legal hold on, retained until) of one version, as MinIO enforces them."""
        try:
            held = self._client.is_object_legal_hold_enabled(
                self._bucket, key, version_id=version_id
            )
            retention = self._client.get_object_retention(self._bucket, key, version_id=version_id)
        except Exception as err:  # mapped to the port's errors
            _raise(err, key)
        until = None if retention is None else retention.retain_until_date
        return bool(held), until

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every current key under prefix."""
        try:
            for obj in self._client.list_objects(self._bucket, prefix=prefix, recursive=True):
                if obj.object_name:
                    yield obj.object_name
        except Exception as err:  # mapped to the port's errors
            _raise(err)


class _SourceError(Exception):
    """Carries an error of the reader through the SDK, apart from the store's own errors."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class _CountingReader:
    """Counts what the SDK reads, so the result carries the ciphertext size."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.size_bytes = 0

    def read(self, size: int = -1) -> bytes:
        """What the inner reader gives; its errors are wrapped in _SourceError."""
        try:
            data = self._inner.read(size)
        except Exception as err:  # the reader's own failure: handed back to the caller as is
            raise _SourceError(err) from err
        self.size_bytes += len(data)
        return data
