"""The register of disclosures to third parties, and the notices owed to data subjects.

disclosures and disclosure_items: each disclosure and the items (and subjects) it held.
notices: the outbox of the notices topic. restriction_liftings: restrictions to lift later.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create disclosures, disclosure_items, notices and restriction_liftings."""
    op.create_table(
        "disclosures",
        sa.Column("disclosure_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("hold_id", sa.String(36), nullable=True),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("disclosure_id"),
        # A catalog adopted from create_all of the newest schema already has it.
        if_not_exists=True,
    )
    op.create_index(
        "ix_disclosures_disclosed",
        "disclosures",
        ["disclosed_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "disclosure_items",
        sa.Column("disclosure_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["disclosure_id"], ["disclosures.disclosure_id"], ondelete="CASCADE"
        ),
        if_not_exists=True,
    )
    for name, column in (
        ("ix_disclosure_items_disclosure", "disclosure_id"),
        ("ix_disclosure_items_item", "item_id"),
        ("ix_disclosure_items_subject", "subject_id"),
    ):
        op.create_index(name, "disclosure_items", [column], unique=False, if_not_exists=True)
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("notice_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_notices_published", "notices", ["published"], unique=False, if_not_exists=True
    )
    op.create_table(
        "restriction_liftings",
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the register (its entries are also in the audit trail) and the notices."""
    op.drop_table("restriction_liftings")
    op.drop_index("ix_notices_published", table_name="notices")
    op.drop_table("notices")
    op.drop_table("disclosure_items")
    op.drop_table("disclosures")
