"""Disposition review in the sweeper's decision and the policy file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies import DecisionReason, SweepAction, decide, parse_policy
from policies.durations import parse_duration
from policies.errors import NaiveDatetimeError, PolicyValidationError
from policies.review import extended_expiry, review_purposes
from tests.unit.policies.builders import LI, LO, day, hold, item, state

POLICY = parse_policy(
    """
purposes:
  quality: {basis: legitimate_interests, retention: P10D, roles: [qa]}
  legal:   {basis: legal_obligation, retention: P5Y, roles: [legal], review: true}
rules:
  - match: {type: call_recording}
    purposes: [quality, legal]
"""
)


def test_the_policy_file_reads_review_and_only_a_boolean() -> None:
    assert POLICY.purposes["legal"].review is True
    assert POLICY.purposes["quality"].review is False
    assert POLICY.to_json()["purposes"]["legal"]["review"] is True  # type: ignore[index]
    assert "review" not in POLICY.to_json()["purposes"]["quality"]  # type: ignore[operator]
    with pytest.raises(PolicyValidationError, match=r"purposes\.legal\.review"):
        parse_policy(
            "purposes:\n  legal: {basis: legal_obligation, retention: P5Y, roles: [legal],"
            " review: maybe}\nrules: []\n"
        )


def test_an_expired_review_purpose_goes_to_review_not_destruction() -> None:
    facts = item(state("quality", LI, 5), state("legal", LO, 20))
    assert review_purposes(facts, POLICY) == ("legal",)
    decision = decide(facts, POLICY, [], day(21))
    assert (decision.action, decision.reason) == (
        SweepAction.REVIEW,
        DecisionReason.AWAITING_REVIEW,
    )
    approved = decide(facts, POLICY, [], day(21), disposal_approved=True)
    assert (approved.action, approved.reason) == (
        SweepAction.DESTROY,
        DecisionReason.REVIEW_DESTROY,
    )


def test_a_hold_wins_over_review_and_keeps_the_purpose_that_asks_for_it() -> None:
    facts = item(state("legal", LO, 20))
    held = decide(facts, POLICY, [hold()], day(21))
    assert held.action is SweepAction.KEEP
    assert held.reason is DecisionReason.LEGAL_HOLD
    assert decide(facts, POLICY, [hold()], day(21), disposal_approved=True).action is not (
        SweepAction.DESTROY
    )


def test_a_non_review_purpose_expiring_last_is_destroyed_as_before() -> None:
    facts = item(state("legal", LO, 5), state("quality", LI, 20))
    assert review_purposes(facts, POLICY) == ()
    assert decide(facts, POLICY, [], day(21)).action is SweepAction.DESTROY


def test_extended_expiry_counts_from_the_decision() -> None:
    at = datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert extended_expiry(at, parse_duration("P1M")) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    with pytest.raises(NaiveDatetimeError):
        extended_expiry(at.replace(tzinfo=None), parse_duration("P1D"))
