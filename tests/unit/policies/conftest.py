"""Fixtures of the policy engine's unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from policies import ItemFacts, Policy, load_default_policy
from tests.unit.policies.builders import item


@pytest.fixture
def example_policy() -> Policy:
    """The policy keepline ships (SPEC section 4's example)."""
    return load_default_policy()


@pytest.fixture
def item_factory() -> Callable[..., ItemFacts]:
    """Builds items: positional purpose states, keyword parties and attributes."""
    return item
