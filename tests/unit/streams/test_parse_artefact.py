"""parse_artefact's one-pass JSON validation accepts and refuses exactly what the long way does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.errors import BadEventError
from service.ingest.models import validate_artefact
from streams.processor import _json_object, parse_artefact
from tests.contract_examples import example

ARTEFACTS = ["call_recording", "email", "chat"]


def _long_way(value: bytes | None) -> object:
    try:
        return validate_artefact(_json_object(value))
    except BadEventError as err:
        return (err.reason, err.error)


def _parsed(value: bytes | None) -> object:
    try:
        return parse_artefact(value)
    except BadEventError as err:
        return (err.reason, err.error)


@pytest.mark.parametrize("kind", ARTEFACTS)
def test_a_valid_event_parses_to_the_same_model(kind: str) -> None:
    value = json.dumps(example(kind)).encode()
    assert parse_artefact(value) == validate_artefact(json.loads(value))


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"a string"',
        b"{}",
        b'{"type": "fax"}',
        b'{"type": ["email"]}',
        b'{"type": "email"}',
    ],
)
def test_bad_input_is_refused_with_the_same_reason(value: bytes | None) -> None:
    outcome = _parsed(value)
    assert isinstance(outcome, tuple)
    assert outcome == _long_way(value)


_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.just("2026-01-01T00:00:00Z"),
    st.just("2026-01-01T00:00:00"),
    st.just([]),
    st.just({}),
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(ARTEFACTS),
    changes=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "event_id",
                "source",
                "occurred_at",
                "parties",
                "attributes",
                "content",
                "content_inline",
                "message_id",
                "direction",
                "subject",
                "conversation_id",
                "platform",
                "call_id",
                "started_at",
                "ended_at",
                "unknown_field",
            ]
        ),
        _FIELD_VALUES,
        max_size=3,
    ),
    dropped=st.sets(st.sampled_from(["event_id", "source", "parties", "content", "type"])),
)
def test_any_changed_event_gets_the_same_outcome_both_ways(
    kind: str, changes: dict[str, Any], dropped: set[str]
) -> None:
    body = example(kind)
    body.update(changes)
    for name in dropped:
        body.pop(name, None)
    value = json.dumps(body).encode()
    assert _parsed(value) == _long_way(value)
