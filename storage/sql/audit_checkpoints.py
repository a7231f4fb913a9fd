"""SqlAuditCheckpoints: signed checkpoints of the audit chain head, in the catalog.

A checkpoint is the chain head (seq, hash) at a time, signed with Ed25519 by a key that is
not in the catalog (`storage.crypto.signing`). Someone with write access to the catalog can
recompute every hash of a rewritten chain, but not re-sign the checkpoints: the entry at a
checkpoint's seq then no longer has the signed hash, and `verify` says so. Checkpoints also
go to the audit topic (the outbox columns below), so removing them from the catalog does not
remove the copies a SIEM holds.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from storage.crypto.signing import b64url, b64url_decode, verify_signature
from storage.crypto.witness import CheckpointWitness
from storage.errors import CatalogConflictError
from storage.models import AuditCheckpoint, CheckpointVerdict
from storage.ports import Signer
from storage.sql.database import Database, must_utc
from storage.sql.schema import audit, audit_checkpoints, audit_head


def checkpoint_message(seq: int, digest: str, at: datetime) -> bytes:
    """The bytes a checkpoint signs: its canonical JSON (seq, hash, at in UTC)."""
    body = {"seq": seq, "hash": digest, "at": at.astimezone(UTC).isoformat()}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


class SqlAuditCheckpoints:
    """Writes, lists, publishes and checks the signed checkpoints of the audit chain."""

    def __init__(
        self, db: Database, signer: Signer, *, witness: CheckpointWitness | None = None
    ) -> None:
        self._db = db
        self._signer = signer
        # The newest checkpoint, also kept outside the catalog (see storage.crypto.witness).
        self._witness = witness

    async def head(self) -> tuple[int, str]:
        """The chain head (seq, hash) as committed now; (0, genesis) for an empty chain."""
        async with self._db.connect() as conn:
            row = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
        return (int(row.seq), str(row.hash)) if row else (0, "0" * 64)

    async def latest(self) -> AuditCheckpoint | None:
        """The newest checkpoint, or None."""
        found = await self._select(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        )
        return found[0] if found else None

    async def write(self, at: datetime) -> AuditCheckpoint | None:
        """Sign the current head; None if it is empty or already checkpointed."""
        seq, digest = await self.head()
        if seq == 0:
            return None
        at = at.astimezone(UTC)
        signature = self._signer.sign(checkpoint_message(seq, digest, at))
        checkpoint = AuditCheckpoint(seq, digest, at, signature.kid, b64url(signature.value))
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    insert(audit_checkpoints).values(
                        seq=seq,
                        hash=digest,
                        at=at,
                        kid=checkpoint.kid,
                        signature=checkpoint.signature,
                        published=False,
                    )
                )
        except CatalogConflictError:
            return None  # this head was checkpointed already (by another process)
        if self._witness is not None:
            await asyncio.to_thread(self._witness.record, checkpoint)
        return checkpoint

    async def list(self, *, after_seq: int = 0, limit: int = 100) -> builtins.list[AuditCheckpoint]:
        """Checkpoints after a seq, oldest first."""
        return await self._select(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.seq > after_seq)
            .order_by(audit_checkpoints.c.seq)
            .limit(limit)
        )

    async def count(self) -> int:
        """How many checkpoints there are."""
        async with self._db.connect() as conn:
            return int(
                (
                    await conn.execute(select(func.count()).select_from(audit_checkpoints))
                ).scalar_one()
            )

    async def unpublished(self, limit: int = 500) -> builtins.list[AuditCheckpoint]:
        """Checkpoints not yet sent to the audit topic, oldest first."""
        return await self._select(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.published.is_(False))
            .order_by(audit_checkpoints.c.seq)
            .limit(limit)
        )

    async def mark_published(self, seqs: Sequence[int]) -> None:
        """Record that checkpoints reached the audit topic."""
        if not seqs:
            return
        async with self._db.begin() as conn:
            await conn.execute(
                update(audit_checkpoints)
                .where(audit_checkpoints.c.seq.in_(seqs))
                .values(published=True)
            )

    async def verify(self, *, batch: int = 500) -> CheckpointVerdict:
        """Check every checkpoint's signature and that the chain still has its hash.

        The chain itself is checked by `SqlAuditLog.verify`; this catches what that cannot:
        a chain rewritten consistently, hashes and head recomputed.
        """
        keys = self._signer.public_keys()
        checked, after = 0, 0
        while page := await self.list(after_seq=after, limit=batch):
            async with self._db.connect() as conn:
                rows = (
                    await conn.execute(
                        select(audit.c.seq, audit.c.hash).where(
                            audit.c.seq.in_([c.seq for c in page])
                        )
                    )
                ).all()
            hashes = {int(r.seq): str(r.hash) for r in rows}
            for checkpoint in page:
                if not _signed(keys, checkpoint) or hashes.get(checkpoint.seq) != checkpoint.hash:
                    return CheckpointVerdict(
                        ok=False, checked=checked, first_broken_seq=checkpoint.seq
                    )
                checked += 1
            after = page[-1].seq
        return await self._against_witness(keys, checked)

    async def _against_witness(self, keys: dict[str, Any], checked: int) -> CheckpointVerdict:
        # The catalog may have lost its checkpoints with the chain rewritten after: the
        # witness outside it still names a signed (seq, hash) the chain must have, and a
        # checkpoint row for it.
        witnessed = None if self._witness is None else await asyncio.to_thread(self._witness.latest)
        if witnessed is None:
            return CheckpointVerdict(ok=True, checked=checked)
        async with self._db.connect() as conn:
            chain_hash = (
                await conn.execute(select(audit.c.hash).where(audit.c.seq == witnessed.seq))
            ).scalar_one_or_none()
            row = (
                await conn.execute(
                    select(audit_checkpoints.c.hash).where(audit_checkpoints.c.seq == witnessed.seq)
                )
            ).scalar_one_or_none()
        intact = _signed(keys, witnessed) and chain_hash == witnessed.hash == row
        if not intact:
            return CheckpointVerdict(ok=False, checked=checked, first_broken_seq=witnessed.seq)
        return CheckpointVerdict(ok=True, checked=checked)

    async def _select(self, stmt: Any) -> builtins.list[AuditCheckpoint]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            AuditCheckpoint(int(r.seq), str(r.hash), must_utc(r.at), str(r.kid), str(r.signature))
            for r in rows
        ]


def _signed(keys: dict[str, Any], checkpoint: AuditCheckpoint) -> bool:
    try:
        raw = b64url_decode(checkpoint.signature)
    except ValueError:
        return False
    message = checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.at)
    return verify_signature(keys, checkpoint.kid, message, raw)
