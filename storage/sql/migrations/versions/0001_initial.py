"""The catalog as it was before migrations: every table and index of keepline 0.1.

Each table and index is created only if missing (IF NOT EXISTS), so a catalog that start-up
created before migrations existed (with `metadata.create_all`) is adopted as it is.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _index(name: str, table: str, columns: list[str]) -> None:
    op.create_index(name, table, columns, unique=False, if_not_exists=True)


def upgrade() -> None:
    """Create every table and index of the first schema."""
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("idem_key", sa.String(64), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("object_key", sa.String(200), nullable=True),
        sa.Column("object_version_id", sa.String(200), nullable=True),
        sa.Column("content_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("ciphertext_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("segment_size_bytes", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("wrapped_key", sa.Text(), nullable=True),
        sa.Column("s3_legal_hold", sa.Boolean(), nullable=False),
        sa.Column("s3_retain_until", TS, nullable=True),
        sa.Column("s3_synced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
        sa.UniqueConstraint("idem_key", name="uq_items_idem_key"),
        if_not_exists=True,
    )
    _index("ix_items_occurred", "items", ["occurred_at"])
    _index("ix_items_status", "items", ["status"])

    op.create_table(
        "item_parties",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("address", sa.String(320), nullable=True),
        sa.Column("subject_id", sa.String(200), nullable=True),
        sa.Column("staff_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.item_id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_parties_subject", "item_parties", ["subject_id"])
    _index("ix_parties_staff", "item_parties", ["staff_id"])
    _index("ix_parties_address", "item_parties", ["address"])
    _index("ix_parties_item", "item_parties", ["item_id"])

    op.create_table(
        "item_attributes",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.item_id"], ondelete="CASCADE"),
        if_not_exists=True,
    )
    _index("ix_attributes_kv", "item_attributes", ["key", "value"])
    _index("ix_attributes_item", "item_attributes", ["item_id"])

    op.create_table(
        "item_purposes",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("basis", sa.String(40), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("worm", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.item_id"], ondelete="CASCADE"),
        sa.UniqueConstraint("item_id", "name", name="uq_item_purpose"),
        if_not_exists=True,
    )
    _index("ix_purposes_expires", "item_purposes", ["expires_at"])
    _index("ix_purposes_name", "item_purposes", ["name"])

    op.create_table(
        "holds",
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("matter", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("hold_id"),
        if_not_exists=True,
    )

    op.create_table(
        "hold_items",
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.hold_id"]),
        sa.UniqueConstraint("hold_id", "item_id", name="uq_hold_item"),
        if_not_exists=True,
    )
    _index("ix_hold_items_item", "hold_items", ["item_id"])

    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
        if_not_exists=True,
    )

    op.create_table(
        "consents",
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(100), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.UniqueConstraint("subject_id", "purpose", name="uq_consent"),
        if_not_exists=True,
    )

    op.create_table(
        "objections",
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("subject_id", "purpose", name="uq_objection"),
        if_not_exists=True,
    )

    op.create_table(
        "erasure_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
        if_not_exists=True,
    )

    op.create_table(
        "deferred_erasures",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("queued_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.UniqueConstraint("request_id", "item_id", name="uq_deferred"),
        if_not_exists=True,
    )

    op.create_table(
        "tombstones",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("destroyed_at", TS, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
        if_not_exists=True,
    )

    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        if_not_exists=True,
    )
    _index("ix_audit_item", "audit", ["item_id"])
    _index("ix_audit_actor", "audit", ["actor"])

    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("activated_at", TS, nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
        if_not_exists=True,
    )

    op.create_table(
        "leases",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )

    op.create_table(
        "item_removed_purposes",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("removed_at", TS, nullable=False),
        sa.UniqueConstraint("item_id", "name", name="uq_removed_purpose"),
        if_not_exists=True,
    )
    _index("ix_removed_purposes_item", "item_removed_purposes", ["item_id"])

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Never: it would drop every table. Restore a backup taken before the upgrade instead."""
    raise NotImplementedError("keepline does not downgrade the first revision")
