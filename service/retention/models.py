"""Requests of the retention use cases: the explanation and disposition reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policies.durations import IsoDuration
from policies.review import ReviewDecision, ReviewState


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplainRequest:
    """Why is this item kept, and until when?

    Attributes:
        item_id: The item.
    """

    item_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewQueueRequest:
    """Which items are in one state of disposition review.

    Attributes:
        state: The state asked for (``pending``: the queue a reviewer works through).
        limit: At most this many.
        after: Where the previous page ended: (opened_at, review_id).
    """

    state: ReviewState = ReviewState.PENDING
    limit: int = 100
    after: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewDecisionRequest:
    """A reviewer's decision on an item awaiting disposition review.

    Attributes:
        item_id: The item.
        decision: Destroy it (on the next sweep), or extend its retention.
        extend_by: For ``extend``: how long from now the item is kept again.
        justification: Why, in the reviewer's words (audited).
        by: The reviewer's principal.
        role: The reviewer's role (audited).
    """

    item_id: str
    decision: ReviewDecision
    justification: str
    by: str
    role: str
    extend_by: IsoDuration | None = None
