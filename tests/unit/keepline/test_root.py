"""The composition root: every entry point activates a changed policy file the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepline.commands.sweep import opened
from keepline.root import build, configured_policy
from policies.policy_file import load_default_policy
from storage.settings import StorageSettings

CHANGED = """
purposes:
  legal: {basis: legal_obligation, retention: P5Y, roles: [legal]}
rules:
  - match: {type: email}
    purposes: [legal]
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageSettings:
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEEPLINE_OBJECT_STORE", "filesystem")
    monkeypatch.delenv("KEEPLINE_CATALOG_URL", raising=False)
    monkeypatch.delenv("KEEPLINE_POLICY_FILE", raising=False)
    return StorageSettings()


async def _policy_changes(settings: StorageSettings) -> list[dict[str, object]]:
    root = build(settings)
    try:
        entries = await root.storage.audit.query(action="policy.changed")
    finally:
        await root.close()
    return [dict(e.details) for e in entries]


async def test_serve_and_the_cli_audit_the_activation_of_a_changed_policy_file(
    settings: StorageSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build(settings)
    try:
        await root.prepare(load_default_policy())  # what `keepline serve` does at start-up
    finally:
        await root.close()
    first = await _policy_changes(settings)
    assert [d["version"] for d in first] == [load_default_policy().version]

    # The operator edits the policy file, then runs a CLI command before any serve.
    path = tmp_path / "policy.yaml"
    path.write_text(CHANGED, encoding="utf-8")
    monkeypatch.setenv("KEEPLINE_POLICY_FILE", str(path))
    async with opened(write=False) as cli_root:
        assert (await cli_root.storage.policies.active()).version == configured_policy().version
    changes = await _policy_changes(settings)
    assert [d["version"] for d in changes] == [
        load_default_policy().version,
        configured_policy().version,
    ]
    assert changes[1]["previous_version"] == load_default_policy().version


async def test_an_unchanged_policy_file_is_not_activated_again(settings: StorageSettings) -> None:
    for _ in range(2):
        async with opened(write=True):
            pass
    assert len(await _policy_changes(settings)) == 1
