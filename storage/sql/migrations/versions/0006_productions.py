"""Legal productions and the guards of requests in progress.

``productions`` records each production's state (so a restart resumes one being built) and
its sealed zip; ``production_items`` the items it was asked for, with their control numbers.
``request_guards`` and ``request_guard_items`` name the items an export or erasure in
progress reads, so nothing destroys them before the request closes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables and their indexes (a create_all catalog has them already)."""
    op.create_table(
        "productions",
        sa.Column("production_id", sa.String(36), nullable=False),
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("matter", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("stored", sa.JSON(), nullable=True),
        sa.Column("kid", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("production_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_productions_status", "productions", ["status"], unique=False, if_not_exists=True
    )
    op.create_table(
        "production_items",
        sa.Column("production_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("control_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["production_id"], ["productions.production_id"]),
        sa.UniqueConstraint("production_id", "item_id", name="uq_production_item"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_production_items_item",
        "production_items",
        ["item_id"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "request_guards",
        sa.Column("guard_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("guard_id"),
        if_not_exists=True,
    )
    op.create_table(
        "request_guard_items",
        sa.Column("guard_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["guard_id"], ["request_guards.guard_id"]),
        sa.UniqueConstraint("guard_id", "item_id", name="uq_request_guard_item"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_request_guard_items_item",
        "request_guard_items",
        ["item_id"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the four tables (productions' zips stay in the object store under productions/)."""
    op.drop_index("ix_request_guard_items_item", table_name="request_guard_items")
    op.drop_table("request_guard_items")
    op.drop_table("request_guards")
    op.drop_index("ix_production_items_item", table_name="production_items")
    op.drop_table("production_items")
    op.drop_index("ix_productions_status", table_name="productions")
    op.drop_table("productions")
