"""Disposition review: which items wait for a person before they are destroyed (SPEC 4, 5).

A purpose marked ``review: true`` in the policy does not let the sweeper destroy an item
whose last purpose it was. "Last" means the purposes with the latest expiry among those the
item still lists: the sweeper drops purposes only while a later one remains, so that group
is the same whenever the sweeper looks, and the answer never depends on when passes ran.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from policies.durations import IsoDuration
from policies.errors import NaiveDatetimeError
from policies.models import ItemFacts, Policy

__all__ = [
    "ReviewDecision",
    "ReviewState",
    "extended_expiry",
    "review_purposes",
]


class ReviewState(StrEnum):
    """Where an item's disposition review stands.

    Attributes:
        PENDING: Waiting for a ``legal`` reviewer.
        DESTROY: A reviewer decided to destroy; the next sweep does it (unless a hold wins).
        EXTENDED: A reviewer gave the item a new expiry; the review is closed.
    """

    PENDING = "pending"
    DESTROY = "destroy"
    EXTENDED = "extended"


class ReviewDecision(StrEnum):
    """What a reviewer decides."""

    DESTROY = "destroy"
    EXTEND = "extend"


def review_purposes(item: ItemFacts, policy: Policy) -> tuple[str, ...]:
    """The item's last purposes that the policy marks for review (empty: none asks).

    Args:
        item: The item, with the purposes it still lists (expired ones included).
        policy: The active policy; a purpose it no longer declares asks for nothing.

    Returns:
        The names, in the item's order.
    """
    if not item.purposes:
        return ()
    last = max(state.expires_at for state in item.purposes)
    return tuple(
        state.name
        for state in item.purposes
        if state.expires_at == last
        and state.name in policy.purposes
        and policy.purposes[state.name].review
    )


def extended_expiry(decided_at: datetime, extend_by: IsoDuration) -> datetime:
    """The new expiry an ``extend`` decision gives: ``extend_by`` after the decision.

    Raises:
        NaiveDatetimeError: ``decided_at`` has no timezone.
        DurationOverflowError: The expiry is beyond the last representable date.
    """
    if decided_at.tzinfo is None or decided_at.utcoffset() is None:
        raise NaiveDatetimeError("decided_at")
    return extend_by.after(decided_at)
