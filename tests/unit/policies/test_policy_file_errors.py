"""Broken policy files: each is refused with the line and field of the mistake."""

from __future__ import annotations

import pytest

from policies import PolicyValidationError, parse_policy

VALID_TAIL = "rules:\n  - purposes: [q]\n"


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
            "unknown key 'version'; allowed: reader_roles, purposes, rules",
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
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [legal]}\n"
            "  t: {basis: consent, retention: P1D, roles: [qa, qa-trainers]}\n" + VALID_TAIL,
            3,
            "purposes.t.roles[1]",
            "'qa-trainers' is not a role: keepline's roles are ingest, qa, legal, privacy, "
            "auditor, admin. Name one of them, or declare it under reader_roles "
            "(reader_roles: [qa-trainers])",
            id="unknown-role",
        ),
        pytest.param(
            "reader_roles: [marketing]\n"
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa-trainers]}\n" + VALID_TAIL,
            3,
            "purposes.q.roles[0]",
            "'qa-trainers' is not a role: keepline's roles are ingest, qa, legal, privacy, "
            "auditor, admin; reader_roles declares marketing.",
            id="role-neither-api-nor-declared",
        ),
        pytest.param(
            "reader_roles: [marketing, qa]\n"
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            1,
            "reader_roles[1]",
            "'qa' is one of keepline's API roles already",
            id="reader-role-that-is-an-api-role",
        ),
        pytest.param(
            "reader_roles: marketing\n"
            "purposes:\n  q: {basis: consent, retention: P1D, roles: [qa]}\n" + VALID_TAIL,
            1,
            "reader_roles",
            "reader_roles must be a list of role names, not a string",
            id="reader-roles-not-a-list",
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
