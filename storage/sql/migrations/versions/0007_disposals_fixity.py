"""Proof of disposal: tombstones are read by when they were made.

An index on (destroyed_at, item_id), so the disposal listing and a day's certificate read one
range of the tombstones instead of all of them.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tombstones' index on (destroyed_at, item_id)."""
    op.create_index(
        "ix_tombstones_destroyed",
        "tombstones",
        ["destroyed_at", "item_id"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_tombstones_destroyed", table_name="tombstones")
