from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from policies import (
    ErasureOutcome,
    Hold,
    ItemFacts,
    Policy,
    PurposeState,
    apply_consent_withdrawal,
    apply_objection,
    erasure_outcome,
    ignored_objections,
)
from policies.subject_rights import RestrictionState, restriction_after
from tests.unit.policies.builders import CONSENT, CONTRACT, LI, LO, day, hold, item, state

QUALITY = state("quality", LI, 90)
TRAINING = state("training", LI, 365)
MARKETING = state("marketing", CONSENT, 730)
LEGAL = state("legal", LO, 1826)
RECORDS = state("records", LO, 3000)
BILLING = state("billing", CONTRACT, 400)


@pytest.mark.parametrize(
    ("facts", "holds", "now", "expected"),
    [
        pytest.param(
            item(QUALITY, MARKETING),
            [],
            day(1),
            ErasureOutcome(item_id="i1", erase=True),
            id="nothing-retains",
        ),
        pytest.param(
            item(QUALITY, LEGAL),
            [],
            day(1),
            ErasureOutcome(
                item_id="i1", erase=False, reason="legal_obligation:legal", keep_purposes=(LEGAL,)
            ),
            id="legal-obligation-retains",
        ),
        pytest.param(
            item(LEGAL, QUALITY, RECORDS),
            [],
            day(1),
            ErasureOutcome(
                item_id="i1",
                erase=False,
                reason="legal_obligation:records",
                keep_purposes=(LEGAL, RECORDS),
            ),
            id="names-the-obligation-that-lasts-longest",
        ),
        pytest.param(
            item(QUALITY, LEGAL),
            [],
            day(1826),
            ErasureOutcome(item_id="i1", erase=True),
            id="expired-obligation-does-not-retain",
        ),
        pytest.param(
            item(QUALITY, BILLING),
            [hold("h2", "Beta"), hold("h1", "Acme v Widget")],
            day(1),
            ErasureOutcome(
                item_id="i1", erase=False, reason="legal_hold:Acme v Widget", deferred=True
            ),
            id="hold-retains-and-defers",
        ),
        pytest.param(
            item(QUALITY, LEGAL),
            [hold("h1", "Acme v Widget")],
            day(1),
            ErasureOutcome(
                item_id="i1",
                erase=False,
                reason="legal_hold:Acme v Widget",
                keep_purposes=(LEGAL,),
                deferred=False,
            ),
            id="hold-and-obligation-not-deferred",
        ),
        pytest.param(
            item(QUALITY),
            [hold("h1", "Acme v Widget", released=True)],
            day(1),
            ErasureOutcome(item_id="i1", erase=True),
            id="released-hold-does-not-retain",
        ),
        pytest.param(
            item(QUALITY),
            [hold("h1", "Other", subject_ids=frozenset({"s2"}))],
            day(1),
            ErasureOutcome(item_id="i1", erase=True),
            id="hold-on-someone-else",
        ),
        pytest.param(
            item(),
            [hold("h1", "Acme v Widget")],
            day(1),
            ErasureOutcome(
                item_id="i1", erase=False, reason="legal_hold:Acme v Widget", deferred=True
            ),
            id="held-without-purposes",
        ),
    ],
)
def test_erasure_outcome(
    facts: ItemFacts, holds: Sequence[Hold], now: datetime, expected: ErasureOutcome
) -> None:
    assert erasure_outcome(facts, holds, now) == expected


@pytest.mark.parametrize(
    ("purposes", "withdrawn", "expected"),
    [
        ((QUALITY, MARKETING), "marketing", (QUALITY,)),
        ((QUALITY, MARKETING), "quality", (QUALITY, MARKETING)),
        ((QUALITY, LEGAL), "legal", (QUALITY, LEGAL)),
        ((QUALITY,), "marketing", (QUALITY,)),
        ((MARKETING,), "marketing", ()),
    ],
)
def test_apply_consent_withdrawal(
    purposes: tuple[PurposeState, ...], withdrawn: str, expected: tuple[PurposeState, ...]
) -> None:
    assert apply_consent_withdrawal(item(*purposes), withdrawn) == expected


@pytest.mark.parametrize(
    ("purposes", "objected", "expected"),
    [
        ((QUALITY, TRAINING, LEGAL, MARKETING), None, (LEGAL, MARKETING)),
        ((QUALITY, TRAINING, LEGAL), ["training"], (QUALITY, LEGAL)),
        # An objection cannot reach other bases: ignored for them.
        (
            (QUALITY, LEGAL, MARKETING, BILLING),
            ["legal", "marketing", "billing"],
            (QUALITY, LEGAL, MARKETING, BILLING),
        ),
        ((QUALITY, TRAINING), [], (QUALITY, TRAINING)),
        ((LEGAL,), None, (LEGAL,)),
    ],
)
def test_apply_objection(
    purposes: tuple[PurposeState, ...],
    objected: list[str] | None,
    expected: tuple[PurposeState, ...],
) -> None:
    assert apply_objection(item(*purposes), objected) == expected


@pytest.mark.parametrize(
    ("objected", "ignored"),
    [
        (None, ()),
        (["quality", "training"], ()),
        (["legal", "quality", "marketing", "legal"], ("legal", "marketing")),
        (["nonsense"], ("nonsense",)),
    ],
)
def test_ignored_objections(
    example_policy: Policy, objected: list[str] | None, ignored: tuple[str, ...]
) -> None:
    assert ignored_objections(example_policy, objected) == ignored


@pytest.mark.parametrize(
    ("current", "restricted", "by", "after"),
    [
        # Restricting: whoever asks; the privacy team's restriction stays theirs.
        ((False, None), True, "crm", (True, "crm")),
        ((False, None), True, "api", (True, "api")),
        ((True, "crm"), True, "api", (True, "api")),
        ((True, "api"), True, "crm", (True, "api")),
        # Lifting: the API lifts any; an event only what its own source set.
        ((True, "crm"), False, "crm", (False, None)),
        ((True, "crm"), False, "api", (False, None)),
        ((True, "api"), False, "api", (False, None)),
        ((True, "api"), False, "crm", (True, "api")),
        ((True, "helpdesk"), False, "crm", (True, "helpdesk")),
        ((True, None), False, "crm", (True, None)),  # set before keepline recorded who
        ((True, None), False, "api", (False, None)),
        ((False, None), False, "crm", (False, None)),
    ],
)
def test_an_event_lifts_only_a_restriction_its_own_source_set(
    current: tuple[bool, str | None], restricted: bool, by: str, after: tuple[bool, str | None]
) -> None:
    state = restriction_after(RestrictionState(*current), restricted=restricted, by=by)
    assert (state.restricted, state.restricted_by) == after
