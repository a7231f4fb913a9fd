from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from policies import (
    ArtefactType,
    Decision,
    DecisionReason,
    Hold,
    ItemFacts,
    Policy,
    PurposeState,
    SweepAction,
    decide,
    purposes_at_ingest,
    worm_retain_until,
)
from tests.unit.policies.builders import (
    CALL,
    CHAT,
    CONSENT,
    CONTRACT,
    EMAIL,
    LI,
    LO,
    T0,
    day,
    hold,
    item,
    state,
)

LEAP_DAY = datetime(2024, 2, 29, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("item_type", "attributes", "subjects", "consents", "expected"),
    [
        # First match wins: the sales rule, marketing attached because s1 consented.
        (
            CALL,
            {"queue": "sales"},
            {"s1"},
            {"s1": frozenset({"marketing"})},
            ["quality", "training", "legal", "marketing"],
        ),
        # No consent on file: the consent-based purpose does not attach.
        (CALL, {"queue": "sales"}, {"s1"}, {}, ["quality", "training", "legal"]),
        # Consent for another purpose does not count.
        (
            CALL,
            {"queue": "sales"},
            {"s1"},
            {"s1": frozenset({"quality"})},
            ["quality", "training", "legal"],
        ),
        # Every subject party must have consented: s2's data is in the call too.
        (
            CALL,
            {"queue": "sales"},
            {"s1", "s2"},
            {"s1": frozenset({"marketing"})},
            ["quality", "training", "legal"],
        ),
        (
            CALL,
            {"queue": "sales"},
            {"s1", "s2"},
            {"s1": frozenset({"marketing"}), "s2": frozenset({"marketing"})},
            ["quality", "training", "legal", "marketing"],
        ),
        # No subject party: nobody whose consent could be on file.
        (
            CALL,
            {"queue": "sales"},
            set(),
            {"s1": frozenset({"marketing"})},
            ["quality", "training", "legal"],
        ),
        # Other queue: the second rule.
        (
            CALL,
            {"queue": "support"},
            {"s1"},
            {"s1": frozenset({"marketing"})},
            ["quality", "training", "legal"],
        ),
        (CALL, {}, {"s1"}, {}, ["quality", "training", "legal"]),
        (EMAIL, {"queue": "sales"}, {"s1"}, {}, ["legal"]),
        (CHAT, {}, set(), {}, ["quality", "legal"]),
    ],
)
def test_purposes_at_ingest_with_the_example_policy(
    example_policy: Policy,
    *,
    item_type: ArtefactType,
    attributes: dict[str, str],
    subjects: set[str],
    consents: Mapping[str, frozenset[str]],
    expected: list[str],
) -> None:
    states = purposes_at_ingest(
        item_type=item_type,
        attributes=attributes,
        occurred_at=LEAP_DAY,
        subject_ids=frozenset(subjects),
        policy=example_policy,
        consents=consents,
    )
    assert [s.name for s in states] == expected


def test_purposes_at_ingest_computes_expiry_basis_and_worm(example_policy: Policy) -> None:
    states = purposes_at_ingest(
        item_type=CALL,
        attributes={"queue": "sales"},
        occurred_at=LEAP_DAY,
        subject_ids=frozenset({"s1"}),
        policy=example_policy,
        consents={"s1": frozenset({"marketing"})},
    )
    assert {s.name: (s.basis, s.expires_at, s.worm) for s in states} == {
        "quality": (LI, datetime(2024, 5, 29, 9, 30, tzinfo=UTC), False),
        "training": (LI, datetime(2025, 2, 28, 9, 30, tzinfo=UTC), False),
        "legal": (LO, datetime(2029, 2, 28, 9, 30, tzinfo=UTC), True),
        "marketing": (CONSENT, datetime(2026, 2, 28, 9, 30, tzinfo=UTC), False),
    }


def test_no_matching_rule_means_no_purposes(example_policy: Policy) -> None:
    policy = Policy(purposes=example_policy.purposes, rules=example_policy.rules[2:3])
    states = purposes_at_ingest(
        item_type=CHAT,
        attributes={},
        occurred_at=T0,
        subject_ids=frozenset({"s1"}),
        policy=policy,
        consents={},
    )
    assert states == ()


@pytest.mark.parametrize(
    ("objections", "expected"),
    [
        ({}, ["quality", "training", "legal"]),
        ({"s1": None}, ["legal"]),
        ({"s2": None}, ["legal"]),
        ({"s1": frozenset({"training"})}, ["quality", "legal"]),
        # Objections only reach legitimate interests.
        ({"s1": frozenset({"legal"})}, ["quality", "training", "legal"]),
        ({"s9": None}, ["quality", "training", "legal"]),
    ],
)
def test_standing_objections_hold_for_new_items(
    example_policy: Policy, objections: dict[str, frozenset[str] | None], expected: list[str]
) -> None:
    states = purposes_at_ingest(
        item_type=CALL,
        attributes={},
        occurred_at=T0,
        subject_ids=frozenset({"s1", "s2"}),
        policy=example_policy,
        consents={},
        objections=objections,
    )
    assert [s.name for s in states] == expected


@pytest.mark.parametrize(
    ("facts", "holds", "now", "expected"),
    [
        pytest.param(
            item(state("q", LI, 10), state("l", LO, 20)),
            [],
            day(5),
            Decision(
                action=SweepAction.KEEP,
                expired_purposes=(),
                remaining=(state("q", LI, 10), state("l", LO, 20)),
                holds=(),
                reason=DecisionReason.PURPOSES_REMAIN,
            ),
            id="nothing-expired",
        ),
        pytest.param(
            item(state("q", LI, 10), state("l", LO, 20)),
            [],
            day(10),
            Decision(
                action=SweepAction.DROP_PURPOSES,
                expired_purposes=("q",),
                remaining=(state("l", LO, 20),),
                holds=(),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="expires-at-its-instant",
        ),
        pytest.param(
            item(state("q", LI, 10), state("l", LO, 20)),
            [],
            day(20),
            Decision(
                action=SweepAction.DESTROY,
                expired_purposes=("q", "l"),
                remaining=(),
                holds=(),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="all-expired",
        ),
        pytest.param(
            item(),
            [],
            day(0),
            Decision(
                action=SweepAction.DESTROY,
                expired_purposes=(),
                remaining=(),
                holds=(),
                reason=DecisionReason.NO_PURPOSE,
            ),
            id="never-had-a-purpose",
        ),
        pytest.param(
            item(state("q", LI, 10)),
            [hold("h1")],
            day(30),
            Decision(
                action=SweepAction.DROP_PURPOSES,
                expired_purposes=("q",),
                remaining=(),
                holds=("h1",),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="held-item-loses-expired-purposes",
        ),
        pytest.param(
            item(state("q", LI, 10)),
            [hold("h2"), hold("h1")],
            day(5),
            Decision(
                action=SweepAction.KEEP,
                expired_purposes=(),
                remaining=(state("q", LI, 10),),
                holds=("h1", "h2"),
                reason=DecisionReason.PURPOSES_REMAIN,
            ),
            id="held-with-purposes",
        ),
        pytest.param(
            item(),
            [hold("h1")],
            day(30),
            Decision(
                action=SweepAction.KEEP,
                expired_purposes=(),
                remaining=(),
                holds=("h1",),
                reason=DecisionReason.LEGAL_HOLD,
            ),
            id="held-without-purposes",
        ),
        pytest.param(
            item(state("q", LI, 10)),
            [hold("h1", released=True)],
            day(30),
            Decision(
                action=SweepAction.DESTROY,
                expired_purposes=("q",),
                remaining=(),
                holds=(),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="released-hold-no-longer-protects",
        ),
        pytest.param(
            item(state("q", LI, 10)),
            [hold("h1", subject_ids=frozenset({"s2"}))],
            day(30),
            Decision(
                action=SweepAction.DESTROY,
                expired_purposes=("q",),
                remaining=(),
                holds=(),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="hold-on-someone-else",
        ),
        pytest.param(
            item(state("q", LI, 10), state("m", CONSENT, 10)),
            [hold("h1", released=True), hold("h2", types=frozenset({CALL}))],
            day(10),
            Decision(
                action=SweepAction.DROP_PURPOSES,
                expired_purposes=("q", "m"),
                remaining=(),
                holds=("h2",),
                reason=DecisionReason.RETENTION_EXPIRED,
            ),
            id="one-of-two-holds-released",
        ),
    ],
)
def test_decide(
    example_policy: Policy, facts: ItemFacts, holds: list[Hold], now: datetime, expected: Decision
) -> None:
    assert decide(facts, example_policy, holds, now) == expected


@pytest.mark.parametrize(
    ("purposes", "now", "expected"),
    [
        ((), day(0), None),
        ((state("q", LI, 10),), day(0), None),
        ((state("l", LO, 20, worm=True),), day(0), day(20)),
        ((state("l", LO, 20, worm=True), state("k", CONTRACT, 30, worm=True)), day(0), day(30)),
        ((state("l", LO, 20, worm=True), state("k", CONTRACT, 30, worm=True)), day(30), None),
        ((state("l", LO, 20, worm=True), state("q", LI, 90)), day(0), day(20)),
        ((state("l", LO, 20, worm=True),), day(20), None),
        ((state("l", LO, 20, worm=True), state("k", CONTRACT, 5, worm=True)), day(10), day(20)),
    ],
)
def test_worm_retain_until(
    purposes: tuple[PurposeState, ...], now: datetime, expected: datetime | None
) -> None:
    assert worm_retain_until(item(*purposes), now) == expected
