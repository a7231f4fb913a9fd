"""Data-subject rights: erasure, consent withdrawal and objection, as pure decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from policies.holds import active_holds_covering
from policies.models import Hold, ItemFacts, LawfulBasis, Policy, PurposeState
from policies.outcomes import ErasureOutcome

__all__ = [
    "API_RESTRICTION",
    "RestrictionState",
    "apply_consent_withdrawal",
    "apply_objection",
    "erasure_outcome",
    "ignored_objections",
    "restriction_after",
]


def erasure_outcome(item: ItemFacts, holds: Sequence[Hold], now: datetime) -> ErasureOutcome:
    """The answer to an erasure request for one item where the subject is a party.

    In order:

    1. An active legal hold covers the item: it is retained with reason
       ``legal_hold:<matter>`` (the matter of the covering hold with the smallest
       ``hold_id``). It keeps only its unexpired legal-obligation purposes. If it has none,
       the erasure is ``deferred``: queued until the last covering hold is released.
    2. It has an unexpired legal-obligation purpose: it is retained with reason
       ``legal_obligation:<purpose>`` (the one that expires last) and keeps only its
       legal-obligation purposes. Not deferred: when they expire the sweeper destroys it.
    3. Otherwise it is erased.

    Erasure never removes an unexpired legal-obligation purpose: the law that requires
    keeping the record outranks the subject's request (GDPR Art. 17(3)(b)).

    Args:
        item: The item.
        holds: Legal holds to consider; only active ones covering the item count.
        now: The instant of the request (aware).

    Returns:
        The outcome.
    """
    obligations = tuple(
        state
        for state in item.unexpired_purposes(now)
        if state.basis == LawfulBasis.LEGAL_OBLIGATION
    )
    covering = active_holds_covering(holds, item)
    if covering:
        return ErasureOutcome(
            item_id=item.item_id,
            erase=False,
            reason=f"legal_hold:{covering[0].matter}",
            keep_purposes=obligations,
            deferred=not obligations,
        )
    if obligations:
        binding = max(obligations, key=lambda state: (state.expires_at, state.name))
        return ErasureOutcome(
            item_id=item.item_id,
            erase=False,
            reason=f"legal_obligation:{binding.name}",
            keep_purposes=obligations,
        )
    return ErasureOutcome(item_id=item.item_id, erase=True)


def apply_consent_withdrawal(item: ItemFacts, purpose: str) -> tuple[PurposeState, ...]:
    """The item's purposes after its subject withdraws consent for one purpose.

    Only a purpose whose basis is consent is removed: a withdrawal cannot touch processing
    that rests on another basis, such as a legal obligation that happens to share a name.

    Args:
        item: The item.
        purpose: The purpose whose consent is withdrawn.

    Returns:
        The purposes the item keeps, in stored order.
    """
    return tuple(
        state
        for state in item.purposes
        if not (state.name == purpose and state.basis == LawfulBasis.CONSENT)
    )


def apply_objection(item: ItemFacts, purposes: Sequence[str] | None) -> tuple[PurposeState, ...]:
    """The item's purposes after its subject objects to processing (GDPR Art. 21).

    An objection only reaches purposes based on legitimate interests. An objection naming
    a purpose on another basis is ignored for that purpose (`ignored_objections` names such
    purposes so the answer can report them).

    Args:
        item: The item.
        purposes: The purposes objected to, or ``None`` for every legitimate-interests
            purpose.

    Returns:
        The purposes the item keeps, in stored order.
    """
    named = None if purposes is None else frozenset(purposes)
    return tuple(
        state
        for state in item.purposes
        if not (
            state.basis == LawfulBasis.LEGITIMATE_INTERESTS
            and (named is None or state.name in named)
        )
    )


def ignored_objections(policy: Policy, purposes: Sequence[str] | None) -> tuple[str, ...]:
    """The purposes named in an objection that an objection cannot remove.

    Args:
        policy: The active policy.
        purposes: The purposes objected to, or ``None`` (every legitimate-interests
            purpose, so nothing is ignored).

    Returns:
        Names, sorted and without repeats, of purposes that are not based on legitimate
        interests in the policy, or not defined in it.
    """
    if purposes is None:
        return ()
    return tuple(
        sorted(
            {
                name
                for name in purposes
                if name not in policy.purposes
                or policy.purposes[name].basis != LawfulBasis.LEGITIMATE_INTERESTS
            }
        )
    )


#: Who set a restriction through the API: the privacy team.
API_RESTRICTION = "api"


@dataclass(frozen=True, slots=True)
class RestrictionState:
    """Whether a subject's items are restricted, and who restricted them (a source, or api)."""

    restricted: bool
    restricted_by: str | None = None


def restriction_after(current: RestrictionState, *, restricted: bool, by: str) -> RestrictionState:
    """The restriction once ``by`` (``api``, or an event's source) asked for ``restricted``.

    The privacy team's restriction (through the API) outranks a system's: an event never
    lifts it, nor takes it over by restricting again. An event lifts only a restriction
    that events of its own source set; one set before keepline recorded who set it (no
    restricted_by) is the privacy team's to lift.
    """
    if restricted:
        if current.restricted and current.restricted_by == API_RESTRICTION:
            return current
        return RestrictionState(restricted=True, restricted_by=by)
    if not current.restricted:
        return RestrictionState(restricted=False)
    if by in {API_RESTRICTION, current.restricted_by}:
        return RestrictionState(restricted=False)
    return current
