from __future__ import annotations

from datetime import datetime

import pytest

from policies import Policy, visible_to
from tests.unit.policies.builders import CONSENT, LI, LO, day, state

PURPOSES = (state("quality", LI, 90), state("training", LI, 365), state("legal", LO, 1826))
NOW = day(100)  # quality expired at day 90


@pytest.mark.parametrize(
    ("role", "restricted", "purpose", "visible"),
    [
        ("legal", False, None, True),
        ("legal", True, None, True),
        ("privacy", True, "training", True),
        ("privacy", False, None, True),
        ("admin", False, "training", False),
        ("auditor", False, "training", False),
        ("ingest", False, "training", False),
        ("qa", False, "training", True),
        ("qa", True, "training", False),
        ("qa", False, None, False),
        ("qa", False, "quality", False),  # expired on the item
        ("qa", False, "legal", False),  # purpose not open to qa
        ("qa", False, "marketing", False),  # not on the item
        ("qa", False, "nonsense", False),  # not in the policy
        ("marketing", False, "training", False),
        ("unknown", False, "training", False),
    ],
)
def test_visible_to(
    example_policy: Policy, role: str, restricted: bool, purpose: str | None, visible: bool
) -> None:
    assert (
        visible_to(
            role=role,
            item_purposes=PURPOSES,
            restricted=restricted,
            purpose=purpose,
            policy=example_policy,
            now=NOW,
        )
        is visible
    )


@pytest.mark.parametrize(("now", "visible"), [(day(729), True), (day(730), False)])
def test_a_policy_role_sees_its_purpose_until_expiry(
    example_policy: Policy, now: datetime, visible: bool
) -> None:
    assert (
        visible_to(
            role="marketing",
            item_purposes=(state("marketing", CONSENT, 730),),
            restricted=False,
            purpose="marketing",
            policy=example_policy,
            now=now,
        )
        is visible
    )
