"""At start-up, one log line says which policy is in force and where it comes from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keepline.root import build
from keepline.startup_policy import SHIPPED, activate_and_log
from policies.policy_file import load_default_policy, parse_policy
from storage.settings import StorageSettings

API_MADE = """
purposes:
  legal: {basis: legal_obligation, retention: P5Y, roles: [legal]}
rules:
  - purposes: [legal]
"""


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("policy in")]


async def test_the_policy_in_force_is_logged_with_its_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="keepline")
    root = build(StorageSettings(data_dir=tmp_path, object_store="filesystem"))
    shipped = load_default_policy()
    api_made = parse_policy(API_MADE)
    try:
        await root.storage.db.create_schema()
        assert (await activate_and_log(root, shipped, source=SHIPPED)) == shipped
        # An admin activates another version through the API; a restart keeps it.
        await root.storage.policies.activate(
            api_made, by="alice", at=datetime(2026, 12, 1, tzinfo=UTC)
        )
        assert (await activate_and_log(root, shipped, source=SHIPPED)).version == api_made.version
        # A changed file is a new version: it wins at the next start.
        changed = parse_policy(API_MADE.replace("P5Y", "P6Y"), source="/etc/keepline.yaml")
        kept = await activate_and_log(root, changed, source="/etc/keepline.yaml")
        assert kept.version == changed.version
    finally:
        await root.close()
    assert _lines(caplog) == [
        f"policy in force: version {shipped.version} from {SHIPPED}",
        f"policy in force: version {api_made.version}, activated through the API or "
        f"`keepline policy apply`; {SHIPPED} (version {shipped.version}) was deployed before "
        "it and replaces it only when the file changes",
        f"policy in force: version {changed.version} from /etc/keepline.yaml",
    ]
