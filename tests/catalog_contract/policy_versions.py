"""SqlPolicyStore's contract: every version kept, exactly one active."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.models import Policy
from policies.policy_file import load_default_policy, parse_policy
from storage.sql.audit import SqlAuditLog
from storage.sql.database import Database
from storage.sql.policies import SqlPolicyStore
from tests.catalog_contract.support import T0


class PolicyStoreContract:
    """What policy activation and the retention sweeper rely on from policy versions."""

    @pytest.fixture
    def policies(self, db: Database) -> SqlPolicyStore:
        return SqlPolicyStore(db, cache_ttl_s=0)

    @pytest.fixture
    def first(self) -> Policy:
        return load_default_policy()

    @pytest.fixture
    def second(self, first: Policy) -> Policy:
        return parse_policy(first.source_text.replace("retention: P90D", "retention: P60D"))

    async def test_no_policy_until_one_is_activated(self, policies: SqlPolicyStore) -> None:
        with pytest.raises(LookupError, match="no active policy"):
            await policies.active()

    async def test_activation_switches_the_active_version(
        self, db: Database, policies: SqlPolicyStore, first: Policy, second: Policy
    ) -> None:
        assert first.version != second.version
        assert await policies.activate(first, by="alice", at=T0)
        assert not await policies.activate(first, by="alice", at=T0)
        assert await policies.activate(second, by="bob", at=T0 + timedelta(hours=1))
        assert (await policies.active(refresh=True)).version == second.version
        assert await policies.activate(first, by="carol", at=T0 + timedelta(hours=2))
        fresh = SqlPolicyStore(db, cache_ttl_s=0)  # another process
        assert (await fresh.active()).version == first.version
        assert await fresh.text_of(second.version) == second.source_text
        assert await fresh.text_of("unknown") is None

    async def test_bootstrap_activates_only_an_unknown_file_version(
        self, db: Database, policies: SqlPolicyStore, first: Policy, second: Policy
    ) -> None:
        audit = SqlAuditLog(db)
        assert (await policies.bootstrap(first, at=T0, audit=audit)).version == first.version
        await policies.activate(second, by="api-user", at=T0 + timedelta(hours=1))
        # A restart with the unchanged file keeps what the API activated meanwhile.
        restarted = SqlPolicyStore(db, cache_ttl_s=0)
        kept = await restarted.bootstrap(first, at=T0 + timedelta(hours=2), audit=audit)
        assert kept.version == second.version
        changes = await audit.query(action="policy.changed")
        assert [e.details for e in changes] == [
            {"version": first.version, "previous_version": None}
        ]
