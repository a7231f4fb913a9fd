from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime

import pytest

from policies import (
    ArtefactType,
    HoldCriteria,
    InvalidHoldCriteria,
    ItemFacts,
    LawfulBasis,
    NaiveDatetimeError,
    Policy,
    PolicyError,
    PolicyValidationError,
    Purpose,
    PurposeState,
    Rule,
    parse_duration,
)
from tests.unit.policies.builders import CALL, CHAT, EMAIL, LI, T0, day, item, state

NAIVE = datetime(2024, 1, 1)  # naive on purpose


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("qa", {"quality", "training"}),
        ("legal", {"quality", "legal"}),
        ("marketing", {"marketing"}),
        ("privacy", set()),
        ("admin", set()),
    ],
)
def test_purposes_for_role(example_policy: Policy, role: str, expected: set[str]) -> None:
    assert example_policy.purposes_for_role(role) == expected


@pytest.mark.parametrize(
    ("rule", "item_type", "attributes", "matches"),
    [
        (Rule(purposes=("q",)), CALL, {}, True),
        (Rule(match_type=CALL, purposes=("q",)), CALL, {"queue": "sales"}, True),
        (Rule(match_type=CALL, purposes=("q",)), EMAIL, {}, False),
        (
            Rule(match_attributes={"queue": "sales"}, purposes=("q",)),
            CHAT,
            {"queue": "sales"},
            True,
        ),
        (
            Rule(match_attributes={"queue": "sales"}, purposes=("q",)),
            CHAT,
            {"queue": "Sales"},
            False,
        ),
        (Rule(match_attributes={"queue": "sales"}, purposes=("q",)), CHAT, {}, False),
        (
            Rule(match_type=CALL, match_attributes={"queue": "sales", "desk": "fx"}, purposes=()),
            CALL,
            {"queue": "sales", "desk": "fx", "team": "a"},
            True,
        ),
        (
            Rule(match_type=CALL, match_attributes={"queue": "sales", "desk": "fx"}, purposes=()),
            CALL,
            {"queue": "sales"},
            False,
        ),
    ],
)
def test_rule_matches(
    rule: Rule, item_type: ArtefactType, attributes: dict[str, str], matches: bool
) -> None:
    assert rule.matches(item_type, attributes) is matches


def _purpose(name: str, days: int = 1) -> Purpose:
    return Purpose(
        name=name, basis=LI, retention=parse_duration(f"P{days}D"), roles=frozenset({"qa"})
    )


@pytest.mark.parametrize(
    ("purposes", "rules", "field"),
    [
        ({"a": _purpose("b")}, (), "purposes.a"),
        ({"a": _purpose("a")}, (Rule(purposes=("a", "z")),), "rules[0].purposes[1]"),
    ],
)
def test_policy_refuses_inconsistent_construction(
    purposes: dict[str, Purpose], rules: tuple[Rule, ...], field: str
) -> None:
    with pytest.raises(PolicyValidationError) as caught:
        Policy(purposes=purposes, rules=rules)
    assert caught.value.field == field


def test_policy_version_follows_meaning_not_source_text() -> None:
    purposes = {"a": _purpose("a")}
    rules = (Rule(purposes=("a",)),)
    first = Policy(purposes=purposes, rules=rules, source_text="# one")
    second = Policy(purposes=purposes, rules=rules, source_text="# two")
    longer = Policy(purposes={"a": _purpose("a", 2)}, rules=rules)
    assert first.version == second.version
    assert first == second
    assert longer.version != first.version


def test_models_are_snapshots_that_survive_copying() -> None:
    attributes = {"queue": "sales"}
    facts = item(state("q"), attributes=attributes, subjects=["s1"])
    attributes["queue"] = "support"
    assert facts.attributes["queue"] == "sales"
    assert isinstance(facts.subject_ids, frozenset)
    assert pickle.loads(pickle.dumps(facts)) == facts  # noqa: S301 - our own bytes
    assert copy.deepcopy(facts) == facts
    assert dataclasses.asdict(facts)["attributes"] == {"queue": "sales"}
    assert dataclasses.replace(facts, item_id="i2").attributes == {"queue": "sales"}


def test_item_facts_coerce_catalog_strings() -> None:
    facts = ItemFacts(
        item_id="i1",
        type="email",  # type: ignore[arg-type]  # as a catalog row hands it in
        occurred_at=T0,
        subject_ids={"s1"},  # type: ignore[arg-type]
        purposes=[  # type: ignore[arg-type]
            PurposeState(name="q", basis="consent", expires_at=day(1))  # type: ignore[arg-type]
        ],
    )
    assert facts.type is ArtefactType.EMAIL
    assert facts.subject_ids == frozenset({"s1"})
    assert facts.purposes[0].basis is LawfulBasis.CONSENT
    assert isinstance(facts.purposes, tuple)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ItemFacts(item_id="i", type=CALL, occurred_at=NAIVE),
        lambda: PurposeState(name="q", basis=LI, expires_at=NAIVE),
        lambda: parse_duration("P1D").after(NAIVE),
    ],
)
def test_naive_datetimes_are_refused(build: object) -> None:
    with pytest.raises(NaiveDatetimeError):
        build()  # type: ignore[operator]  # table of callables


def test_unexpired_purposes_expire_at_their_instant() -> None:
    facts = item(state("a", expires=1), state("b", expires=2))
    assert [s.name for s in facts.unexpired_purposes(day(1))] == ["b"]
    assert [s.name for s in facts.unexpired_purposes(day(0.5))] == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({}, "", "criteria must give at least one of"),
        ({"subject_ids": frozenset()}, "", "a hold on everything is refused"),
        ({"since": NAIVE}, "since", "must be a timestamp with a UTC offset"),
        ({"until": NAIVE}, "until", "must be a timestamp with a UTC offset"),
        ({"since": day(2), "until": day(1)}, "until", "must be later than since"),
        ({"since": day(1), "until": day(1)}, "until", "must be later than since"),
        ({"attributes": {"desk": frozenset()}}, "attributes.desk", "at least one value"),
    ],
)
def test_hold_criteria_refused_at_construction(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidHoldCriteria, match=message) as caught:
        HoldCriteria(**kwargs)  # type: ignore[arg-type]  # table values
    assert caught.value.field == field
    assert isinstance(caught.value, PolicyError)
    assert not caught.value.retriable


def test_hold_criteria_with_only_a_window_are_valid() -> None:
    assert HoldCriteria(since=day(0)).since == day(0)
