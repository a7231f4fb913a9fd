"""Record why a hold was released (`{"reason"?}` on release, SPEC section 7).

Holds released before this revision have none (NULL): no reason was asked for.

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None


def _has(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    """Add holds.release_reason (a catalog made by create_all of this schema has it already)."""
    if not _has("holds", "release_reason"):
        with op.batch_alter_table("holds") as batch:
            batch.add_column(sa.Column("release_reason", sa.String(2000), nullable=True))


def downgrade() -> None:
    """Drop holds.release_reason."""
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("release_reason")
