"""The catalog's tables (SQLAlchemy Core), shared by every catalog repository.

One metadata for all of keepline's state, so SQLite and PostgreSQL get the same schema.
Times are stored as timezone-aware timestamps (UTC). This describes the newest revision of
`storage/sql/migrations`; a change here is a new revision there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps no offset, so every value is normalised to UTC before it is bound: comparisons
    in SQL are then right on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Hand back aware UTC datetimes."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

items = Table(
    "items",
    metadata,
    Column("item_id", String(36), primary_key=True),
    # sha256 of (source, event_id): the idempotency key, kept after destruction so a
    # republished event never brings an erased item back, while the ids themselves go.
    Column("idem_key", String(64), nullable=False),
    Column("source", String(100), nullable=True),
    Column("event_id", String(200), nullable=True),
    Column("type", String(20), nullable=False),
    # pending: claimed, object not yet committed; stored; destroyed (tombstone kept).
    Column("status", String(12), nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("ingested_at", TS, nullable=False),
    Column("policy_version", String(32), nullable=False),
    # The event without its content reference or inline bytes: parties, attributes, ids.
    Column("event", JSON, nullable=False),
    Column("object_key", String(200), nullable=True),
    Column("object_version_id", String(200), nullable=True),
    Column("content_size_bytes", BigInteger, nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("content_type", String(200), nullable=True),
    Column("ciphertext_size_bytes", BigInteger, nullable=True),
    Column("segment_size_bytes", Integer, nullable=True),
    Column("key_id", String(64), nullable=True),
    # "<kek id>:<base64>" — the data key wrapped by the key ring; never in object storage.
    Column("wrapped_key", Text, nullable=True),
    # What the object store has been told, so a crash between steps is repaired later.
    Column("s3_legal_hold", Boolean, nullable=False, default=False),
    Column("s3_retain_until", TS, nullable=True),
    Column("s3_synced", Boolean, nullable=False, default=True),
    # Who submitted the event: the API principal, or kafka:<topic> (no personal data).
    Column("submitted_by", String(200), nullable=True),
    UniqueConstraint("idem_key", name="uq_items_idem_key"),
)
Index("ix_items_occurred", items.c.occurred_at)
Index("ix_items_status", items.c.status)
# Only the rows the sweeper must bring in line with the object store (revision 0002).
Index(
    "ix_items_unsynced",
    items.c.item_id,
    sqlite_where=items.c.s3_synced.is_(False),
    postgresql_where=items.c.s3_synced.is_(False),
)

item_parties = Table(
    "item_parties",
    metadata,
    Column("item_id", String(36), ForeignKey("items.item_id", ondelete="CASCADE"), nullable=False),
    Column("address", String(320), nullable=True),
    Column("subject_id", String(200), nullable=True),
    Column("staff_id", String(200), nullable=True),
)
Index("ix_parties_subject", item_parties.c.subject_id)
Index("ix_parties_staff", item_parties.c.staff_id)
Index("ix_parties_address", item_parties.c.address)
Index("ix_parties_item", item_parties.c.item_id)

item_attributes = Table(
    "item_attributes",
    metadata,
    Column("item_id", String(36), ForeignKey("items.item_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(100), nullable=False),
    Column("value", String(500), nullable=False),
)
Index("ix_attributes_kv", item_attributes.c.key, item_attributes.c.value)
Index("ix_attributes_item", item_attributes.c.item_id)

item_purposes = Table(
    "item_purposes",
    metadata,
    Column("item_id", String(36), ForeignKey("items.item_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("basis", String(40), nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("worm", Boolean, nullable=False, default=False),
    UniqueConstraint("item_id", "name", name="uq_item_purpose"),
)
Index("ix_purposes_expires", item_purposes.c.expires_at)
Index("ix_purposes_name", item_purposes.c.name)

holds = Table(
    "holds",
    metadata,
    Column("hold_id", String(36), primary_key=True),
    Column("matter", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("criteria", JSON, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("released_at", TS, nullable=True),
    Column("released_by", String(200), nullable=True),
)

hold_items = Table(
    "hold_items",
    metadata,
    Column("hold_id", String(36), ForeignKey("holds.hold_id"), nullable=False),
    Column("item_id", String(36), nullable=False),
    UniqueConstraint("hold_id", "item_id", name="uq_hold_item"),
)
Index("ix_hold_items_item", hold_items.c.item_id)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", String(200), primary_key=True),
    Column("restricted", Boolean, nullable=False, default=False),
    Column("updated_at", TS, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("subject_id", String(200), nullable=False),
    Column("purpose", String(100), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("source", String(100), nullable=False),
    UniqueConstraint("subject_id", "purpose", name="uq_consent"),
)

objections = Table(
    "objections",
    metadata,
    Column("subject_id", String(200), nullable=False),
    # "*" objects to every legitimate-interests purpose.
    Column("purpose", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("subject_id", "purpose", name="uq_objection"),
)

erasure_requests = Table(
    "erasure_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("subject_id", String(200), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", TS, nullable=False),
    Column("outcome", JSON, nullable=False),
)

deferred_erasures = Table(
    "deferred_erasures",
    metadata,
    Column("request_id", String(36), nullable=False),
    Column("item_id", String(36), nullable=False),
    Column("queued_at", TS, nullable=False),
    Column("done_at", TS, nullable=True),
    UniqueConstraint("request_id", "item_id", name="uq_deferred"),
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("item_id", String(36), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("destroyed_at", TS, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("policy_version", String(32), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", TS, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("item_id", String(36), nullable=True),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("published", Boolean, nullable=False, default=False),
)
Index("ix_audit_item", audit.c.item_id)
Index("ix_audit_actor", audit.c.actor)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("text", Text, nullable=False),
    Column("activated_at", TS, nullable=False),
    Column("activated_by", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", TS, nullable=False),
)

# Purposes a subject's request took off an item (withdrawal, objection, erasure): a policy
# change must never attach them again (ItemFacts.removed_purposes).
item_removed_purposes = Table(
    "item_removed_purposes",
    metadata,
    Column("item_id", String(36), nullable=False),
    Column("name", String(100), nullable=False),
    # withdrawal | objection | erasure
    Column("reason", String(20), nullable=False),
    Column("removed_at", TS, nullable=False),
    UniqueConstraint("item_id", "name", name="uq_removed_purpose"),
)
Index("ix_removed_purposes_item", item_removed_purposes.c.item_id)

# The head of the audit chain, written in the same transaction as each append: removing the
# newest entries (which leaves a shorter but internally valid chain) no longer matches it.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Messages the stream workers could not accept (each also went to the dead-letter topic), so
# an operator can read them without a Kafka client. Owned by storage/sql/dead_letters.py.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("failed_at", TS, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("error", String(2000), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("event_id", String(200), nullable=True),
    Column("source", String(100), nullable=True),
    UniqueConstraint("topic", "partition", "offset", name="uq_dead_letters_message"),
)
Index("ix_dead_letters_failed", dead_letters.c.failed_at)

# Signed checkpoints of the audit chain head: (seq, hash) signed with a key that is not in
# the catalog, so a rewrite of the whole chain no longer matches them. Owned by
# storage/sql/audit_checkpoints.py.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("at", TS, nullable=False),
    Column("kid", String(100), nullable=False),
    Column("signature", String(200), nullable=False),
    Column("published", Boolean, nullable=False, default=False),
)
