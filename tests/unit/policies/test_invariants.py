"""The invariants keepline's retention rests on, checked on generated items, holds, policies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies import (
    Hold,
    ItemFacts,
    LawfulBasis,
    Policy,
    SweepAction,
    active_holds_covering,
    decide,
    erasure_outcome,
    purposes_at_ingest,
    worm_retain_until,
)
from tests.unit.policies.strategies import (
    aware_datetimes,
    consent_grants,
    held_items,
    hold_lists,
    items,
    policies,
)

later = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20_000))


@given(items, policies(), hold_lists, aware_datetimes)
def test_nothing_held_is_ever_destroyed(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime
) -> None:
    if active_holds_covering(holds, item):
        assert decide(item, policy, holds, now).action is not SweepAction.DESTROY


@given(held_items(), policies(), hold_lists, aware_datetimes)
def test_an_item_with_a_covering_hold_survives_every_sweep(
    held: tuple[ItemFacts, Hold], policy: Policy, others: list[Hold], now: datetime
) -> None:
    item, hold = held
    decision = decide(item, policy, [*others, hold], now)
    assert decision.action is not SweepAction.DESTROY
    assert hold.hold_id in decision.holds
    assert not erasure_outcome(item, [*others, hold], now).erase


@given(items, policies(), hold_lists, aware_datetimes)
def test_destroy_means_no_purpose_and_no_hold(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime
) -> None:
    decision = decide(item, policy, holds, now)
    if decision.action is SweepAction.DESTROY:
        assert item.unexpired_purposes(now) == ()
        assert active_holds_covering(holds, item) == ()
        assert decision.remaining == ()
        assert decision.holds == ()


@given(items, policies(), hold_lists, aware_datetimes)
def test_nothing_expired_and_unheld_survives_a_sweep(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime
) -> None:
    if not item.unexpired_purposes(now) and not active_holds_covering(holds, item):
        assert decide(item, policy, holds, now).action is SweepAction.DESTROY


@given(items, policies(), hold_lists, aware_datetimes)
def test_the_sweeper_keeps_exactly_the_unexpired_purposes(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime
) -> None:
    decision = decide(item, policy, holds, now)
    assert decision.remaining == item.unexpired_purposes(now)
    assert {state.name for state in decision.remaining}.isdisjoint(decision.expired_purposes)
    assert len(decision.remaining) + len(decision.expired_purposes) == len(item.purposes)


@given(items, policies(), hold_lists, aware_datetimes, later)
def test_decide_is_monotone_in_time_for_unheld_items(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime, wait: timedelta
) -> None:
    unheld = [hold for hold in holds if not active_holds_covering([hold], item)]
    if decide(item, policy, unheld, now).action is SweepAction.DESTROY:
        assert decide(item, policy, unheld, now + wait).action is SweepAction.DESTROY


@given(items, hold_lists, aware_datetimes)
def test_erasure_never_drops_an_unexpired_legal_obligation(
    item: ItemFacts, holds: list[Hold], now: datetime
) -> None:
    outcome = erasure_outcome(item, holds, now)
    obligations = [
        state
        for state in item.unexpired_purposes(now)
        if state.basis is LawfulBasis.LEGAL_OBLIGATION
    ]
    assert all(state in outcome.keep_purposes for state in obligations)
    assert all(state.basis is LawfulBasis.LEGAL_OBLIGATION for state in outcome.keep_purposes)
    if obligations or active_holds_covering(holds, item):
        assert not outcome.erase
        assert outcome.reason is not None
    else:
        assert outcome.erase
        assert outcome.reason is None
    assert outcome.deferred == (bool(active_holds_covering(holds, item)) and not obligations)


@given(items, aware_datetimes)
def test_worm_retention_covers_every_unexpired_worm_purpose(item: ItemFacts, now: datetime) -> None:
    until = worm_retain_until(item, now)
    locked = [state for state in item.unexpired_purposes(now) if state.worm]
    if until is None:
        assert not locked
    else:
        assert until > now
        assert all(state.expires_at <= until for state in locked)


@given(items, policies(), consent_grants)
def test_consent_purposes_attach_only_with_every_subjects_grant(
    item: ItemFacts, policy: Policy, consents: Mapping[str, frozenset[str]]
) -> None:
    states = purposes_at_ingest(
        item_type=item.type,
        attributes=item.attributes,
        occurred_at=item.occurred_at,
        subject_ids=item.subject_ids,
        policy=policy,
        consents=consents,
    )
    for state in states:
        assert state.expires_at >= item.occurred_at
        if state.basis is LawfulBasis.CONSENT:
            assert item.subject_ids
            assert all(state.name in consents.get(s, frozenset()) for s in item.subject_ids)
