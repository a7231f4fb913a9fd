"""Signed checkpoints of the audit chain on a running keepline: listed, published, and a
rewrite of the whole chain in the real catalog (every hash recomputed) fails verify."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from storage.crypto.signing import b64url_decode, verify_signature
from storage.settings import StorageSettings
from storage.sql.audit_checkpoints import checkpoint_message
from storage.sql.database import Database
from tests.catalog_contract.support import rewrite_whole_chain
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import example
from tests.integration.keepline_service import KeeplineService, wait_for

pytestmark = on_both_catalogs

#: Sign the head after every entry, and poll often, so the test waits seconds, not minutes.
_ENV = {"KEEPLINE_AUDIT_CHECKPOINT_EVERY_ENTRIES": "1"}


def _writable_url(service: KeeplineService) -> str:
    url = service.env.get("KEEPLINE_CATALOG_URL") or (
        f"sqlite:///{service.workdir / 'data' / 'keepline.db'}"
    )
    return StorageSettings(catalog_url=url).resolved_catalog_url()


def _chat() -> dict[str, Any]:
    event = example("chat")
    event.update(event_id=f"chat-{uuid.uuid4().hex}", conversation_id="conv-checkpoint")
    return event


def test_checkpoints_are_signed_published_and_catch_a_rewritten_chain(
    keepline_factory: KeeplineFactory,
) -> None:
    service = keepline_factory(env=_ENV)
    service.publish("chats", _chat(), key=b"conv")
    with service.client("legal") as legal:
        item = wait_for(
            lambda: legal.get("/v1/items", params={"type": "chat"}).json()["items"],
            what="the chat stored",
        )[0]
        for _ in range(3):
            assert legal.get(f"/v1/items/{item['item_id']}/content").status_code == 200
    with service.client("auditor") as auditor:
        head = auditor.get("/v1/audit", params={"limit": 1000}).json()["entries"][-1]
        signed = wait_for(
            lambda: [
                c
                for c in auditor.get("/v1/audit/checkpoints").json()["checkpoints"]
                if c["seq"] == head["seq"]
            ],
            what="the head checkpointed",
        )[0]
        keys = auditor.get("/v1/signing-keys").json()
        assert signed["hash"] == head["hash"]
        message = checkpoint_message(
            signed["seq"], signed["hash"], datetime.fromisoformat(signed["at"])
        )
        assert verify_signature(keys, signed["kid"], message, b64url_decode(signed["signature"]))
        verdict = auditor.get("/v1/audit/verify").json()
        assert (verdict["ok"], verdict["checkpoint_broken_seq"]) == (True, None)
        assert verdict["checkpoints"] >= 1
    published = service.read_topic(
        "audit",
        expect=1,
        timeout_s=60,
        where=lambda m: m.get("type") == "audit.checkpoint" and m.get("seq") == signed["seq"],
    )
    assert [(m["hash"], m["signature"]) for m in published[:1]] == [
        (signed["hash"], signed["signature"])
    ]

    asyncio.run(_rewrite(_writable_url(service)))
    with service.client("auditor") as auditor:
        verdict = auditor.get("/v1/audit/verify").json()
    assert verdict["first_broken_seq"] is None  # the rewritten chain is consistent in itself
    assert verdict["ok"] is False
    assert verdict["checkpoint_broken_seq"] is not None


async def _rewrite(url: str) -> None:
    db = Database(url)
    try:
        await rewrite_whole_chain(db, actor="nobody")
    finally:
        await db.dispose()
