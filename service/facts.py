"""The policy engine's view of catalogued items (one conversion, used everywhere)."""

from __future__ import annotations

from policies.models import ArtefactType, ItemFacts, LawfulBasis, PurposeState
from storage.models import ItemRecord


def purpose_states(record: ItemRecord) -> tuple[PurposeState, ...]:
    """The item's purposes as the policy engine models them."""
    return tuple(
        PurposeState(name=p.name, basis=LawfulBasis(p.basis), expires_at=p.expires_at, worm=p.worm)
        for p in record.purposes
    )


def item_facts(record: ItemRecord, removed: frozenset[str] = frozenset()) -> ItemFacts:
    """What the policy engine needs to know of a catalogued item."""
    return ItemFacts(
        item_id=record.item_id,
        type=ArtefactType(record.type),
        occurred_at=record.occurred_at,
        attributes=record.attributes,
        subject_ids=record.subject_ids,
        addresses=record.addresses,
        staff_ids=record.staff_ids,
        purposes=purpose_states(record),
        removed_purposes=removed,
    )
