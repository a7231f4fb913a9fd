"""The ObjectStore contract on FilesystemObjectStore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.errors import ObjectStoreError
from storage.objects.filesystem_store import FilesystemObjectStore
from tests.object_store_contract import ObjectStoreContract


@pytest.fixture
def store(tmp_path: Path) -> FilesystemObjectStore:
    created = FilesystemObjectStore(tmp_path / "bucket")
    created.ensure_bucket()
    return created


class TestFilesystemObjectStore(ObjectStoreContract):
    def read_tags(self, store: Any, key: str, version_id: str | None) -> dict[str, str]:
        tags: dict[str, str] = store.tags(key, version_id)
        return tags


def test_object_names_cannot_escape_the_root(store: FilesystemObjectStore) -> None:
    for bad in ("../outside", "items/../../x", "/abs", "items//x", "items/.kl-versions"):
        with pytest.raises(ObjectStoreError):
            store.versions(bad)


def test_ping_fails_without_the_directory(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "absent")
    with pytest.raises(ObjectStoreError):
        store.ping()
