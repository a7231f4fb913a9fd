"""The retention explanation: tables of what it says, and that the sweeper does just that."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import Hold, ItemFacts, Policy, SweepAction, decide
from policies.durations import parse_duration
from policies.explanation import PurposeStatus, Removal, explain
from policies.models import Purpose
from policies.review import ReviewState
from tests.unit.policies.builders import LI, LO, day, hold, item, state
from tests.unit.policies.strategies import aware_datetimes, hold_lists, items, policies


def _with_reviews(policy: Policy, flags: list[bool]) -> Policy:
    padded = flags + [False] * len(policy.purposes)
    purposes = {
        name: replace(purpose, review=flag)
        for (name, purpose), flag in zip(policy.purposes.items(), padded, strict=False)
    }
    return Policy(purposes=purposes, rules=policy.rules, reader_roles=policy.reader_roles)


@st.composite
def review_policies(draw: st.DrawFn) -> Policy:
    """Policies some of whose purposes ask for a disposition review."""
    policy = draw(policies())
    return _with_reviews(policy, draw(st.lists(st.booleans(), max_size=len(policy.purposes))))


def _policy(**reviews: bool) -> Policy:
    purposes = {
        name: Purpose(
            name=name,
            basis=LO if name == "legal" else LI,
            retention=parse_duration("P10D"),
            roles=frozenset({"legal"}),
            review=reviews.get(name, False),
        )
        for name in ("quality", "training", "legal")
    }
    return Policy(purposes=purposes, rules=())


later = st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20_000)))


@given(
    items,
    review_policies(),
    hold_lists,
    aware_datetimes,
    st.tuples(later, st.none() | st.sampled_from(ReviewState)),
)
def test_the_sweeper_destroys_exactly_at_destroy_after_never_before(
    item: ItemFacts,
    policy: Policy,
    holds: list[Hold],
    now: datetime,
    sweeps: tuple[list[timedelta], ReviewState | None],
) -> None:
    offsets, review = sweeps
    explanation = explain(item, policy, holds, now, review_state=review)
    approved = review is ReviewState.DESTROY
    times = {now + offset for offset in offsets}
    due = explanation.destroy_after
    if due is not None:
        times |= {max(due, now), max(due - timedelta(microseconds=1), now)}
    facts = item
    # Sweeps at increasing instants, each carrying out the last one's drop, as the sweeper does.
    for at in sorted(times):
        decision = decide(facts, policy, holds, at, disposal_approved=approved)
        if due is None or at < due:
            assert decision.action is not SweepAction.DESTROY, at
        else:
            assert decision.action is SweepAction.DESTROY, at
            break
        if decision.action is SweepAction.DROP_PURPOSES:
            facts = replace(facts, purposes=decision.remaining)


@given(items, review_policies(), hold_lists, aware_datetimes)
def test_the_explanation_is_the_decision_now(
    item: ItemFacts, policy: Policy, holds: list[Hold], now: datetime
) -> None:
    explanation = explain(item, policy, holds, now)
    assert explanation.decision == decide(item, policy, holds, now)
    if explanation.holds:
        assert explanation.destroy_after is None
    assert [p.name for p in explanation.purposes] == [p.name for p in item.purposes]


def test_active_and_expired_purposes_with_their_basis_and_expiry() -> None:
    facts = item(state("quality", LI, 5), state("legal", LO, 20))
    explanation = explain(facts, _policy(), [], day(10))
    shown = [(p.name, p.basis, p.expires_at, p.state) for p in explanation.purposes]
    assert shown == [
        ("quality", LI, day(5), PurposeStatus.EXPIRED),
        ("legal", LO, day(20), PurposeStatus.ACTIVE),
    ]
    assert explanation.destroy_after == day(20)
    assert explanation.holds == ()
    assert explanation.review is None


def test_removed_purposes_say_how_and_when() -> None:
    facts = item(state("legal", LO, 20))
    removals = [
        Removal(name="training", reason="objection", removed_at=day(2)),
        Removal(name="quality", reason="withdrawal", removed_at=day(1)),
        Removal(name="marketing", reason="erasure", removed_at=day(3)),
    ]
    explanation = explain(facts, _policy(), [], day(4), removals=removals)
    shown = [(p.name, p.state, p.removed_at, p.expires_at) for p in explanation.purposes]
    assert shown == [
        ("legal", PurposeStatus.ACTIVE, None, day(20)),
        ("quality", PurposeStatus.WITHDRAWN, day(1), None),
        ("training", PurposeStatus.OBJECTED, day(2), None),
        ("marketing", PurposeStatus.ERASED, day(3), None),
    ]
    # A purpose the policy declares keeps its basis; one it no longer has, none.
    assert [p.basis for p in explanation.purposes][1:] == [LI, LI, None]


def test_a_covering_hold_leaves_no_destroy_date() -> None:
    facts = item(state("quality", LI, 5))
    explanation = explain(facts, _policy(), [hold("h1", "Acme v Widget")], day(10))
    assert [(h.hold_id, h.matter) for h in explanation.holds] == [("h1", "Acme v Widget")]
    assert explanation.destroy_after is None
    released = explain(facts, _policy(), [hold("h1", released=True)], day(10))
    assert released.holds == ()
    assert released.destroy_after == day(5)


def test_nothing_left_is_destroyable_now() -> None:
    explanation = explain(item(), _policy(), [], day(3))
    assert explanation.decision.action is SweepAction.DESTROY
    assert explanation.destroy_after == day(3)


@pytest.mark.parametrize(
    ("review", "state_shown", "destroy_after"),
    [
        (None, "required", None),
        (ReviewState.PENDING, "pending", None),
        (ReviewState.DESTROY, "destroy", day(20)),
        (ReviewState.EXTENDED, "required", None),
    ],
)
def test_a_review_purpose_last_to_expire_waits_for_a_reviewer(
    review: ReviewState | None, state_shown: str, destroy_after: datetime | None
) -> None:
    facts = item(state("quality", LI, 5), state("legal", LO, 20))
    explanation = explain(facts, _policy(legal=True), [], day(10), review_state=review)
    assert explanation.review is not None
    assert (explanation.review.state, explanation.review.purposes) == (state_shown, ("legal",))
    assert explanation.destroy_after == destroy_after


def test_a_review_purpose_that_is_not_the_last_asks_for_nothing() -> None:
    facts = item(state("quality", LI, 5), state("legal", LO, 20))
    explanation = explain(facts, _policy(quality=True), [], day(1))
    assert explanation.review is None
    assert explanation.destroy_after == day(20)


def test_compliance_lock_and_worm_date() -> None:
    facts = item(state("quality", LI, 5))
    explanation = explain(facts, _policy(), [], day(1), worm_until=day(30), locked_until=day(30))
    assert explanation.worm_until == day(30)
    assert explanation.destroy_after == day(30)
