"""An API on a real SQLite catalog, called in-process (no Kafka or MinIO needed)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from api.app import create_app
from api.settings import ApiSettings
from keepline.root import Keepline, api_services, build
from policies.policy_file import load_default_policy
from storage.models import PartyRow, PurposeRow
from storage.runtime import StorageRuntime, prepare_storage
from storage.settings import StorageSettings
from storage.sql.subjects import SqlSubjectStore
from streams.settings import StreamSettings
from tests.catalog_templates import migrated_sqlite

ROLES = ("ingest", "qa", "legal", "privacy", "auditor", "admin")
TOKENS = {role: f"unit-{role}" for role in ROLES}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class RecordingPublisher:
    """A publisher that keeps what it is given (Kafka is not part of these tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.headers: list[tuple[tuple[str, bytes], ...]] = []

    async def publish(
        self, topic: str, key: bytes, value: bytes, *, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        self.sent.append((topic, key, value))
        self.headers.append(tuple(headers))

    async def ping(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    """The app, a client per role and the storage underneath."""

    app: FastAPI
    root: Keepline
    clock: Clock
    registry: CollectorRegistry
    transport: httpx.ASGITransport
    counter: list[int] = field(default_factory=lambda: [0])
    shared_content: dict[bytes, str] = field(default_factory=dict)

    @property
    def storage(self) -> StorageRuntime:
        """The storage adapters underneath."""
        return self.root.storage

    async def close(self) -> None:
        """Stop the background tasks and release the catalog."""
        await self.root.close()

    def client(self, role: str | None = None, *, token: str | None = None) -> httpx.AsyncClient:
        """A client with the token of role (or the token given; none: anonymous)."""
        secret = token or (TOKENS[role] if role else None)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.AsyncClient(transport=self.transport, base_url="http://api", headers=headers)

    async def add_item(
        self,
        *,
        occurred_at: datetime | None = None,
        item_type: str = "chat",
        subject_id: str | None = "cust-1",
        staff_id: str | None = "agent-1",
        attributes: Mapping[str, str] | None = None,
        purposes: Sequence[tuple[str, str, timedelta]] = (
            ("quality", "legitimate_interests", timedelta(days=90)),
            ("legal", "legal_obligation", timedelta(days=5 * 365)),
        ),
    ) -> str:
        """Catalogue a stored item (without content) and return its id."""
        self.counter[0] += 1
        at = occurred_at or NOW - timedelta(minutes=self.counter[0])
        parties = [{"address": "visitor-1", "subject_id": subject_id, "staff_id": staff_id}]
        event = {
            "type": item_type,
            "event_id": f"e-{self.counter[0]}",
            "source": "unit",
            "occurred_at": at.isoformat(),
            "parties": parties,
            "attributes": dict(attributes or {}),
        }
        claim = await self.storage.catalog.claim(
            source="unit",
            event_id=f"e-{self.counter[0]}",
            item_type=item_type,
            occurred_at=at,
            ingested_at=NOW,
            policy_version="v-unit",
            event=event,
            parties=[PartyRow("visitor-1", subject_id, staff_id)],
            attributes=dict(attributes or {}),
        )
        await self.storage.catalog.commit_stored(
            claim.item_id,
            stored=None,
            purposes=[PurposeRow(name, basis, at + keep) for name, basis, keep in purposes],
            hold_ids=(),
            s3_synced=True,
        )
        return claim.item_id

    async def add_content(self, data: bytes, *, content_type: str = "text/plain") -> str:
        """Catalogue an item with data as its (encrypted) content; return its id.

        The content type is stored as given, unchecked, as an item ingested before
        content types were validated would have it.
        """
        self.counter[0] += 1
        at = NOW - timedelta(minutes=self.counter[0])
        event_id = f"e-{self.counter[0]}"
        claim = await self.storage.catalog.claim(
            source="unit",
            event_id=event_id,
            item_type="chat",
            occurred_at=at,
            ingested_at=NOW,
            policy_version="v-unit",
            event={"type": "chat", "event_id": event_id, "source": "unit"},
            parties=[PartyRow("visitor-1", "cust-1", "agent-1")],
            attributes={},
        )
        stored = await asyncio.to_thread(
            self.storage.vault.seal,
            item_id=claim.item_id,
            chunks=iter([data]),
            content_type=content_type,
            expected_size_bytes=len(data),
            expected_sha256=hashlib.sha256(data).hexdigest(),
            tags={},
        )
        await self.storage.catalog.commit_stored(
            claim.item_id,
            stored=stored,
            purposes=[PurposeRow("legal", "legal_obligation", at + timedelta(days=365))],
            hold_ids=(),
            s3_synced=True,
        )
        return claim.item_id

    async def shared_content_item(self, data: bytes) -> str:
        """An item whose content is data, stored on first use (for property tests)."""
        if data not in self.shared_content:
            self.shared_content[data] = await self.add_content(data)
        return self.shared_content[data]

    async def restrict(self, subject_id: str) -> None:
        """Restrict processing of a subject's items."""
        await SqlSubjectStore(self.storage.db).set_restricted(subject_id, restricted=True, at=NOW)


def api_settings(**overrides: object) -> ApiSettings:
    """Settings with one token per role."""
    tokens = ",".join(f"{tok}:{role}:{role}-user" for role, tok in TOKENS.items())
    values: dict[str, object] = {"api_tokens": SecretStr(tokens)}
    values.update(overrides)
    return ApiSettings.model_validate(values)


async def build_harness(
    tmp_path: Path,
    settings: ApiSettings | None = None,
    *,
    reader_roles: frozenset[str] = frozenset(),
) -> Harness:
    """A harness whose catalog lives under tmp_path (tokens may hold reader_roles)."""
    settings = settings or api_settings()
    clock = Clock(NOW)
    if not (tmp_path / "keepline.db").exists():  # the catalog the settings below resolve to
        migrated_sqlite(tmp_path / "keepline.db")
    # Content goes to a directory with S3's semantics, so content routes need no server.
    root = build(
        StorageSettings(
            data_dir=tmp_path,
            object_store="filesystem",
            s3_bucket="unused",
            segment_size_bytes=4096,
        ),
        clock=clock,
    )
    storage = root.storage
    await prepare_storage(storage)
    # Activated unaudited here, so the audit route tests start from an empty chain.
    await storage.policies.bootstrap(load_default_policy(), at=NOW)
    registry = CollectorRegistry()
    services = replace(
        api_services(
            root,
            settings,
            stream_settings=StreamSettings(),
            registry=registry,
            reader_roles=reader_roles,
        ),
        publisher=RecordingPublisher(),
        topics={"calls": "calls", "emails": "emails", "chats": "chats"},
    )
    app = create_app(services)
    return Harness(app, root, clock, registry, httpx.ASGITransport(app=app))


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """An API over an empty catalog with the example policy."""
    built = await build_harness(tmp_path)
    yield built
    await built.close()
