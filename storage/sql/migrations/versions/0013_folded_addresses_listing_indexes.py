"""Holds find their items in one statement; listings read in index order.

- item_parties.address_folded: each party's address as holds compare it
  (`policies.holds.fold_address`, a case fold), so a hold on addresses is one indexed
  comparison in SQL instead of a candidate scan confirmed item by item. Rows written before
  this revision are filled in here, in batches of distinct addresses.
- ix_parties_subject and ix_parties_staff gain item_id (a hold or a listing by subject or
  staff reads the item ids from the index alone); ix_parties_address_folded is new.
- ix_items_status_occurred and ix_items_type_occurred: listing newest first, by state or by
  type, without sorting the whole table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from policies.holds import fold_address

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BATCH = 1000
_NEW_INDEXES = {
    "ix_parties_address_folded": ("item_parties", ["address_folded", "item_id"]),
    "ix_items_status_occurred": ("items", ["status", "occurred_at", "item_id"]),
    "ix_items_type_occurred": ("items", ["type", "occurred_at", "item_id"]),
}
_WIDENED = {
    "ix_parties_subject": ["subject_id"],
    "ix_parties_staff": ["staff_id"],
}


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _indexes(table: str) -> dict[str, list[str]]:
    found = sa.inspect(op.get_bind()).get_indexes(table)
    return {str(i["name"]): [str(c) for c in i["column_names"]] for i in found}


def _fill_folded() -> None:
    parties = sa.table(
        "item_parties", sa.column("address", sa.String()), sa.column("address_folded", sa.String())
    )
    bind = op.get_bind()
    pending = (
        sa.select(parties.c.address)
        .where(parties.c.address.is_not(None), parties.c.address_folded.is_(None))
        .distinct()
        .limit(_BATCH)
    )
    fill = (
        sa.update(parties)
        .where(parties.c.address == sa.bindparam("a"), parties.c.address_folded.is_(None))
        .values(address_folded=sa.bindparam("f"))
    )
    while addresses := list(bind.execute(pending).scalars()):
        bind.execute(fill, [{"a": a, "f": fold_address(a)} for a in addresses])


def upgrade() -> None:
    """Add and fill address_folded; widen two indexes; add three (idempotent)."""
    if "address_folded" not in _columns("item_parties"):
        with op.batch_alter_table("item_parties") as batch:
            batch.add_column(sa.Column("address_folded", sa.String(1000), nullable=True))
    _fill_folded()
    have = {**_indexes("item_parties"), **_indexes("items")}
    for name, column in _WIDENED.items():
        if have.get(name) != [*column, "item_id"]:
            if name in have:
                op.drop_index(name, table_name="item_parties")
            op.create_index(name, "item_parties", [*column, "item_id"])
    for name, (table, columns) in _NEW_INDEXES.items():
        if name not in have:
            op.create_index(name, table, columns)


def downgrade() -> None:
    """Back to revision 0012's indexes and columns (the folded addresses are derived data)."""
    for name, (table, _) in _NEW_INDEXES.items():
        op.drop_index(name, table_name=table)
    for name, column in _WIDENED.items():
        op.drop_index(name, table_name="item_parties")
        op.create_index(name, "item_parties", column)
    with op.batch_alter_table("item_parties") as batch:
        batch.drop_column("address_folded")
