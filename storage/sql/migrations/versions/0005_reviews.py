"""Disposition reviews: items whose last purpose asks for a person's review (SPEC 4, 5).

One row per review: the purposes that asked for it, its state (pending, destroy, extended),
and the decision (who, when, why, and for an extension the duration and the new expiry).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create reviews and its indexes (by item, and by state and age)."""
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("extend_by", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("review_id"),
        # A catalog adopted from create_all of the newest schema already has it.
        if_not_exists=True,
    )
    op.create_index("ix_reviews_item", "reviews", ["item_id"], unique=False, if_not_exists=True)
    op.create_index(
        "ix_reviews_state", "reviews", ["state", "opened_at"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    """Drop reviews."""
    op.drop_index("ix_reviews_state", table_name="reviews")
    op.drop_index("ix_reviews_item", table_name="reviews")
    op.drop_table("reviews")
