from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from hypothesis import given

from policies import (
    ArtefactType,
    IsoDuration,
    LawfulBasis,
    Policy,
    PolicyFileUnreadableError,
    PolicyValidationError,
    default_policy_path,
    load_default_policy,
    load_policy,
    parse_policy,
)
from tests.unit.policies.strategies import policies

SPEC_EXAMPLE = """\
reader_roles: [marketing]   # optional: roles of this firm beside the API roles of section 7
purposes:
  quality:  {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  training: {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:    {basis: legal_obligation,     retention: P5Y,  roles: [legal], worm: true}
  marketing: {basis: consent,             retention: P2Y,  roles: [marketing]}
rules:                 # first match wins
  - match: {type: call_recording, attributes: {queue: sales}}
    purposes: [quality, training, legal, marketing]
  - match: {type: call_recording}
    purposes: [quality, training, legal]
  - match: {type: email}
    purposes: [legal]
  - match: {type: chat}
    purposes: [quality, legal]
"""

VALID_TAIL = "rules:\n  - purposes: [q]\n"


def test_the_shipped_policy_is_the_spec_example() -> None:
    assert default_policy_path().read_text(encoding="utf-8") == SPEC_EXAMPLE
    assert load_default_policy() == parse_policy(SPEC_EXAMPLE)


def test_spec_example_parses_to_its_meaning() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    assert set(policy.purposes) == {"quality", "training", "legal", "marketing"}
    legal = policy.purposes["legal"]
    assert legal.basis is LawfulBasis.LEGAL_OBLIGATION
    assert legal.retention == IsoDuration(years=5)
    assert legal.roles == frozenset({"legal"})
    assert legal.worm is True
    assert policy.purposes["quality"].worm is False
    assert policy.rules[0].match_type is ArtefactType.CALL_RECORDING
    assert dict(policy.rules[0].match_attributes) == {"queue": "sales"}
    assert policy.rules[0].purposes == ("quality", "training", "legal", "marketing")
    assert policy.rules[2].purposes == ("legal",)
    assert policy.source_text == SPEC_EXAMPLE
    assert len(policy.version) == 16


def test_version_ignores_layout_and_comments_but_not_meaning() -> None:
    block = dedent(
        """\
        # the default policy, block style
        reader_roles:
          - marketing
        rules:
          - purposes: [quality, training, legal, marketing]
            match:
              attributes: {queue: sales}
              type: call_recording
          - {match: {type: call_recording}, purposes: [quality, training, legal]}
          - {match: {type: email}, purposes: [legal]}
          - {match: {type: chat}, purposes: [quality, legal]}
        purposes:
          marketing: {retention: P2Y, basis: consent, roles: [marketing]}
          legal: {worm: true, basis: legal_obligation, retention: P5Y, roles: [legal]}
          training: {basis: legitimate_interests, retention: P1Y, roles: [qa]}
          quality: {basis: legitimate_interests, retention: P90D, roles: [legal, qa]}
        """
    )
    assert parse_policy(block).version == parse_policy(SPEC_EXAMPLE).version
    changed = SPEC_EXAMPLE.replace("retention: P90D", "retention: P91D")
    assert parse_policy(changed).version != parse_policy(SPEC_EXAMPLE).version


@pytest.mark.parametrize(
    ("text", "worm", "roles"),
    [
        ("{basis: consent, retention: P1D, roles: [qa]}", False, {"qa"}),
        ("{basis: consent, retention: P1D, roles: [qa], worm: true}", True, {"qa"}),
        ("{basis: consent, retention: P1D, roles: [qa], worm: no}", False, {"qa"}),
        (
            "{basis: consent, retention: P1D, roles: [qa, data-science_2]}",
            False,
            {"qa", "data-science_2"},
        ),
    ],
)
def test_optional_worm_and_free_role_names(text: str, worm: bool, roles: set[str]) -> None:
    readers = "reader_roles: [data-science_2]\n"
    policy = parse_policy(f"{readers}purposes:\n  q: {text}\n{VALID_TAIL}")
    assert policy.purposes["q"].worm is worm
    assert policy.purposes["q"].roles == roles


@pytest.mark.parametrize(
    ("match", "expected_type", "expected_attributes"),
    [
        ("", None, {}),
        ("    match: {}\n", None, {}),
        ("    match: {type: chat}\n", ArtefactType.CHAT, {}),
        ("    match: {attributes: {desk: fx, team: '7'}}\n", None, {"desk": "fx", "team": "7"}),
    ],
)
def test_match_parts_are_optional(
    match: str, expected_type: ArtefactType | None, expected_attributes: dict[str, str]
) -> None:
    text = f"purposes:\n  q: {{basis: consent, retention: P1D, roles: [qa]}}\n{VALID_TAIL}{match}"
    rule = parse_policy(text).rules[0]
    assert rule.match_type is expected_type
    assert dict(rule.match_attributes) == expected_attributes


def test_anchors_and_aliases_are_resolved() -> None:
    text = dedent(
        """\
        purposes:
          a: {basis: consent, retention: P1D, roles: &both [qa, legal]}
          b: {basis: contract, retention: P2D, roles: *both}
        rules:
          - purposes: [a, b]
        """
    )
    assert parse_policy(text).purposes["b"].roles == frozenset({"qa", "legal"})


def test_load_policy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("purposes:\n  q: {basis: nope, retention: P1D, roles: [qa]}\n")
    with pytest.raises(PolicyValidationError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:2: purposes.q.basis: ")


def test_load_policy_reads_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SPEC_EXAMPLE.encode())
    assert load_policy(path).version == parse_policy(SPEC_EXAMPLE).version


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), (b"purposes: \xff\n", "not UTF-8 text")],
)
def test_unreadable_policy_files(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "policy.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PolicyFileUnreadableError) as caught:
        load_policy(path)
    assert (caught.value.path, caught.value.reason) == (str(path), reason)


@given(policies())
def test_normalised_form_round_trips(policy: Policy) -> None:
    reparsed = parse_policy(yaml.safe_dump(policy.to_json()))
    assert reparsed == policy
    assert reparsed.version == policy.version
