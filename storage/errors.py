"""Errors of the storage package: one root, each subclass carrying what a caller needs.

Like aiokafka's errors, every class says whether retrying the same call can succeed
(``retriable``): only an unreachable object store or catalog is worth retrying; a forged
object, a missing key or a bad range stays so. Messages never hold key material or content
bytes, and catalog errors never hold the driver's message (it can quote personal data).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar


class StorageError(Exception):
    """Root of every error the storage package raises."""

    retriable: ClassVar[bool] = False


class IntegrityError(StorageError):
    """Ciphertext failed authentication: tampered, truncated, reordered or not this item's."""

    def __init__(
        self, message: str, *, item_id: str | None = None, segment: int | None = None
    ) -> None:
        self.item_id = item_id
        self.segment = segment
        where = []
        if item_id is not None:
            where.append(f"item {item_id}")
        if segment is not None:
            where.append(f"segment {segment}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class FormatError(IntegrityError):
    """The bytes are not an encrypted object in a format version this code reads."""


class InvalidRangeError(StorageError, ValueError):
    """A plaintext byte range that is empty, reversed or beyond the end of the item."""

    def __init__(self, *, start: int, end: int, size_bytes: int) -> None:
        self.start = start
        self.end = end
        self.size_bytes = size_bytes
        super().__init__(
            f"range {start}-{end} is not satisfiable for an item of {size_bytes} bytes"
        )


class KeyRingError(StorageError):
    """The key ring cannot be loaded, created or saved as it stands."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class KeyNotFoundError(KeyRingError):
    """No key-encryption key with this id is in the key ring."""

    def __init__(self, key_id: str, *, item_id: str | None = None) -> None:
        self.key_id = key_id
        self.item_id = item_id
        suffix = f" (item {item_id})" if item_id is not None else ""
        super().__init__(f"key-encryption key {key_id!r} is not in the key ring{suffix}")


class UnwrapError(IntegrityError):
    """A wrapped data key failed authentication: altered, or wrapped for another item."""

    def __init__(self, *, key_id: str, item_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"wrapped data key under {key_id!r} failed authentication", item_id=item_id
        )


class ObjectStoreError(StorageError):
    """The object store refused a request."""


class ObjectStoreUnavailableError(ObjectStoreError):
    """The object store could not be reached or asked to slow down; try again later."""

    retriable: ClassVar[bool] = True

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"object store unavailable: {reason}")


class ObjectNotFoundError(ObjectStoreError):
    """No object (or object version) under this key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no object {key!r}")


class ContentMismatchError(StorageError):
    """Fetched content does not match its reference's size or sha256: the input is bad.

    The message never holds what was fetched (its size or digest): it ends up in a dead
    letter, which whoever publishes events can read, and would let them learn the size and
    digest of any content keepline can reach. `actual` stays on the error for the caller.
    """

    def __init__(self, *, field: str, expected: str, actual: str) -> None:
        self.field = field
        self.expected = expected
        self.actual = actual
        if field == "sha256":
            message = "content failed its sha256 check"
        elif field == "size_bytes":
            message = "content size differs from size_bytes"
        else:
            message = f"content failed its {field} check"
        super().__init__(message)


class HoldNotFoundError(StorageError):
    """No legal hold with this id."""

    def __init__(self, hold_id: str) -> None:
        self.hold_id = hold_id
        super().__init__(f"no hold {hold_id!r}")


class HoldAlreadyReleasedError(StorageError):
    """The legal hold was released before; a release cannot be repeated."""

    def __init__(self, hold_id: str, released_at: datetime) -> None:
        self.hold_id = hold_id
        self.released_at = released_at
        super().__init__(f"hold {hold_id!r} was released at {released_at.isoformat()}")


class LeaseUnavailableError(StorageError):
    """Another process holds the lease; try again once it is released or expires."""

    def __init__(self, name: str, holder: str | None, expires_at: datetime | None) -> None:
        self.name = name
        self.holder = holder
        self.expires_at = expires_at
        until = f" until {expires_at.isoformat()}" if expires_at else ""
        super().__init__(f"lease {name!r} is held by {holder or 'another process'}{until}")


class CatalogError(StorageError):
    """The catalog database failed a statement; the driver's own message stays out of it."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code
        super().__init__(f"{message} ({code})" if code else message)


class CatalogUnavailableError(CatalogError):
    """The catalog could not be reached, dropped the connection or is busy; try again later."""

    retriable: ClassVar[bool] = True


class CatalogConflictError(CatalogError):
    """A write collided with a row already there (a unique key or a foreign key)."""


class ReviewNotPendingError(StorageError):
    """The item has no disposition review waiting for a decision."""

    def __init__(self, item_id: str, state: str | None) -> None:
        self.item_id = item_id
        self.state = state
        found = f"its review is {state}" if state else "it has no review"
        super().__init__(f"item {item_id} awaits no review decision: {found}")


class BucketClaimedError(StorageError):
    """The bucket's marker names another catalog: this keepline is pointed at the wrong one."""

    def __init__(self, *, bucket_instance: str, catalog_instance: str) -> None:
        self.bucket_instance = bucket_instance
        self.catalog_instance = catalog_instance
        super().__init__(
            f"the bucket belongs to catalog {bucket_instance}, not to this catalog "
            f"({catalog_instance}): check KEEPLINE_CATALOG_URL and KEEPLINE_S3_BUCKET"
        )


class ItemHeldError(StorageError):
    """An active legal hold covers the item: it was not destroyed (the hold wins)."""

    def __init__(self, item_id: str, hold_id: str, matter: str) -> None:
        self.item_id = item_id
        self.hold_id = hold_id
        self.matter = matter
        super().__init__(f"item {item_id} is under hold {hold_id}")
