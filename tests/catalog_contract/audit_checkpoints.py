"""SqlAuditCheckpoints' contract: signed heads, and a rewrite of the whole chain detected."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from storage.crypto.signing import InMemorySigner, b64url
from storage.crypto.witness import CheckpointWitness
from storage.sql.audit import SqlAuditLog
from storage.sql.audit_checkpoints import SqlAuditCheckpoints, checkpoint_message
from storage.sql.database import Database
from storage.sql.schema import audit_checkpoints
from tests.catalog_contract.support import T0, rewrite_whole_chain


async def _fill(log: SqlAuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        await log.append(
            actor=f"user-{i}", action="content.read", at=T0 + timedelta(seconds=i), details={"n": i}
        )


class AuditCheckpointsContract:
    """What the signed checkpoints promise on every catalog."""

    @pytest.fixture
    def log(self, db: Database) -> SqlAuditLog:
        return SqlAuditLog(db)

    @pytest.fixture
    def signer(self) -> InMemorySigner:
        return InMemorySigner()

    @pytest.fixture
    def checkpoints(self, db: Database, signer: InMemorySigner) -> SqlAuditCheckpoints:
        return SqlAuditCheckpoints(db, signer)

    async def test_an_empty_chain_has_no_checkpoint(self, checkpoints: SqlAuditCheckpoints) -> None:
        assert await checkpoints.write(T0) is None
        assert (await checkpoints.verify()).ok
        assert await checkpoints.latest() is None

    async def test_the_head_is_signed_once_and_verifies(
        self, log: SqlAuditLog, checkpoints: SqlAuditCheckpoints, signer: InMemorySigner
    ) -> None:
        await _fill(log, 3)
        first = await checkpoints.write(T0)
        assert first is not None
        head = (await log.query(limit=10))[-1]
        assert (first.seq, first.hash, first.kid) == (3, head.hash, signer.current_key_id())
        assert await checkpoints.write(T0 + timedelta(minutes=1)) is None  # same head
        await _fill(log, 2, start=3)
        second = await checkpoints.write(T0 + timedelta(minutes=2))
        assert second is not None
        assert second.seq == 5
        assert [c.seq for c in await checkpoints.list()] == [3, 5]
        assert await checkpoints.list() == [first, second]  # what was signed reads back exact
        verdict = await checkpoints.verify(batch=1)
        assert (verdict.ok, verdict.checked) == (True, 2)
        assert [c.seq for c in await checkpoints.unpublished()] == [3, 5]
        await checkpoints.mark_published([3])
        assert [c.seq for c in await checkpoints.unpublished()] == [5]

    async def test_a_consistent_rewrite_of_the_whole_chain_fails_the_checkpoints(
        self, db: Database, log: SqlAuditLog, checkpoints: SqlAuditCheckpoints
    ) -> None:
        await _fill(log, 4)
        assert await checkpoints.write(T0) is not None
        await _fill(log, 2, start=4)
        await rewrite_whole_chain(db, actor="nobody")
        assert (await log.verify()).ok  # every link recomputed: the chain alone verifies
        verdict = await checkpoints.verify()
        assert (verdict.ok, verdict.checked, verdict.first_broken_seq) == (False, 0, 4)

    async def test_a_forged_or_resigned_checkpoint_fails(
        self, db: Database, log: SqlAuditLog, checkpoints: SqlAuditCheckpoints
    ) -> None:
        await _fill(log, 2)
        written = await checkpoints.write(T0)
        assert written is not None
        await rewrite_whole_chain(db, actor="nobody")
        new_head = (await log.query(limit=10))[-1].hash
        # The attacker's own key: its kid is not among the published signing keys.
        forger = InMemorySigner()
        forged = forger.sign(checkpoint_message(written.seq, new_head, written.at))
        async with db.begin() as conn:
            await conn.execute(
                update(audit_checkpoints).values(
                    hash=new_head, kid=forged.kid, signature=b64url(forged.value)
                )
            )
        assert not (await checkpoints.verify()).ok
        # Keeping the real kid with the forged signature fails too.
        async with db.begin() as conn:
            await conn.execute(update(audit_checkpoints).values(kid=written.kid))
        assert not (await checkpoints.verify()).ok

    async def test_checkpoints_deleted_then_the_chain_rewritten_fail_against_the_witness(
        self, db: Database, log: SqlAuditLog, signer: InMemorySigner, tmp_path: Path
    ) -> None:
        witness = CheckpointWitness(tmp_path / "keys" / "audit-witness.json")
        checkpoints = SqlAuditCheckpoints(db, signer, witness=witness)
        await _fill(log, 3)
        first = await checkpoints.write(T0)
        await _fill(log, 2, start=3)
        second = await checkpoints.write(T0 + timedelta(minutes=1))
        assert first is not None
        assert second is not None
        assert witness.latest() == second  # the newest, outside the catalog
        assert stat.S_IMODE(witness.path.stat().st_mode) == 0o600
        witness.record(first)  # it never moves back
        assert witness.latest() == second
        assert (await checkpoints.verify()).ok

        # Someone with the catalog alone: every checkpoint row gone, the chain recomputed.
        async with db.begin() as conn:
            await conn.execute(delete(audit_checkpoints))
        await rewrite_whole_chain(db, actor="nobody")
        assert (await log.verify()).ok
        assert (await SqlAuditCheckpoints(db, signer).verify()).ok  # the catalog agrees...
        verdict = await checkpoints.verify()  # ...the witness does not
        assert (verdict.ok, verdict.first_broken_seq) == (False, second.seq)
