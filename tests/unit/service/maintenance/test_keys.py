"""Key rotation: every data key re-wrapped under the new KEK, each rotation and re-wrap audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from service.maintenance.keys import retire_unused, rewrap_all, rotate_and_rewrap
from storage.crypto.keyring import FileKeyRing
from storage.errors import UnwrapError
from storage.models import RewrappedKey, WrappedKey
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from tests.catalog_contract.support import T0, add_item, stored_content
from tests.catalog_templates import migrated_sqlite

DATA_KEY = b"\x07" * 32


@dataclass(frozen=True, slots=True)
class Env:
    catalog: SqlCatalog
    ring: FileKeyRing
    audit: SqlAuditLog


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await db.create_schema()
    catalog = SqlCatalog(db)
    yield Env(catalog, FileKeyRing(tmp_path / "keys" / "keyring.json"), SqlAuditLog(db))
    await db.dispose()


async def _wrapped_item(env: Env, tag: str) -> str:
    item_id = await add_item(env.catalog, commit=False)
    wrapped = env.ring.wrap(DATA_KEY, item_id=item_id)
    content = replace(stored_content(tag), key_id=wrapped.key_id, wrapped_key=wrapped.to_str())
    await env.catalog.commit_claimed(
        item_id, stored=content, purposes=[], hold_ids=[], s3_synced=True
    )
    return item_id


async def _key_ids(env: Env) -> dict[str | None, int]:
    return await env.catalog.wrapped_key_counts()


async def test_a_rotation_rewraps_every_data_key_and_is_audited(env: Env) -> None:
    old = env.ring.current_key_id()
    items = [await _wrapped_item(env, tag) for tag in "abc"]
    seen: list[tuple[int, int]] = []

    report = await rotate_and_rewrap(
        env.catalog,
        env.ring,
        env.audit,
        rotate=True,
        batch_size=2,
        progress=lambda done, total: seen.append((done, total)),
        clock=lambda: T0,
    )

    new = env.ring.current_key_id()
    assert new != old
    assert (report.key_id, report.rewrapped, report.left) == (new, 3, 0)
    assert seen == [(2, 3), (3, 3)]
    assert await _key_ids(env) == {new: 3}
    # The data keys themselves are unchanged: each still unwraps to the same key, under new.
    rows = {r.item_id: r.wrapped_key for r in await env.catalog.wrapped_keys(not_key_id="none")}
    for item_id in items:
        assert env.ring.unwrap(WrappedKey.from_str(rows[item_id]), item_id=item_id) == DATA_KEY
    (entry,) = await env.audit.query(action="key.rotated")
    assert (entry.actor, entry.at, entry.item_id) == ("keepline-keys", T0, None)
    assert entry.details == {"key_id": new, "previous_key_id": old, "rewrapped": 3, "left": 0}
    assert await env.audit.query(action="key.rewrapped") == []


async def test_the_audit_entry_holds_no_key_material(env: Env) -> None:
    item_id = await _wrapped_item(env, "a")
    await rotate_and_rewrap(env.catalog, env.ring, env.audit, rotate=True, clock=lambda: T0)
    (entry,) = await env.audit.query(action="key.rotated")
    text = json.dumps(entry.details)
    (row,) = await env.catalog.wrapped_keys(not_key_id="none")
    assert row.item_id == item_id
    assert row.wrapped_key not in text
    assert DATA_KEY.hex() not in text
    assert set(entry.details) == {"key_id", "previous_key_id", "rewrapped", "left"}


async def test_a_rewrap_alone_is_audited_with_its_count(env: Env) -> None:
    await _wrapped_item(env, "a")
    new = env.ring.rotate()  # rotated elsewhere; the re-wrap resumes it
    await _wrapped_item(env, "b")  # already under the new key: not re-wrapped

    report = await rotate_and_rewrap(
        env.catalog, env.ring, env.audit, rotate=False, clock=lambda: T0
    )

    assert (report.key_id, report.rewrapped, report.left) == (new, 1, 0)
    (entry,) = await env.audit.query(action="key.rewrapped")
    assert entry.details == {"key_id": new, "rewrapped": 1, "left": 0}
    assert await env.audit.query(action="key.rotated") == []
    again = await rotate_and_rewrap(
        env.catalog, env.ring, env.audit, rotate=False, clock=lambda: T0
    )
    assert again.rewrapped == 0
    assert [e.details["rewrapped"] for e in await env.audit.query(action="key.rewrapped")] == [
        1,
        0,
    ]


async def test_a_rotation_whose_rewrap_fails_is_still_audited(env: Env) -> None:
    first, second = sorted([await _wrapped_item(env, "a"), await _wrapped_item(env, "b")])
    rows = {r.item_id: r for r in await env.catalog.wrapped_keys(not_key_id="none")}
    # The second item (in re-wrap order) carries the first one's wrapped key: it fails
    # authentication, after the first one was re-wrapped.
    misplaced = RewrappedKey(
        second, rows[second].wrapped_key, rows[first].key_id or "", rows[first].wrapped_key
    )
    assert await env.catalog.replace_wrapped_keys([misplaced]) == 1
    old = env.ring.current_key_id()

    with pytest.raises(UnwrapError):
        await rotate_and_rewrap(
            env.catalog, env.ring, env.audit, rotate=True, batch_size=1, clock=lambda: T0
        )

    (entry,) = await env.audit.query(action="key.rotated")
    assert entry.details == {
        "key_id": env.ring.current_key_id(),
        "previous_key_id": old,
        "rewrapped": 1,
        "left": None,
    }
    assert entry.details["key_id"] != old


async def test_retire_after_a_rotation_leaves_only_the_new_key(env: Env) -> None:
    old = env.ring.current_key_id()
    await _wrapped_item(env, "a")
    await rotate_and_rewrap(env.catalog, env.ring, env.audit, rotate=True, clock=lambda: T0)
    done = await retire_unused(
        env.catalog, env.ring, key_ids=[], in_flight_after=T0, audit=env.audit, at=T0
    )
    assert done.retired == (old,)
    assert env.ring.key_ids() == [env.ring.current_key_id()]
    assert (await rewrap_all(env.catalog, env.ring)).rewrapped == 0
