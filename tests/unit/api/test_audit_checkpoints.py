"""GET /v1/audit/checkpoints, and GET /v1/audit/verify checking the signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from storage.crypto.signing import b64url_decode, verify_signature
from storage.sql.audit_checkpoints import checkpoint_message
from tests.catalog_contract.support import rewrite_whole_chain
from tests.unit.api.conftest import NOW, Harness


async def test_checkpoints_are_listed_for_auditors_and_verify_with_the_published_keys(
    harness: Harness,
) -> None:
    for n in range(3):
        await harness.storage.audit.append(
            actor="a", action="content.read", at=NOW, details={"n": n}
        )
    written = await harness.storage.checkpoints.write(NOW)
    assert written is not None
    async with harness.client("auditor") as auditor, harness.client("legal") as legal:
        listed = await auditor.get("/v1/audit/checkpoints")
        keys = (await auditor.get("/v1/signing-keys")).json()
        refused = await legal.get("/v1/audit/checkpoints")
        verdict = (await auditor.get("/v1/audit/verify")).json()
    assert refused.status_code == 403
    assert listed.status_code == 200
    [checkpoint] = listed.json()["checkpoints"]
    assert set(checkpoint) == {"seq", "hash", "at", "kid", "signature"}
    assert checkpoint["seq"] == 3
    message = checkpoint_message(3, checkpoint["hash"], datetime.fromisoformat(checkpoint["at"]))
    signature = b64url_decode(checkpoint["signature"])
    assert verify_signature(keys, checkpoint["kid"], message, signature)
    assert (verdict["ok"], verdict["checkpoints"], verdict["checkpoint_broken_seq"]) == (
        True,
        1,
        None,
    )


async def test_verify_fails_on_a_consistently_rewritten_chain(harness: Harness) -> None:
    for n in range(3):
        await harness.storage.audit.append(
            actor="a", action="content.read", at=NOW, details={"n": n}
        )
    assert await harness.storage.checkpoints.write(NOW) is not None
    await rewrite_whole_chain(harness.storage.db, actor="nobody")
    async with harness.client("auditor") as auditor:
        verdict = (await auditor.get("/v1/audit/verify")).json()
    assert verdict["first_broken_seq"] is None
    assert (verdict["ok"], verdict["checkpoint_broken_seq"]) == (False, 3)
