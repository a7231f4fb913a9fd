"""Ports of the storage context: the object store and the key ring."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from storage.keyring import KeyRing, WrappedKey

__all__ = ["ContentSource", "KeyRing", "ObjectStore", "ObjectVersion", "PutResult", "WrappedKey"]


@dataclass(frozen=True, slots=True)
class PutResult:
    """What the store answered to a completed upload."""

    key: str
    version_id: str | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of an object."""

    key: str
    version_id: str | None


class ContentSource(Protocol):
    """Where an event's content is fetched from (its `content.uri`), as the operator allows."""

    def open(self, uri: str, *, size_bytes: int | None = None) -> Iterator[bytes]:
        """Chunks of the content at uri, at most size_bytes; blocking (run it in a thread)."""
        ...


class ObjectStore(Protocol):
    """Where ciphertext lives. Blocking calls: async callers run them in a thread."""

    def ensure_bucket(self) -> None:
        """Create the bucket (with Object Lock where supported) if it is missing."""
        ...

    def ping(self) -> None:
        """Raise ObjectStoreUnavailableError if the store cannot be reached."""
        ...

    def put_stream(
        self, key: str, reader: BinaryIO, *, content_type: str, tags: Mapping[str, str]
    ) -> PutResult:
        """Upload everything reader yields (length unknown, multipart when large)."""
        ...

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        """Stream length bytes from offset of one version."""
        ...

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version (and delete marker) of key."""
        ...

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        """Remove the given versions for good."""
        ...

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        """Set or clear the S3 legal-hold flag of one version."""
        ...

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        """Put an Object Lock retention on one version until the given time."""
        ...

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
        """Replace the tags of one version."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under prefix."""
        ...

    def list_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version under prefix, the versions of one key together."""
        ...
