"""What the policy engine decides: the sweeper's decision, erasure answers, policy changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from policies.models import PurposeState

__all__ = [
    "Decision",
    "DecisionReason",
    "ErasureOutcome",
    "ExpiryMove",
    "PolicyChange",
    "SweepAction",
]


class SweepAction(StrEnum):
    """What the sweeper does with one item."""

    KEEP = "keep"
    DROP_PURPOSES = "drop_purposes"
    DESTROY = "destroy"
    REVIEW = "review"


class DecisionReason(StrEnum):
    """Why the sweeper acts as it does; the destroy reasons go into tombstones.

    Attributes:
        RETENTION_EXPIRED: Purposes ran out (destroy, or drop_purposes).
        NO_PURPOSE: Nothing was left to expire: no rule matched at ingest, or subject
            requests removed every purpose (destroy).
        LEGAL_HOLD: Only legal holds keep the item (keep).
        PURPOSES_REMAIN: Unexpired purposes keep the item (keep).
        AWAITING_REVIEW: The item's last purpose asks for a disposition review (review).
        REVIEW_DESTROY: A reviewer decided the item is to be destroyed (destroy).
    """

    RETENTION_EXPIRED = "retention_expired"
    NO_PURPOSE = "no_purpose"
    LEGAL_HOLD = "legal_hold"
    PURPOSES_REMAIN = "purposes_remain"
    AWAITING_REVIEW = "awaiting_review"
    REVIEW_DESTROY = "review_destroy"


class ExpiryMove(NamedTuple):
    """A purpose whose expiry a policy change moves."""

    name: str
    old_expires_at: datetime
    new_expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The sweeper's decision for one item.

    Attributes:
        action: Keep the item, drop its expired purposes, destroy it, or leave it to a
            disposition review.
        expired_purposes: Names of the purposes that expired and are to be dropped.
        remaining: The purposes the item keeps.
        holds: Ids of the active legal holds covering the item, sorted.
        reason: Why; for ``destroy``, the tombstone's reason.
    """

    action: SweepAction
    expired_purposes: tuple[str, ...]
    remaining: tuple[PurposeState, ...]
    holds: tuple[str, ...]
    reason: DecisionReason


@dataclass(frozen=True, slots=True, kw_only=True)
class ErasureOutcome:
    """The answer to a subject's erasure request for one item.

    Attributes:
        item_id: The item.
        erase: True when the item is to be erased now.
        reason: When retained, ``legal_hold:<matter>`` or ``legal_obligation:<purpose>``.
        keep_purposes: The purposes the retained item keeps; all others are removed.
        deferred: True when only legal holds retain the item, so the erasure is queued and
            carried out once the last covering hold is released.
    """

    item_id: str
    erase: bool
    reason: str | None = None
    keep_purposes: tuple[PurposeState, ...] = ()
    deferred: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChange:
    """How a new policy changes one stored item's purposes.

    Attributes:
        item_id: The item.
        added: Purposes the new policy attaches that the item does not have.
        removed: Unexpired purposes the item has that the new policy no longer attaches.
        moved: Purposes whose expiry the new policy moves.
        restated: Names of purposes whose basis or worm flag the new policy changes.
        purposes: The item's purposes under the new policy; store these.
    """

    item_id: str
    added: tuple[PurposeState, ...] = ()
    removed: tuple[PurposeState, ...] = ()
    moved: tuple[ExpiryMove, ...] = ()
    restated: tuple[str, ...] = ()
    purposes: tuple[PurposeState, ...] = ()
