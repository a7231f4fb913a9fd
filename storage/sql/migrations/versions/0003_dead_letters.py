"""Dead letters in the catalog, readable through the API and `keepline dlq`.

Every message the stream workers dead-letter to Kafka is also recorded here (reason, error,
where it was, its event id and source when parsable), one row per message position, so a
message dead-lettered again after a restart is recorded once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create dead_letters and its index on failed_at."""
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("error", sa.String(2000), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic", "partition", "offset", name="uq_dead_letters_message"),
        # A catalog adopted from create_all of the newest schema already has it.
        if_not_exists=True,
    )
    op.create_index(
        "ix_dead_letters_failed", "dead_letters", ["failed_at"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    """Drop dead_letters (the letters stay in the dead-letter topic)."""
    op.drop_index("ix_dead_letters_failed", table_name="dead_letters")
    op.drop_table("dead_letters")
