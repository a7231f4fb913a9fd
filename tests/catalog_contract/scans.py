"""The catalog's maintenance scans: key rotation and reconciliation with the object store."""

from __future__ import annotations

import pytest

from storage.models import ItemStatus
from storage.sql.catalog import SqlCatalog
from storage.sql.catalog_scans import RewrappedKey
from storage.sql.database import Database
from tests.catalog_contract.support import T0, add_item, stored_content


class CatalogScansContract:
    """Paging by item id over wrapped keys and objects, in bounded memory."""

    @pytest.fixture
    def catalog(self, db: Database) -> SqlCatalog:
        return SqlCatalog(db)

    async def test_wrapped_keys_page_by_item_id(self, catalog: SqlCatalog) -> None:
        old = [await add_item(catalog, stored=stored_content(f"o{n}")) for n in range(5)]
        await add_item(catalog, stored=stored_content("new", key_id="kek-2"))
        await add_item(catalog)  # metadata only: no key
        destroyed = await add_item(catalog, stored=stored_content("gone"))
        await catalog.mark_destroyed(destroyed, reason="test", at=T0)
        assert await catalog.count_wrapped_keys(not_key_id="kek-2") == 5
        seen, after = [], ""
        while page := await catalog.wrapped_keys(not_key_id="kek-2", after_item_id=after, limit=2):
            assert len(page) <= 2
            seen += page
            after = page[-1].item_id
        assert [row.item_id for row in seen] == sorted(old)
        assert {row.key_id for row in seen} == {"kek-1"}

    async def test_a_rewrap_only_replaces_the_key_it_read(self, catalog: SqlCatalog) -> None:
        kept = await add_item(catalog, stored=stored_content("k"))
        shredded = await add_item(catalog, stored=stored_content("s"))
        rows = await catalog.wrapped_keys(not_key_id="kek-2")
        await catalog.mark_destroyed(shredded, reason="erasure", at=T0)
        changed = await catalog.replace_wrapped_keys(
            [RewrappedKey(r.item_id, r.wrapped_key, "kek-2", f"kek-2:{r.item_id}") for r in rows]
        )
        assert changed == 1
        record = await catalog.get(kept)
        assert record is not None
        assert record.stored is not None
        assert (record.stored.key_id, record.stored.wrapped_key) == ("kek-2", f"kek-2:{kept}")
        gone = await catalog.get(shredded, include_pending=True)
        assert gone is not None
        assert gone.stored is None
        assert await catalog.count_wrapped_keys(not_key_id="kek-2") == 0

    async def test_objects_and_their_owners(self, catalog: SqlCatalog) -> None:
        first = await add_item(catalog, stored=stored_content("a"))
        second = await add_item(catalog, stored=stored_content("b"))
        pending = await add_item(catalog, commit=False)
        await catalog.commit_claimed(pending, stored=None, purposes=[], hold_ids=[], s3_synced=True)
        owners = await catalog.object_owners(["items/a/object", "items/zz/object"])
        assert list(owners) == ["items/a/object"]
        owner = owners["items/a/object"]
        assert (owner.item_id, owner.status, owner.version_id) == (first, ItemStatus.STORED, "v-a")
        assert await catalog.object_owners([]) == {}
        page = await catalog.stored_objects(limit=1)
        rest = await catalog.stored_objects(after_item_id=page[0].item_id)
        assert [o.item_id for o in page + rest] == sorted([first, second])
