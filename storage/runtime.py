"""The storage adapters wired to one database, one object store and one key ring."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.crypto.cipher import AesGcmSegmentCipher
from storage.crypto.keyring import FileKeyRing
from storage.crypto.signing import FileSigner
from storage.crypto.vault import ContentVault
from storage.crypto.witness import CheckpointWitness
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.objects.marker import bind_bucket
from storage.objects.minio_store import MinioObjectStore
from storage.ports import ObjectStore
from storage.settings import StorageSettings
from storage.sql.audit import SqlAuditLog
from storage.sql.audit_checkpoints import SqlAuditCheckpoints
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.guards import SqlRequestGuards
from storage.sql.instance import SqlCatalogInstance
from storage.sql.policies import SqlPolicyStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StorageRuntime:
    """Everything storage offers, wired to one database, one store and one key ring."""

    settings: StorageSettings
    db: Database
    catalog: SqlCatalog
    policies: SqlPolicyStore
    audit: SqlAuditLog
    store: ObjectStore
    keyring: FileKeyRing
    vault: ContentVault
    signer: FileSigner
    guards: SqlRequestGuards
    instance: SqlCatalogInstance
    checkpoints: SqlAuditCheckpoints

    async def close(self) -> None:
        """Release database connections."""
        await self.db.dispose()


def build_storage(settings: StorageSettings) -> StorageRuntime:
    """Wire the storage context (no I/O yet)."""
    db = Database(settings.resolved_catalog_url())
    catalog = SqlCatalog(db)
    store = object_store(settings)
    keyring = FileKeyRing(settings.resolved_keyring_file())
    cipher = AesGcmSegmentCipher(settings.segment_size_bytes)
    signer = FileSigner(settings.resolved_signing_key_file())
    return StorageRuntime(
        settings=settings,
        db=db,
        catalog=catalog,
        policies=SqlPolicyStore(db),
        audit=SqlAuditLog(db),
        store=store,
        keyring=keyring,
        vault=ContentVault(store, keyring, cipher),
        signer=signer,
        guards=SqlRequestGuards(db),
        instance=SqlCatalogInstance(db),
        checkpoints=SqlAuditCheckpoints(
            db,
            signer,
            witness=CheckpointWitness(
                settings.resolved_signing_key_file().with_name("audit-witness.json")
            ),
        ),
    )


def object_store(settings: StorageSettings) -> ObjectStore:
    """The object store the settings choose (`KEEPLINE_OBJECT_STORE`)."""
    if settings.object_store == "filesystem":
        return FilesystemObjectStore(
            settings.data_dir / "objects" / settings.s3_bucket, lock_mode=settings.object_lock_mode
        )
    return MinioObjectStore(settings)


async def prepare_storage(runtime: StorageRuntime) -> None:
    """Upgrade the catalog schema and create the bucket (idempotent; waits for nothing).

    Raises:
        SchemaTooNewError: The catalog was upgraded by a newer keepline.
        BucketClaimedError: The bucket's marker names another catalog.
    """
    before, after = await runtime.db.create_schema()
    if before.current != after.current:
        log.info("catalog schema upgraded from %s to %s", before.current or "empty", after.current)
    await asyncio.to_thread(runtime.store.ensure_bucket)
    # The bucket names its catalog: never serve a bucket another catalog filled.
    instance = await runtime.instance.instance_id(at=datetime.now(UTC))
    await asyncio.to_thread(bind_bucket, runtime.store, instance)
