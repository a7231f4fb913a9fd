"""The catalog's identity; erasure requests by subject; who set each restriction.

The bucket's marker object names the identity; ingest finds a subject's standing erasure by
the index (ix_erasure_requests_subject). The identity's row is made on first use, so a
catalog upgraded to this revision gets its identity the first time keepline starts on it.
subjects.restricted_by says who set a restriction (api, or an event's source): an event
lifts only what its own source set. Restrictions from before have none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create catalog_instance (a catalog made by create_all of this schema has it already)."""
    op.create_index(
        "ix_erasure_requests_subject",
        "erasure_requests",
        ["subject_id"],
        unique=False,
        if_not_exists=True,
    )
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("subjects")}
    if "restricted_by" not in columns:
        with op.batch_alter_table("subjects") as batch:
            batch.add_column(sa.Column("restricted_by", sa.String(100), nullable=True))
    if sa.inspect(op.get_bind()).has_table("catalog_instance"):
        return
    op.create_table(
        "catalog_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Drop catalog_instance, subjects.restricted_by and the subject index of erasures."""
    op.drop_table("catalog_instance")
    with op.batch_alter_table("subjects") as batch:
        batch.drop_column("restricted_by")
    op.drop_index("ix_erasure_requests_subject", table_name="erasure_requests")
