"""Record who submitted each item: the API principal, or `kafka:<topic>` (SPEC section 3).

Items stored before this revision have none (NULL): who sent them was never recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add items.submitted_by (a catalog made by create_all of this schema has it already)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("items")}
    if "submitted_by" in columns:
        return
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop items.submitted_by."""
    with op.batch_alter_table("items") as batch:
        batch.drop_column("submitted_by")
