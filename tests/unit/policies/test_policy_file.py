from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from hypothesis import given
from policy_strategies import policies

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

SPEC_EXAMPLE = """\
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
    ("text", "line", "field", "message"),
    [
        pytest.param(
            "purposes:\n  q: {basis: consnet, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes.q.basis",
            "basis must be one of consent, contract, legal_obligation, vital_interests, "
            "public_task, legitimate_interests, not 'consnet'",
            id="bad-basis",
        ),
        pytest.param(
            "purposes:\n  q:\n    basis: consent\n    retention: 90 days\n    roles: [qa]\n"
            + VALID_TAIL,
            4,
            "purposes.q.retention",
            "retention not an ISO 8601 duration",
            id="bad-duration",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P0D, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes.q.retention",
            "retention must be longer than zero and at most P1000Y",
            id="zero-duration",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - purposes: [q]\n  - match: {type: email}\n    purposes: [q, qualty]\n",
            6,
            "rules[1].purposes[1]",
            "'qualty' is not defined under purposes (defined: q)",
            id="unknown-purpose-in-rule",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa], wrom: true}\n"
            + VALID_TAIL,
            2,
            "purposes.q.wrom",
            "unknown key 'wrom'; allowed: basis, retention, roles, worm",
            id="unknown-purpose-key",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match: {typ: email}\n    purposes: [q]\n",
            4,
            "rules[0].match.typ",
            "unknown key 'typ'; allowed: type, attributes",
            id="unknown-match-key",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\n"
            + VALID_TAIL
            + "version: 2\n",
            5,
            "version",
            "unknown key 'version'; allowed: purposes, rules",
            id="unknown-top-key",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\n"
            "  r: {basis: consent, retention: P1D, roles: [qa]}\n"
            "  q: {basis: consent, retention: P2D, roles: [qa]}\n" + VALID_TAIL,
            4,
            "purposes.q",
            "duplicate key 'q' (first at line 2)",
            id="duplicate-purpose",
        ),
        pytest.param(
            "purposes:\n  q:\n    basis: consent\n    retention: P1D\n    roles: [qa]\n"
            "    basis: contract\n" + VALID_TAIL,
            6,
            "purposes.q.basis",
            "duplicate key 'basis' (first at line 3)",
            id="duplicate-field",
        ),
        pytest.param(
            "purposes:\n  q:\n    basis: consent\n    retention: P1D\n" + VALID_TAIL,
            2,
            "purposes.q.roles",
            "is missing",
            id="missing-roles",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: []}\n" + VALID_TAIL,
            2,
            "purposes.q.roles",
            "roles must name at least one role",
            id="empty-roles",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [QA Team]}\n" + VALID_TAIL,
            2,
            "purposes.q.roles[0]",
            "'QA Team' is not a role name",
            id="bad-role-name",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: qa}\n" + VALID_TAIL,
            2,
            "purposes.q.roles",
            "roles must be a list of role names, e.g. [qa, legal], not a string",
            id="roles-not-a-list",
        ),
        pytest.param(
            "purposes: {}\n" + VALID_TAIL,
            1,
            "purposes",
            "must define at least one purpose",
            id="empty-purposes",
        ),
        pytest.param(
            "purposes:\n" + VALID_TAIL,
            1,
            "purposes",
            "must map purpose names to purposes, not nothing (null)",
            id="null-purposes",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa], worm: 'yes'}\n"
            + VALID_TAIL,
            2,
            "purposes.q.worm",
            "must be true or false, not a string",
            id="worm-not-bool",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: 30, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes.q.retention",
            "must be a non-empty string, not a number",
            id="retention-a-number",
        ),
        pytest.param(
            "purposes:\n  q: [consent, P1D]\n" + VALID_TAIL,
            2,
            "purposes.q",
            "must be a mapping, not a list",
            id="purpose-not-a-mapping",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match: {type: sms}\n    purposes: [q]\n",
            4,
            "rules[0].match.type",
            "type must be one of call_recording, email, chat, not 'sms'",
            id="bad-type",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match: {attributes: {desk: 42}}\n    purposes: [q]\n",
            4,
            "rules[0].match.attributes.desk",
            "must be a string, not a number; quote it: '42'",
            id="attribute-not-a-string",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match: {type: email}\n",
            4,
            "rules[0].purposes",
            "is missing",
            id="rule-without-purposes",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match: {type: email}\n    purposes: []\n",
            5,
            "rules[0].purposes",
            "must name at least one purpose",
            id="rule-with-empty-purposes",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules: []\n",
            3,
            "rules",
            "must list at least one rule",
            id="no-rules",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\n",
            1,
            "rules",
            "is missing; a policy needs purposes and rules",
            id="missing-rules",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - purposes: [q, q]\n",
            4,
            "rules[0].purposes[1]",
            "'q' is listed twice (also at [0])",
            id="purpose-listed-twice",
        ),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\nrules:\n"
            "  - match:\n    purposes: [q]\n",
            4,
            "rules[0].match",
            "match must be a mapping with type and/or attributes",
            id="null-match",
        ),
        pytest.param(
            "purposes:\n  q quality: {basis: consent, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes.q quality",
            "a purpose name is 1 to 64 letters, digits",
            id="bad-purpose-name",
        ),
        pytest.param(
            "base: &b {basis: consent, retention: P1D}\n", 1, "base", "unknown key", id="alias"
        ),
        pytest.param(
            "purposes:\n  q: {<<: {basis: consent}, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes.q",
            "merge keys (<<) are not supported",
            id="merge-key",
        ),
        pytest.param(
            "purposes:\n  1: {basis: consent, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            2,
            "purposes",
            "keys must be strings, not a number",
            id="numeric-key",
        ),
        pytest.param("", 1, "", "the policy is empty", id="empty-file"),
        pytest.param("- purposes\n", 1, "", "the policy must be a mapping, not a list", id="list"),
        pytest.param(
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]\n" + VALID_TAIL,
            3,
            "",
            "not valid YAML: expected ',' or '}', but got '<scalar>' "
            "(while parsing a flow mapping started at line 2)",
            id="syntax-unclosed-brace",
        ),
        pytest.param(
            "purposes:\n  q:\n    basis: consent\n   retention: P1D\n" + VALID_TAIL,
            4,
            "",
            "not valid YAML",
            id="syntax-bad-indent",
        ),
        pytest.param(
            "purposes:\n\tq: {}\n", 2, "", "not valid YAML: found character '\\t'", id="syntax-tab"
        ),
        pytest.param(
            "purposes: {}\n---\nrules: []\n",
            2,
            "",
            "not valid YAML: expected a single document in the stream but found another",
            id="two-documents",
        ),
        pytest.param(
            "purposes:\n  q: {basis: \x07}\n",
            2,
            "",
            "not valid YAML: control character U+0007 is not allowed",
            id="control-character",
        ),
    ],
)
def test_broken_policies_name_line_and_field(
    text: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(PolicyValidationError) as caught:
        parse_policy(text, source="policy.yaml")
    error = caught.value
    assert (error.source, error.line, error.field) == ("policy.yaml", line, field)
    assert message in error.message
    prefix = f"policy.yaml:{line}: {field}: " if field else f"policy.yaml:{line}: "
    assert str(error) == prefix + error.message


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
    policy = parse_policy(f"purposes:\n  q: {text}\n{VALID_TAIL}")
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
