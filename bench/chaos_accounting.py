"""What a chaos run proves: every published event stored once, every object referenced.

Pure: the published events, the catalog's items, the dead letters and the bucket's object
versions go in; the counts of SPEC section 8 (`lost`, `duplicated`, `orphans`) and the
checks beside them come out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The idempotency key of an event: (source, event_id).
EventKey = tuple[str, str]
#: An object version in the bucket: (object name, version id).
VersionRef = tuple[str, str | None]

STORED = "stored"
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Expected:
    """A published event and the content it carries.

    Attributes:
        key: (source, event_id).
        type: ``call_recording``, ``email`` or ``chat``.
        size_bytes: Size of its content; None for a metadata-only event.
        sha256: Hex sha256 of its content; None for a metadata-only event.
    """

    key: EventKey
    type: str
    size_bytes: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One row of the catalog's items, as the accounting needs it."""

    item_id: str
    source: str | None
    event_id: str | None
    status: str
    object_key: str | None
    version_id: str | None
    size_bytes: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Tally:
    """The outcome of a run.

    Attributes:
        events: Distinct (source, event_id) published.
        stored: Stored items of published events (more than ``events`` minus the lost
            ones only if some are duplicated).
        lost: Published, not stored, not dead-lettered.
        duplicated: Published events with more than one item.
        dead_lettered: Published events dead-lettered and not stored.
        orphans: Object versions no stored item references.
        missing_objects: Stored items whose object version is not in the bucket.
        mismatched: Stored items whose recorded size or sha256 is not what was published.
        unexpected: Items of events that were never published.
        pending: Items still claimed but not stored.
    """

    events: int
    stored: int
    lost: tuple[EventKey, ...]
    duplicated: tuple[EventKey, ...]
    dead_lettered: tuple[EventKey, ...]
    orphans: tuple[VersionRef, ...]
    missing_objects: tuple[str, ...]
    mismatched: tuple[str, ...]
    unexpected: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Nothing lost, doubled, orphaned, missing, altered or dead-lettered."""
        return not (
            self.lost
            or self.duplicated
            or self.dead_lettered
            or self.orphans
            or self.missing_objects
            or self.mismatched
            or self.unexpected
        )


def _matches(row: ItemRow, expected: Expected) -> bool:
    if expected.size_bytes is None:
        return row.size_bytes is None and row.object_key is None
    return row.size_bytes == expected.size_bytes and row.sha256 == expected.sha256


def tally(
    expected: Mapping[EventKey, Expected],
    rows: Iterable[ItemRow],
    dead_letters: Iterable[EventKey],
    versions: Iterable[VersionRef],
) -> Tally:
    """Account for a run.

    Args:
        expected: Every published event, by key.
        rows: Every item of the catalog (any status).
        dead_letters: The (source, event_id) of each dead letter whose value parsed.
        versions: Every object version in the bucket (delete markers left out).
    """
    stored: defaultdict[EventKey, list[ItemRow]] = defaultdict(list)
    pending: list[str] = []
    unexpected: list[str] = []
    for row in rows:
        key = (row.source or "", row.event_id or "")
        if key not in expected:
            unexpected.append(row.item_id)
        elif row.status == STORED:
            stored[key].append(row)
        elif row.status == PENDING:
            pending.append(row.item_id)
    lettered = set(dead_letters)
    in_bucket = Counter(versions)
    referenced = {
        (row.object_key, row.version_id)
        for found in stored.values()
        for row in found
        if row.object_key is not None
    }
    missing = [
        row.item_id
        for found in stored.values()
        for row in found
        if row.object_key is not None and (row.object_key, row.version_id) not in in_bucket
    ]
    mismatched = [
        row.item_id
        for key, found in stored.items()
        for row in found
        if not _matches(row, expected[key])
    ]
    return Tally(
        events=len(expected),
        stored=sum(len(found) for found in stored.values()),
        lost=tuple(sorted(k for k in expected if k not in stored and k not in lettered)),
        duplicated=tuple(sorted(k for k, found in stored.items() if len(found) > 1)),
        dead_lettered=tuple(sorted(k for k in expected if k in lettered and k not in stored)),
        orphans=tuple(
            sorted((v for v in in_bucket if v not in referenced), key=lambda v: (v[0], v[1] or ""))
        ),
        missing_objects=tuple(sorted(missing)),
        mismatched=tuple(sorted(mismatched)),
        unexpected=tuple(sorted(unexpected)),
        pending=tuple(sorted(pending)),
    )
