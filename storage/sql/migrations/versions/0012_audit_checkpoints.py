"""Signed checkpoints of the audit chain head; the head row always exists.

audit_checkpoints keeps each signed (seq, hash) of the chain head, so a rewrite of the whole
chain by someone with database access no longer matches them (the key is not in the catalog).
An entry is appended inside the transaction of the change it records, holding the head row
until it commits; a catalog without that row (no entry yet) gets one at the genesis.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64


def upgrade() -> None:
    """Create audit_checkpoints; seed audit_head from the newest entry (or the genesis)."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        # A catalog adopted from create_all of the newest schema already has it.
        if_not_exists=True,
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM audit_head")).scalar_one() == 0:
        last = bind.execute(
            sa.text("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        ).first()
        seq, digest = (last.seq, last.hash) if last else (0, _GENESIS)
        bind.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
            {"seq": seq, "hash": digest},
        )


def downgrade() -> None:
    """Drop audit_checkpoints (the genesis head row is what a first append would write)."""
    op.drop_table("audit_checkpoints")
