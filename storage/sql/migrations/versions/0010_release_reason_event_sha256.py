"""Record why a hold was released, and the fingerprint of the event each item came from.

- holds.release_reason: `{"reason"?}` on release (SPEC section 7). Holds released before
  this revision have none (NULL): no reason was asked for.
- items.event_sha256: tells a republished event with other content from a redelivery.
  Items stored before this revision have none: a republished event for one of them is
  taken as a duplicate, as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _has(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    """Add both columns (a catalog made by create_all of this schema has them already)."""
    if not _has("holds", "release_reason"):
        with op.batch_alter_table("holds") as batch:
            batch.add_column(sa.Column("release_reason", sa.String(2000), nullable=True))
    if not _has("items", "event_sha256"):
        with op.batch_alter_table("items") as batch:
            batch.add_column(sa.Column("event_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop both columns."""
    with op.batch_alter_table("items") as batch:
        batch.drop_column("event_sha256")
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("release_reason")
