"""Proof of disposal and integrity passes.

An index on the tombstones' (destroyed_at, item_id), so the disposal listing and a day's
certificate read one range of them instead of all; and ``fixity_passes``, one row per
integrity pass, saved as it goes so an interrupted pass resumes where it stopped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tombstones' index and the fixity_passes table."""
    op.create_index(
        "ix_tombstones_destroyed",
        "tombstones",
        ["destroyed_at", "item_id"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "fixity_passes",
        sa.Column("pass_id", sa.String(36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phase", sa.String(12), nullable=False),
        sa.Column("cursor", sa.String(300), nullable=False),
        sa.Column("objects_checked", sa.BigInteger(), nullable=False),
        sa.Column("bytes_checked", sa.BigInteger(), nullable=False),
        sa.Column("mismatched", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.BigInteger(), nullable=False),
        sa.Column("orphaned", sa.BigInteger(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("bucket", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("pass_id"),
        # A catalog adopted from create_all of the newest schema already has it.
        if_not_exists=True,
    )
    op.create_index(
        "ix_fixity_passes_started",
        "fixity_passes",
        ["started_at"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the fixity_passes table and the tombstones' index."""
    op.drop_index("ix_fixity_passes_started", table_name="fixity_passes")
    op.drop_table("fixity_passes")
    op.drop_index("ix_tombstones_destroyed", table_name="tombstones")
