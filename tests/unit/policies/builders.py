"""Plain builders for table-driven policy tests: short names for the values tables need."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from policies import (
    ArtefactType,
    Hold,
    HoldCriteria,
    ItemFacts,
    LawfulBasis,
    PurposeState,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)

LI = LawfulBasis.LEGITIMATE_INTERESTS
LO = LawfulBasis.LEGAL_OBLIGATION
CONSENT = LawfulBasis.CONSENT
CONTRACT = LawfulBasis.CONTRACT

CALL = ArtefactType.CALL_RECORDING
EMAIL = ArtefactType.EMAIL
CHAT = ArtefactType.CHAT


def day(n: float) -> datetime:
    """The instant ``n`` days after T0."""
    return T0 + timedelta(days=n)


def state(
    name: str, basis: LawfulBasis = LI, expires: float = 10, *, worm: bool = False
) -> PurposeState:
    """A purpose state expiring ``expires`` days after T0."""
    return PurposeState(name=name, basis=basis, expires_at=day(expires), worm=worm)


def item(
    *purposes: PurposeState,
    item_id: str = "i1",
    kind: ArtefactType = CALL,
    occurred_at: datetime = T0,
    subjects: Iterable[str] = ("s1",),
    addresses: Iterable[str] = (),
    staff: Iterable[str] = (),
    attributes: Mapping[str, str] | None = None,
    removed: Iterable[str] = (),
) -> ItemFacts:
    """An item with the given purposes and parties."""
    return ItemFacts(
        item_id=item_id,
        type=kind,
        occurred_at=occurred_at,
        attributes=attributes or {},
        subject_ids=frozenset(subjects),
        addresses=frozenset(addresses),
        staff_ids=frozenset(staff),
        purposes=purposes,
        removed_purposes=frozenset(removed),
    )


def hold(
    hold_id: str = "h1",
    matter: str = "Acme v Widget",
    *,
    released: bool = False,
    **criteria: object,
) -> Hold:
    """A hold; keyword arguments are HoldCriteria fields (default: subject s1)."""
    fields: dict[str, object] = criteria or {"subject_ids": frozenset({"s1"})}
    return Hold(
        hold_id=hold_id,
        matter=matter,
        criteria=HoldCriteria(**fields),  # type: ignore[arg-type]  # tables pass exact types
        released_at=day(1) if released else None,
    )
