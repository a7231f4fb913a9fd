from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import (
    ExpiryMove,
    ItemFacts,
    LawfulBasis,
    Policy,
    PolicyChange,
    PurposeState,
    parse_policy,
    plan_policy_change,
    purposes_at_ingest,
)
from tests.unit.policies.builders import CALL, CONSENT, LI, LO, T0, day, item
from tests.unit.policies.strategies import consent_grants, items, policies

OLD = """\
reader_roles: [marketing]
purposes:
  quality:  {basis: legitimate_interests, retention: P90D, roles: [qa]}
  training: {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:    {basis: legal_obligation,     retention: P5Y,  roles: [legal], worm: true}
  marketing: {basis: consent,             retention: P2Y,  roles: [marketing]}
rules:
  - match: {type: call_recording}
    purposes: [quality, training, legal]
"""


def _stored(policy_text: str = OLD, **changes: object) -> ItemFacts:
    """An item as stored under the old policy, with its purposes from that policy."""
    base = item(kind=CALL, subjects=("s1",), **changes)  # type: ignore[arg-type]
    states = purposes_at_ingest(
        item_type=base.type,
        attributes=base.attributes,
        occurred_at=base.occurred_at,
        subject_ids=base.subject_ids,
        policy=parse_policy(policy_text),
        consents={},
    )
    return item(*states, kind=CALL, subjects=("s1",), **changes)  # type: ignore[arg-type]


def _plan(
    new_text: str,
    now: datetime,
    facts: ItemFacts | None = None,
    consents: Mapping[str, frozenset[str]]
    | Callable[[ItemFacts], Mapping[str, frozenset[str]]]
    | None = None,
) -> list[PolicyChange]:
    return list(
        plan_policy_change(
            [facts or _stored()], parse_policy(OLD), parse_policy(new_text), consents or {}, now
        )
    )


def _with_li_purpose(name: str, retention: str) -> str:
    """OLD with one more legitimate-interests purpose, attached to calls."""
    declared = f"  {name}: {{basis: legitimate_interests, retention: {retention}, roles: [qa]}}\n"
    return OLD.replace("rules:\n", f"{declared}rules:\n").replace(
        "[quality, training, legal]", f"[quality, training, legal, {name}]"
    )


def _lo(expires: datetime) -> PurposeState:
    return PurposeState(name="legal", basis=LO, expires_at=expires, worm=True)


def _li(name: str, expires: datetime) -> PurposeState:
    return PurposeState(name=name, basis=LI, expires_at=expires)


QUALITY = _li("quality", T0.replace(month=3, day=31))
TRAINING = _li("training", T0.replace(year=2025))
LEGAL = _lo(T0.replace(year=2029))


def test_same_policy_changes_nothing() -> None:
    assert _plan(OLD, day(1)) == []


@pytest.mark.parametrize(
    ("new_text", "now", "expected"),
    [
        pytest.param(
            OLD.replace("P90D", "P30D"),
            day(1),
            PolicyChange(
                item_id="i1",
                moved=(ExpiryMove("quality", QUALITY.expires_at, day(30)),),
                purposes=(_li("quality", day(30)), TRAINING, LEGAL),
            ),
            id="shorter-retention-moves-expiry",
        ),
        pytest.param(
            OLD.replace("P90D", "P30D"),
            day(40),
            PolicyChange(
                item_id="i1",
                moved=(ExpiryMove("quality", QUALITY.expires_at, day(30)),),
                purposes=(_li("quality", day(30)), TRAINING, LEGAL),
            ),
            id="shorter-retention-already-over",
        ),
        pytest.param(
            OLD.replace("purposes: [quality, training, legal]", "purposes: [quality, legal]"),
            day(1),
            PolicyChange(item_id="i1", removed=(TRAINING,), purposes=(QUALITY, LEGAL)),
            id="purpose-dropped-from-rule",
        ),
        pytest.param(
            _with_li_purpose("fraud", "P3Y"),
            day(1),
            PolicyChange(
                item_id="i1",
                added=(_li("fraud", T0.replace(year=2027)),),
                purposes=(QUALITY, TRAINING, LEGAL, _li("fraud", T0.replace(year=2027))),
            ),
            id="purpose-added",
        ),
        pytest.param(
            _with_li_purpose("brief", "PT1H"),
            day(1),
            None,
            id="added-purpose-already-expired-is-not-added",
        ),
        pytest.param(
            OLD.replace("legal_obligation", "contract"),
            day(1),
            PolicyChange(
                item_id="i1",
                restated=("legal",),
                purposes=(
                    QUALITY,
                    TRAINING,
                    PurposeState(
                        name="legal",
                        basis=LawfulBasis.CONTRACT,
                        expires_at=LEGAL.expires_at,
                        worm=True,
                    ),
                ),
            ),
            id="basis-changed",
        ),
        pytest.param(
            OLD.replace(", worm: true", ""),
            day(1),
            PolicyChange(
                item_id="i1",
                restated=("legal",),
                purposes=(
                    QUALITY,
                    TRAINING,
                    PurposeState(name="legal", basis=LO, expires_at=LEGAL.expires_at),
                ),
            ),
            id="worm-dropped",
        ),
    ],
)
def test_plan_policy_change(new_text: str, now: datetime, expected: PolicyChange | None) -> None:
    assert _plan(new_text, now) == ([] if expected is None else [expected])


def test_expired_purposes_are_never_revived() -> None:
    # quality expired at day 90; lengthening it to a year must not bring it back.
    assert _plan(OLD.replace("P90D", "P1Y"), day(100)) == []


def test_expired_purposes_stay_for_the_sweeper() -> None:
    [change] = _plan(OLD.replace("P1Y", "P2Y"), day(100))
    assert change.moved == (ExpiryMove("training", TRAINING.expires_at, T0.replace(year=2026)),)
    assert change.purposes[0] == QUALITY  # expired, left for the sweeper to drop


def test_purposes_removed_by_a_subject_are_not_attached_again() -> None:
    facts = item(QUALITY, LEGAL, kind=CALL, subjects=("s1",), removed=("training",))
    assert _plan(OLD.replace("P1Y", "P2Y"), day(1), facts) == []


@pytest.mark.parametrize(
    "consents",
    [
        {"s1": frozenset({"marketing"})},
        lambda facts: {subject: frozenset({"marketing"}) for subject in facts.subject_ids},
    ],
)
def test_consent_based_purposes_follow_standing_grants(
    consents: Mapping[str, frozenset[str]] | Callable[[ItemFacts], Mapping[str, frozenset[str]]],
) -> None:
    new = OLD.replace("[quality, training, legal]", "[quality, training, legal, marketing]")
    marketing = PurposeState(name="marketing", basis=CONSENT, expires_at=T0.replace(year=2026))
    assert _plan(new, day(1), consents=consents) == [
        PolicyChange(
            item_id="i1", added=(marketing,), purposes=(QUALITY, TRAINING, LEGAL, marketing)
        )
    ]
    assert _plan(new, day(1), consents={"s2": frozenset({"marketing"})}) == []


def test_objections_keep_objected_purposes_off() -> None:
    new = OLD.replace("P1Y", "P2Y")
    changes = list(
        plan_policy_change(
            [_stored()],
            parse_policy(OLD),
            parse_policy(new),
            {},
            day(1),
            objections_for={"s1": None},
        )
    )
    assert [(c.removed, c.moved) for c in changes] == [((QUALITY, TRAINING), ())]


@given(policies(), items, consent_grants, st.integers(0, 3000))
def test_a_policy_changes_nothing_about_items_it_just_ingested(
    policy: Policy, facts: ItemFacts, consents: Mapping[str, frozenset[str]], offset_days: int
) -> None:
    states = purposes_at_ingest(
        item_type=facts.type,
        attributes=facts.attributes,
        occurred_at=facts.occurred_at,
        subject_ids=facts.subject_ids,
        policy=policy,
        consents=consents,
    )
    stored = item(
        *states,
        kind=facts.type,
        occurred_at=facts.occurred_at,
        subjects=facts.subject_ids,
        attributes=facts.attributes,
    )
    now = facts.occurred_at + (day(offset_days) - T0)
    assert list(plan_policy_change([stored], policy, policy, consents, now)) == []


@given(policies(), policies(), items, consent_grants, st.integers(0, 3000))
def test_a_policy_change_never_adds_expired_purposes(
    old: Policy,
    new: Policy,
    facts: ItemFacts,
    consents: Mapping[str, frozenset[str]],
    offset_days: int,
) -> None:
    now = facts.occurred_at + (day(offset_days) - T0)
    for change in plan_policy_change([facts], old, new, consents, now):
        assert all(not state.is_expired(now) for state in change.added)
        before = {state.name for state in facts.purposes}
        assert all(state.name not in before for state in change.added)
        assert len({state.name for state in change.purposes}) == len(change.purposes)
