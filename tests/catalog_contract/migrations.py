"""The schema migrations' contract: from nothing, from the previous revision, never backwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import storage.sql.catalog
import storage.sql.catalog_rows
from keepline.cli import main
from policies.models import HoldCriteria
from storage.models import PartyRow
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.holds import SqlHoldStore
from storage.sql.migrations import SchemaTooNewError, head_revision, known_revisions, upgrade
from storage.sql.schema import metadata
from tests.catalog_contract.support import T0, add_item, purpose, stored_content

UrlFactory = Callable[[], str]


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _indexes(connection: Connection, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(connection).get_indexes(table)}


_PARTY_ROWS = storage.sql.catalog_rows.party_rows


def _parties_before_0013(item_id: str, parties: Sequence[PartyRow]) -> list[dict[str, Any]]:
    """Party rows as revision 0012 wrote them: today's, without the folded address."""
    return [
        {key: value for key, value in row.items() if key != "address_folded"}
        for row in _PARTY_ROWS(item_id, parties)
    ]


def hold_on(**criteria: Any) -> HoldCriteria:
    return HoldCriteria.from_json(criteria)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _at_revision(url: str, revision: str) -> Database:
    db = Database(url)
    async with db.engine.connect() as conn:
        await conn.run_sync(lambda c: upgrade(c, revision))
    return db


class MigrationsContract:
    """What start-up and `keepline db` rely on from the migrations, on every backend.

    Test classes provide `fresh_url`: a factory of URLs of new, empty databases.
    """

    async def test_an_empty_catalog_is_upgraded_to_the_newest_revision(
        self, fresh_url: UrlFactory
    ) -> None:
        db = Database(fresh_url())
        try:
            before, after = await db.create_schema()
            assert (before.current, after.current) == (None, head_revision())
            again_before, again_after = await db.create_schema()
            assert again_before == again_after == after
            assert (await db.schema_state()).up_to_date
        finally:
            await db.dispose()

    async def test_the_migrated_schema_is_the_metadata(self, fresh_url: UrlFactory) -> None:
        db = Database(fresh_url())
        try:
            await db.create_schema()
            async with db.engine.connect() as conn:
                assert await conn.run_sync(_differences) == []
        finally:
            await db.dispose()

    async def test_a_catalog_at_the_previous_revision_keeps_its_data(
        self, fresh_url: UrlFactory
    ) -> None:
        previous = known_revisions()[1]
        db = await _at_revision(fresh_url(), previous)
        try:
            catalog = SqlCatalog(db)
            item_id = await add_item(
                catalog, item_type="chat", subjects=["cust-1"], stored=stored_content("p")
            )
            async with db.engine.connect() as conn:
                # What the newest revision adds (0014: an index by state and type).
                assert "ix_items_status_type" in str(await conn.run_sync(_differences))
            before, after = await db.create_schema()
            assert (before.current, after.current) == (previous, head_revision())
            async with db.engine.connect() as conn:
                assert "ix_items_status_type" in await conn.run_sync(_indexes, "items")
                assert await conn.run_sync(_differences) == []
            record = await catalog.get(item_id)
            assert record is not None
            assert record.subject_ids == {"cust-1"}
            assert await SqlHoldStore(db).preview(HoldCriteria.from_json({"types": ["chat"]})) == 1
        finally:
            await db.dispose()

    async def test_a_catalog_at_revision_0012_gets_its_folded_addresses(
        self, fresh_url: UrlFactory
    ) -> None:
        previous = "0012"
        db = await _at_revision(fresh_url(), previous)
        try:
            catalog = SqlCatalog(db)
            with pytest.MonkeyPatch.context() as patch:
                # Parties as revision 0012 wrote them: without the folded address.
                patch.setattr(storage.sql.catalog, "party_rows", _parties_before_0013)
                patch.setattr(storage.sql.catalog_rows, "party_rows", _parties_before_0013)
                item_id = await add_item(
                    catalog,
                    subjects=["cust-1"],
                    addresses=["STRAßE@bank.example"],
                    stored=stored_content("m"),
                    purposes=[purpose("q")],
                )
            await catalog.set_purposes(item_id, [purpose("legal", 1825)])  # now unsynced
            await SqlAuditLog(db).append(actor="alice", action="hold.placed", at=T0)
            async with db.engine.connect() as conn:
                # What revision 0013 adds: the folded address of each party.
                assert "address_folded" in str(await conn.run_sync(_differences))
            before, after = await db.create_schema()
            assert (before.current, after.current) == (previous, head_revision())
            record = await catalog.get(item_id)
            assert record is not None
            assert (record.subject_ids, record.s3_synced) == ({"cust-1"}, False)
            assert [p.name for p in record.purposes] == ["legal"]
            assert (await SqlAuditLog(db).verify()).entries == 1
            async with db.engine.connect() as conn:
                assert "ix_items_unsynced" in await conn.run_sync(_indexes, "items")
                assert "dead_letters" in await conn.run_sync(_tables)
                assert {"reviews", "productions", "request_guards", "fixity_passes"} <= (
                    await conn.run_sync(_tables)
                )
                assert await conn.run_sync(_differences) == []
            assert record.submitted_by is None  # nobody recorded who sent the older items
            # The older party's folded address was filled in: a hold on it finds the item.
            assert await SqlHoldStore(db).preview(hold_on(addresses=["strasse@BANK.example"])) == 1
        finally:
            await db.dispose()

    async def test_a_catalog_made_before_migrations_is_adopted(self, fresh_url: UrlFactory) -> None:
        db = Database(fresh_url())
        try:
            # What start-up did before migrations: create_all of the first schema.
            async with db.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(text("DROP INDEX ix_items_unsynced"))
            item_id = await add_item(SqlCatalog(db), subjects=["cust-1"])
            before, after = await db.create_schema()
            assert (before.current, after.current) == (None, head_revision())
            assert await SqlCatalog(db).get(item_id) is not None
            async with db.engine.connect() as conn:
                assert await conn.run_sync(_differences) == []
        finally:
            await db.dispose()

    async def test_a_catalog_newer_than_the_code_is_refused(self, fresh_url: UrlFactory) -> None:
        db = Database(fresh_url())
        try:
            await db.create_schema()
            async with db.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            with pytest.raises(SchemaTooNewError) as refused:
                await db.create_schema()
            assert (refused.value.found, refused.value.newest_known) == ("9999", head_revision())
            message = str(refused.value)
            assert "'9999'" in message
            assert repr(head_revision()) in message
            assert "restore a backup" in message
            state = await db.schema_state()
            assert (state.current, state.known) == ("9999", False)
        finally:
            await db.dispose()

    async def test_processes_starting_together_migrate_once(self, fresh_url: UrlFactory) -> None:
        url = fresh_url()
        dbs = [Database(url) for _ in range(3)]
        try:
            results = await asyncio.gather(*(db.create_schema() for db in dbs))
            assert [before.current for before, _ in results].count(None) == 1
            assert {after.current for _, after in results} == {head_revision()}
        finally:
            for db in dbs:
                await db.dispose()

    def test_keepline_db_current_and_upgrade(
        self,
        fresh_url: UrlFactory,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("KEEPLINE_CATALOG_URL", fresh_url())
        assert main(["db", "current"]) == 1
        assert "run `keepline db upgrade`" in capsys.readouterr().out
        assert main(["db", "upgrade"]) == 0
        assert f"to revision {head_revision()}" in capsys.readouterr().out
        assert main(["db", "current"]) == 0
        shown = capsys.readouterr().out
        assert f"at revision {head_revision()} (the newest)" in shown
        assert ":***@" in shown or "sqlite" in shown  # never the password
