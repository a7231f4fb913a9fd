"""Index the items whose object lock state is not yet in step with the catalog.

Every sweep looks for stored items with `s3_synced` false, paging by item id. Without an
index that scans the whole items table each time; this partial index holds only the few
unsynced rows, so the repair pass costs what there is to repair.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UNSYNCED = sa.column("s3_synced", sa.Boolean()).is_(False)


def upgrade() -> None:
    """Create ix_items_unsynced."""
    op.create_index(
        "ix_items_unsynced",
        "items",
        ["item_id"],
        unique=False,
        sqlite_where=_UNSYNCED,
        postgresql_where=_UNSYNCED,
    )


def downgrade() -> None:
    """Drop ix_items_unsynced (no data is lost)."""
    op.drop_index("ix_items_unsynced", table_name="items")
