"""The SPEC and its example events live in the repository, and the tests use them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.contract_examples import EXAMPLES, SPEC, example, example_names

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
ARTEFACT_TYPES = {"call_recording", "email", "chat"}


def _names_used_by_tests() -> set[str]:
    used: set[str] = set()
    for path in TESTS.rglob("*.py"):
        used.update(re.findall(r"""\bexample\(["']([a-z_]+)["']\)""", path.read_text("utf-8")))
    return used


def test_the_spec_names_the_examples_folder_beside_it() -> None:
    assert "Examples: `contract/examples/`." in SPEC.read_text(encoding="utf-8")
    assert EXAMPLES.is_dir()
    assert len(example_names()) >= len(ARTEFACT_TYPES)


def test_the_readme_links_the_spec_in_the_repository() -> None:
    links = re.findall(r"\]\(([^)]*SPEC\.md)\)", (REPO / "README.md").read_text("utf-8"))
    assert links
    assert all((REPO / link).resolve() == SPEC for link in links)


def test_every_example_a_test_uses_exists() -> None:
    used = _names_used_by_tests()
    assert used >= ARTEFACT_TYPES  # the scan found the tests' calls
    assert used <= set(example_names())


@pytest.mark.parametrize("name", example_names())
def test_each_example_is_one_event_object(name: str) -> None:
    text = (EXAMPLES / f"{name}.json").read_text(encoding="utf-8")
    event = json.loads(text)
    assert isinstance(event, dict)
    assert event["event_id"]
    assert event["source"]
    assert event["occurred_at"]
    assert event.get("type", "consent") in ARTEFACT_TYPES | {"consent"}


def test_example_hands_out_a_fresh_copy() -> None:
    first = example("chat")
    first["parties"].clear()
    assert example("chat")["parties"]
