"""SqlPolicyStore: policy versions in the catalog, and the active one cached in memory."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import insert, select, update

from policies.models import Policy
from policies.policy_file import parse_policy
from storage.sql.audit import SqlAuditLog
from storage.sql.database import Database
from storage.sql.schema import policy_versions


class SqlPolicyStore:
    """Every policy version ever activated; exactly one is active."""

    def __init__(self, db: Database, *, cache_ttl_s: float = 2.0) -> None:
        self._db = db
        self._ttl_s = cache_ttl_s
        self._cached: Policy | None = None
        self._cached_at = 0.0

    async def activate(self, policy: Policy, *, by: str, at: datetime) -> bool:
        """Make policy the active version; False if it already was."""
        async with self._db.begin() as conn:
            current = (
                await conn.execute(
                    select(policy_versions.c.version).where(policy_versions.c.active.is_(True))
                )
            ).scalar_one_or_none()
            if current == policy.version:
                return False
            await conn.execute(update(policy_versions).values(active=False))
            known = (
                await conn.execute(
                    select(policy_versions.c.version).where(
                        policy_versions.c.version == policy.version
                    )
                )
            ).scalar_one_or_none()
            if known is None:
                await conn.execute(
                    insert(policy_versions).values(
                        version=policy.version,
                        text=policy.source_text,
                        activated_at=at,
                        activated_by=by,
                        active=True,
                    )
                )
            else:
                await conn.execute(
                    update(policy_versions)
                    .where(policy_versions.c.version == policy.version)
                    .values(active=True, activated_at=at, activated_by=by)
                )
        # Re-read next time: inside a unit of work this change may yet roll back.
        self._cached_at = 0.0
        return True

    async def bootstrap(
        self, policy: Policy, *, at: datetime, audit: SqlAuditLog | None = None
    ) -> Policy:
        """At start-up: activate the file's policy unless that version is already known.

        A changed policy file is a deployment of a new version (audited as policy.changed
        when an audit log is given); an unchanged one leaves any version activated since
        through the API in force.
        """
        async with self._db.connect() as conn:
            known = (
                await conn.execute(
                    select(policy_versions.c.version).where(
                        policy_versions.c.version == policy.version
                    )
                )
            ).scalar_one_or_none()
            previous = (
                await conn.execute(
                    select(policy_versions.c.version).where(policy_versions.c.active.is_(True))
                )
            ).scalar_one_or_none()
        async with self._db.transaction():
            activated = known is None and await self.activate(policy, by="policy-file", at=at)
            if activated and audit is not None:
                await audit.append(
                    actor="policy-file",
                    action="policy.changed",
                    at=at,
                    details={"version": policy.version, "previous_version": previous},
                )
        return await self.active(refresh=True)

    async def active(self, *, refresh: bool = False) -> Policy:
        """The active policy, re-read at most every cache_ttl_s."""
        if (
            not refresh
            and self._cached is not None
            and time.monotonic() - self._cached_at < self._ttl_s
        ):
            return self._cached
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(policy_versions.c.version, policy_versions.c.text).where(
                        policy_versions.c.active.is_(True)
                    )
                )
            ).first()
        if row is None:
            raise LookupError("no active policy: start-up did not bootstrap one")
        if self._cached is None or self._cached.version != row.version:
            self._cached = parse_policy(row.text, source=f"policy {row.version}")
        self._cached_at = time.monotonic()
        return self._cached

    async def text_of(self, version: str) -> str | None:
        """The YAML text of a version."""
        async with self._db.connect() as conn:
            return (
                await conn.execute(
                    select(policy_versions.c.text).where(policy_versions.c.version == version)
                )
            ).scalar_one_or_none()
