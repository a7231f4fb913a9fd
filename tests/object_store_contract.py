"""The ObjectStore contract: one suite that every adapter must pass.

Test modules subclass `ObjectStoreContract` and provide a `store` fixture (a fresh, empty,
versioned bucket with Object Lock in GOVERNANCE mode) and `read_tags(store, key, version)`.
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

import pytest

from storage.errors import ObjectNotFoundError, ObjectStoreError
from storage.ports import ObjectStore, ObjectVersion

MIB = 1 << 20


class _FailingReader:
    """Yields some bytes, then fails like a content source that broke mid-transfer."""

    def __init__(self, good_bytes: int) -> None:
        self._left = good_bytes

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise ConnectionResetError("source went away")
        take = self._left if size < 0 else min(size, self._left)
        self._left -= take
        return b"x" * take


def _put(store: ObjectStore, key: str, data: bytes, tags: dict[str, str] | None = None) -> Any:
    return store.put_stream(
        key,
        cast(BinaryIO, io.BytesIO(data)),
        content_type="application/octet-stream",
        tags=tags or {"kl-type": "chat"},
    )


def _read(store: ObjectStore, key: str, version: str | None, offset: int, length: int) -> bytes:
    return b"".join(store.get_range(key, version, offset=offset, length=length))


class ObjectStoreContract:
    """What keepline relies on from an object store (S3 with Object Lock)."""

    def read_tags(self, store: Any, key: str, version_id: str | None) -> dict[str, str]:
        raise NotImplementedError

    def test_put_then_read_whole_and_ranges(self, store: ObjectStore) -> None:
        data = os.urandom(300_000)
        result = _put(store, "items/ab/one", data)
        assert result.size_bytes == len(data)
        assert result.key == "items/ab/one"
        assert _read(store, "items/ab/one", result.version_id, 0, len(data)) == data
        assert _read(store, "items/ab/one", result.version_id, 1234, 5000) == data[1234:6234]
        assert _read(store, "items/ab/one", None, len(data) - 10, 10) == data[-10:]

    def test_large_upload_of_unknown_length_streams_through(self, store: ObjectStore) -> None:
        # Larger than one multipart part on MinIO (5 MiB parts in the integration suite).
        block = os.urandom(MIB)
        data = block * 11 + b"tail"
        result = _put(store, "items/cd/large", data)
        assert result.size_bytes == len(data)
        got = b"".join(
            store.get_range("items/cd/large", result.version_id, offset=0, length=len(data))
        )
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()

    def test_every_put_is_a_new_version_newest_first(self, store: ObjectStore) -> None:
        first = _put(store, "items/ef/v", b"first")
        second = _put(store, "items/ef/v", b"second")
        assert first.version_id
        assert second.version_id
        assert first.version_id != second.version_id
        assert [v.version_id for v in store.versions("items/ef/v")] == [
            second.version_id,
            first.version_id,
        ]
        assert _read(store, "items/ef/v", first.version_id, 0, 5) == b"first"
        assert _read(store, "items/ef/v", None, 0, 6) == b"second"

    def test_versions_of_a_key_do_not_include_longer_keys(self, store: ObjectStore) -> None:
        _put(store, "items/gh/k", b"a")
        _put(store, "items/gh/k2", b"b")
        assert [v.key for v in store.versions("items/gh/k")] == ["items/gh/k"]
        assert store.versions("items/gh/none") == []

    def test_missing_key_or_version_is_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            _read(store, "items/zz/missing", None, 0, 1)
        put = _put(store, "items/zz/present", b"data")
        store.delete_versions(
            [ObjectVersion("items/zz/present", put.version_id)], bypass_governance=False
        )
        with pytest.raises(ObjectNotFoundError):
            _read(store, "items/zz/present", put.version_id, 0, 1)

    def test_failed_reader_leaves_no_version(self, store: ObjectStore) -> None:
        with pytest.raises(ConnectionResetError):
            store.put_stream(
                "items/ij/broken",
                cast(BinaryIO, _FailingReader(6 * MIB)),
                content_type="application/octet-stream",
                tags={},
            )
        assert store.versions("items/ij/broken") == []
        assert list(store.list_keys("items/ij/")) == []

    def test_delete_versions_removes_them_and_tolerates_gone_ones(self, store: ObjectStore) -> None:
        one = _put(store, "items/kl/d", b"1")
        two = _put(store, "items/kl/d", b"2")
        store.delete_versions(
            [ObjectVersion("items/kl/d", one.version_id)], bypass_governance=False
        )
        assert [v.version_id for v in store.versions("items/kl/d")] == [two.version_id]
        store.delete_versions(
            [
                ObjectVersion("items/kl/d", one.version_id),
                ObjectVersion("items/kl/d", two.version_id),
            ],
            bypass_governance=False,
        )
        assert store.versions("items/kl/d") == []
        assert list(store.list_keys("items/kl/")) == []

    def test_a_bulk_delete_removes_all_it_may_then_refuses(self, store: ObjectStore) -> None:
        keys = [f"items/bk/{i}" for i in range(5)]
        puts = [_put(store, key, key.encode()) for key in keys]
        store.set_legal_hold(keys[1], puts[1].version_id, on=True)
        with pytest.raises(ObjectStoreError):
            store.delete_versions(
                [ObjectVersion(k, p.version_id) for k, p in zip(keys, puts, strict=True)],
                bypass_governance=True,
            )
        assert [k for k in keys if store.versions(k)] == [keys[1]]

    def test_an_upload_can_be_retained_from_the_start(self, store: ObjectStore) -> None:
        until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        put = store.put_stream(
            "items/rt/worm",
            cast(BinaryIO, io.BytesIO(b"locked")),
            content_type="application/octet-stream",
            tags={"kl-type": "chat"},
            retain_until=until,
        )
        assert store.lock_state("items/rt/worm", put.version_id) == (False, until)
        version = [ObjectVersion("items/rt/worm", put.version_id)]
        with pytest.raises(ObjectStoreError):
            store.delete_versions(version, bypass_governance=False)
        store.delete_versions(version, bypass_governance=True)  # GOVERNANCE: bypassed
        assert store.versions("items/rt/worm") == []

    def test_legal_hold_refuses_delete_until_cleared(self, store: ObjectStore) -> None:
        put = _put(store, "items/mn/held", b"held")
        version = ObjectVersion("items/mn/held", put.version_id)
        store.set_legal_hold(version.key, version.version_id, on=True)
        with pytest.raises(ObjectStoreError):
            store.delete_versions([version], bypass_governance=True)
        assert store.versions(version.key) == [version]
        store.set_legal_hold(version.key, version.version_id, on=False)
        store.delete_versions([version], bypass_governance=True)
        assert store.versions(version.key) == []

    def test_governance_retention_needs_bypass_to_delete(self, store: ObjectStore) -> None:
        put = _put(store, "items/op/worm", b"worm")
        version = ObjectVersion("items/op/worm", put.version_id)
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        store.set_retention(version.key, version.version_id, until=until)
        store.set_retention(version.key, version.version_id, until=until + timedelta(days=1))
        with pytest.raises(ObjectStoreError):
            store.delete_versions([version], bypass_governance=False)
        assert store.versions(version.key) == [version]
        store.delete_versions([version], bypass_governance=True)
        assert store.versions(version.key) == []

    def test_tags_are_replaced_without_a_new_version(self, store: ObjectStore) -> None:
        put = _put(store, "items/qr/t", b"t", tags={"kl-type": "email", "kl-purposes": "legal"})
        assert self.read_tags(store, "items/qr/t", put.version_id) == {
            "kl-type": "email",
            "kl-purposes": "legal",
        }
        store.set_tags("items/qr/t", put.version_id, {"kl-purposes": "none"})
        assert self.read_tags(store, "items/qr/t", put.version_id) == {"kl-purposes": "none"}
        assert len(store.versions("items/qr/t")) == 1

    def test_listing_by_prefix(self, store: ObjectStore) -> None:
        a = _put(store, "items/st/a", b"a")
        a2 = _put(store, "items/st/a", b"a2")
        b = _put(store, "items/st/b", b"b")
        _put(store, "other/st/c", b"c")
        assert sorted(store.list_keys("items/st/")) == ["items/st/a", "items/st/b"]
        lister = cast(Any, store)
        listed = list(lister.list_versions("items/st/"))
        assert sorted((v.key, v.version_id) for v in listed) == sorted(
            [
                ("items/st/a", a.version_id),
                ("items/st/a", a2.version_id),
                ("items/st/b", b.version_id),
            ]
        )
        keys_in_order = [v.key for v in listed]
        assert keys_in_order == sorted(keys_in_order)  # one key's versions come together

    def test_ping_answers(self, store: ObjectStore) -> None:
        store.ping()

    def test_a_new_bucket_keeps_versions_under_object_lock(self, store: ObjectStore) -> None:
        protection = store.protection()
        assert (protection.versioning, protection.object_lock) == ("Enabled", True)

    def test_lock_state_tells_legal_hold_and_retention(self, store: ObjectStore) -> None:
        version = _put(store, "items/ls/a", b"locked").version_id
        assert store.lock_state("items/ls/a", version) == (False, None)
        until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        store.set_retention("items/ls/a", version, until=until)
        store.set_legal_hold("items/ls/a", version, on=True)
        held, retained_until = store.lock_state("items/ls/a", version)
        assert held is True
        assert retained_until is not None
        assert abs((retained_until - until).total_seconds()) < 1
        store.set_legal_hold("items/ls/a", version, on=False)
        assert store.lock_state("items/ls/a", version)[0] is False

    def test_listed_versions_say_when_they_were_written(self, store: ObjectStore) -> None:
        before = datetime.now(UTC) - timedelta(minutes=5)
        _put(store, "items/lm/a", b"dated")
        (listed,) = list(store.list_versions("items/lm/"))
        assert listed.modified_at is not None
        assert before < listed.modified_at < datetime.now(UTC) + timedelta(minutes=5)
