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
# Listing and filtering newest first, by state or by type, read in index order (0013).
Index("ix_items_status_occurred", items.c.status, items.c.occurred_at, items.c.item_id)
Index("ix_items_type_occurred", items.c.type, items.c.occurred_at, items.c.item_id)
# Counting stored items of some types (a hold's preview) from the index alone (0014).
Index("ix_items_status_type", items.c.status, items.c.type)
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
    # policies.holds.fold_address(address): what a hold on addresses compares (revision 0013).
    Column("address_folded", String(1000), nullable=True),
)
Index("ix_parties_subject", item_parties.c.subject_id, item_parties.c.item_id)
Index("ix_parties_staff", item_parties.c.staff_id, item_parties.c.item_id)
Index("ix_parties_address", item_parties.c.address)
Index("ix_parties_address_folded", item_parties.c.address_folded, item_parties.c.item_id)
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
    # Who set the restriction: "api" (the privacy team) or an event's source (revision 0011).
    Column("restricted_by", String(100), nullable=True),
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

# Disposition reviews (revision 0005): an item whose last purpose asks for a review waits
# here for a legal reviewer's destroy or extend. Owned by storage/sql/reviews.py. The item
# stays `stored` in `items` (holds, erasure and listing treat it as any stored item); the
# API shows it as `awaiting_review` while a review is open.
reviews = Table(
    "reviews",
    metadata,
    Column("review_id", String(36), primary_key=True),
    Column("item_id", String(36), nullable=False),
    # The purposes that asked for the review (names only).
    Column("purposes", JSON, nullable=False),
    # pending | destroy (decided, the sweeper destroys) | extended (closed)
    Column("state", String(12), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("decided_at", TS, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("justification", Text, nullable=True),
    Column("extend_by", String(64), nullable=True),
    Column("expires_at", TS, nullable=True),
)
Index("ix_reviews_item", reviews.c.item_id)
Index("ix_reviews_state", reviews.c.state, reviews.c.opened_at)
# Legal productions of a hold's items (owned by storage/sql/productions.py): the state of each
# build, so a restart resumes one in progress, and where its sealed zip is once it is ready.
productions = Table(
    "productions",
    metadata,
    Column("production_id", String(36), primary_key=True),
    Column("hold_id", String(36), nullable=False),
    Column("matter", String(200), nullable=False),
    # queued | running | ready | failed
    Column("status", String(20), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", TS, nullable=False),
    Column("started_at", TS, nullable=True),
    Column("finished_at", TS, nullable=True),
    # The process building it and until when its claim holds (renewed as it goes).
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", TS, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("items_total", Integer, nullable=False),
    Column("items_done", Integer, nullable=False),
    Column("bytes_done", BigInteger, nullable=False),
    Column("error", String(2000), nullable=True),
    # The sealed zip as StoredContent fields (its wrapped data key: never in object storage).
    Column("stored", JSON, nullable=True),
    Column("kid", String(100), nullable=True),
)
Index("ix_productions_status", productions.c.status)

# The items of a production, fixed when it was requested, each with its control number.
production_items = Table(
    "production_items",
    metadata,
    Column("production_id", String(36), ForeignKey("productions.production_id"), nullable=False),
    Column("item_id", String(36), nullable=False),
    Column("control_number", Integer, nullable=False),
    UniqueConstraint("production_id", "item_id", name="uq_production_item"),
)
Index("ix_production_items_item", production_items.c.item_id)

# Requests in progress (a subject's export or erasure) and the items each names: nothing
# destroys those items until the request closes or its guard expires (owned by
# storage/sql/guards.py).
request_guards = Table(
    "request_guards",
    metadata,
    Column("guard_id", String(36), primary_key=True),
    # export | erasure
    Column("kind", String(20), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)
request_guard_items = Table(
    "request_guard_items",
    metadata,
    Column("guard_id", String(36), ForeignKey("request_guards.guard_id"), nullable=False),
    Column("item_id", String(36), nullable=False),
    UniqueConstraint("guard_id", "item_id", name="uq_request_guard_item"),
)
Index("ix_request_guard_items_item", request_guard_items.c.item_id)
# Proof of disposal (revision 0007): tombstones are listed and certified by day.
Index("ix_tombstones_destroyed", tombstones.c.destroyed_at, tombstones.c.item_id)

# Integrity passes (revision 0007): one row per pass, saved as it goes so an interrupted pass
# resumes where it stopped. Owned by storage/sql/fixity.py.
fixity_passes = Table(
    "fixity_passes",
    metadata,
    Column("pass_id", String(36), primary_key=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    # objects | orphans | done
    Column("phase", String(12), nullable=False),
    # The last item id or object key fully checked.
    Column("cursor", String(300), nullable=False, default=""),
    Column("objects_checked", BigInteger, nullable=False, default=0),
    Column("bytes_checked", BigInteger, nullable=False, default=0),
    Column("mismatched", BigInteger, nullable=False, default=0),
    Column("missing", BigInteger, nullable=False, default=0),
    Column("orphaned", BigInteger, nullable=False, default=0),
    # The first problems found (item ids and object keys only: no personal data).
    Column("problems", JSON, nullable=False),
    Column("bucket", JSON, nullable=True),
)
Index("ix_fixity_passes_started", fixity_passes.c.started_at)
# The register of disclosures to third parties (court orders, lawful requests), and the items
# each one held with the subjects they were linked to then, so the recipients of a subject's
# data can be named after the items are erased or relinked. Owned by storage/sql/disclosures.py.
disclosures = Table(
    "disclosures",
    metadata,
    Column("disclosure_id", String(36), primary_key=True),
    Column("recipient", String(200), nullable=False),
    Column("legal_basis", String(200), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("hold_id", String(36), nullable=True),
    Column("disclosed_at", TS, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", TS, nullable=False),
)
Index("ix_disclosures_disclosed", disclosures.c.disclosed_at)

disclosure_items = Table(
    "disclosure_items",
    metadata,
    Column(
        "disclosure_id",
        String(36),
        ForeignKey("disclosures.disclosure_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("item_id", String(36), nullable=False),
    # One row per subject the item was linked to (NULL: an item with no subject party).
    Column("subject_id", String(200), nullable=True),
)
Index("ix_disclosure_items_disclosure", disclosure_items.c.disclosure_id)
Index("ix_disclosure_items_item", disclosure_items.c.item_id)
Index("ix_disclosure_items_subject", disclosure_items.c.subject_id)

# The notices the privacy team owes (restriction lifting, recipients to inform), kept until
# the notice publisher has them on the notices topic. Owned by storage/sql/notices.py.
notices = Table(
    "notices",
    metadata,
    Column("notice_id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", TS, nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("body", JSON, nullable=False),
    Column("published", Boolean, nullable=False, default=False),
)
Index("ix_notices_published", notices.c.published)

# Restrictions to lift at a later time, once their notice is on the notices topic.
restriction_liftings = Table(
    "restriction_liftings",
    metadata,
    Column("subject_id", String(200), primary_key=True),
    Column("effective_at", TS, nullable=False),
    Column("notice_id", Integer, nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", TS, nullable=False),
)
# Why a hold was released (SPEC section 7, `{"reason"?}` on release), shown with the hold.
# Owned by storage/sql/holds.py; revision 0010.
MAX_RELEASE_REASON_CHARS = 2000
holds.append_column(Column("release_reason", String(MAX_RELEASE_REASON_CHARS), nullable=True))

# The fingerprint (SHA-256 of the event as validated) an item was stored from, so an event
# that reuses its (source, event_id) with other content is told apart from a redelivery and
# dead-lettered as conflicting_duplicate. Owned by storage/sql/catalog.py; revision 0010.
items.append_column(Column("event_sha256", String(64), nullable=True))
# The catalog's own identity, one row made on first use: the bucket's marker object names it,
# so keepline refuses to serve, or to reconcile, a bucket another catalog filled.
# Owned by storage/sql/instance.py.
catalog_instance = Table(
    "catalog_instance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("instance_id", String(36), nullable=False),
    Column("created_at", TS, nullable=False),
)
# An erasure stands for the subject's items that arrive after it: ingest looks it up by subject.
Index("ix_erasure_requests_subject", erasure_requests.c.subject_id)
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
