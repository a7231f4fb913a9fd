"""Ingest on real components without servers: SQLite catalog, filesystem object store."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from policies.policy_file import load_default_policy
from service.ingest.service import AfterStored, IngestService
from service.retention.locks import ObjectLockSync
from storage.crypto.cipher import AesGcmSegmentCipher
from storage.crypto.keyring import InMemoryKeyRing
from storage.crypto.vault import ContentVault
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.policies import SqlPolicyStore
from storage.sql.subjects import SqlSubjectStore
from streams.fetch import ContentFetcher
from streams.metrics import StreamMetrics
from streams.sources import ContentSources
from tests.catalog_templates import migrated_sqlite
from tests.contract_examples import example

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SEGMENT_BYTES = 4096


@dataclass
class IngestEnv:
    """Everything ingest needs, wired like StorageRuntime, on local files."""

    tmp: Path
    db: Database
    catalog: SqlCatalog
    policies: SqlPolicyStore
    store: FilesystemObjectStore
    keyring: InMemoryKeyRing
    vault: ContentVault
    lock_sync: ObjectLockSync
    fetcher: ContentFetcher
    service: IngestService
    metrics: StreamMetrics

    def content_file(self, data: bytes) -> dict[str, Any]:
        """A file:// content reference to data, with its true size and sha256."""
        path = self.tmp / f"content-{hashlib.sha256(data).hexdigest()[:16]}.bin"
        path.write_bytes(data)
        return {
            "uri": path.as_uri(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
            "content_type": "audio/wav",
        }

    def call(self, event_id: str, data: bytes, **changes: Any) -> dict[str, Any]:
        """A call-recording event whose content is data, in a local file."""
        event = example("call_recording")
        event.update(event_id=event_id, content=self.content_file(data), **changes)
        return event

    def chat(self, event_id: str, text: bytes = b"hello") -> dict[str, Any]:
        """A chat event with inline text."""
        event = example("chat")
        event["event_id"] = event_id
        event["content_inline"] = {
            "data_b64": base64.b64encode(text).decode(),
            "content_type": "text/plain",
        }
        return event

    def email(self, event_id: str) -> dict[str, Any]:
        """A metadata-only e-mail event."""
        event = example("email")
        event["event_id"] = event_id
        del event["content"]
        return event

    async def plaintext(self, item_id: str) -> bytes:
        """The decrypted content of a stored item."""
        record = await self.catalog.get(item_id)
        assert record is not None
        assert record.stored is not None
        size = record.stored.content.size_bytes
        pieces = [
            piece
            async for piece in self.vault.open(
                item_id=item_id, stored=record.stored, start=0, end=max(size - 1, 0)
            )
        ]
        return b"".join(pieces)


EnvFactory = Callable[..., IngestEnv]


@pytest.fixture
async def env_factory(tmp_path: Path) -> AsyncIterator[EnvFactory]:
    """Build an IngestEnv: `env_factory(catalog_cls=SqlCatalog, store_cls=..., uploads=4)`."""
    built: list[IngestEnv] = []
    counter = iter(range(1000))

    async def build(
        *,
        catalog_cls: type[SqlCatalog] = SqlCatalog,
        store_cls: type[FilesystemObjectStore] = FilesystemObjectStore,
        allow_file_uris: bool = True,
        content_sources: str = "",
        uploads: int = 4,
        after_stored: AfterStored | None = None,
        lock_at_upload: bool = False,
    ) -> IngestEnv:
        root = tmp_path / f"env-{next(counter)}"
        root.mkdir()
        db = Database(migrated_sqlite(root / "catalog.db"))
        await db.create_schema()
        catalog = catalog_cls(db)
        policies = SqlPolicyStore(db)
        await policies.bootstrap(load_default_policy(), at=NOW)
        store = store_cls(root / "bucket")
        store.ensure_bucket()
        keyring = InMemoryKeyRing()
        vault = ContentVault(store, keyring, AesGcmSegmentCipher(SEGMENT_BYTES))
        lock_sync = ObjectLockSync(catalog, store)
        fetcher = ContentFetcher(
            sources=ContentSources.parse(content_sources),
            allow_file_uris=allow_file_uris,
            file_uri_root=root,
            timeout_s=5,
        )
        service = IngestService(
            catalog=catalog,
            subjects=SqlSubjectStore(db),
            policies=policies,
            vault=vault,
            fetcher=fetcher,
            lock_sync=lock_sync,
            clock=lambda: NOW,
            uploads=uploads,
            after_stored=after_stored,
            lock_at_upload=lock_at_upload,
        )
        env = IngestEnv(
            tmp=root,
            db=db,
            catalog=catalog,
            policies=policies,
            store=store,
            keyring=keyring,
            vault=vault,
            lock_sync=lock_sync,
            fetcher=fetcher,
            service=service,
            metrics=StreamMetrics(CollectorRegistry()),
        )
        built.append(env)
        return env

    yield build
    for env in built:
        await env.service.close()
        env.fetcher.close()
        await env.db.dispose()
