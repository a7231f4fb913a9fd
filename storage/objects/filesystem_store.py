"""FilesystemObjectStore: the ObjectStore port on a local directory, with S3's semantics.

Each object is a directory holding one file per version and a JSON sidecar per version
(tags, legal hold, retention). Versions, legal holds and GOVERNANCE/COMPLIANCE retention
behave as they do on MinIO with Object Lock, so the same contract tests pass on both and
unit tests of ingest, destruction and reconciliation need no server.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from storage.errors import ObjectNotFoundError, ObjectStoreError, ObjectStoreUnavailableError
from storage.ports import BucketProtection, ObjectVersion, PutResult

_VERSIONS = ".kl-versions"
_META = ".json"
_TMP = ".tmp-"
_READ_CHUNK_BYTES = 256 * 1024
_MAX_TAGS = 10  # what S3 allows per object


class FilesystemObjectStore:
    """ObjectStore on a directory: versioned, with legal holds and retention.

    Args:
        root: The directory that plays the bucket; created by ``ensure_bucket``.
        lock_mode: Object Lock mode of ``set_retention``, as on MinIO.
    """

    def __init__(
        self, root: Path, *, lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    ) -> None:
        self._root = Path(root)
        self._lock_mode = lock_mode
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FilesystemObjectStore(root={str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The directory that plays the bucket."""
        return self._root

    def ensure_bucket(self) -> None:
        """Create the directory if it is missing."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ObjectStoreUnavailableError(type(err).__name__) from err

    def ping(self) -> None:
        """Raise ObjectStoreUnavailableError if the directory is not there."""
        if not self._root.is_dir():
            raise ObjectStoreUnavailableError(f"no directory {self._root}")

    def put_stream(
        self,
        key: str,
        reader: BinaryIO,
        *,
        content_type: str,
        tags: Mapping[str, str],
        retain_until: datetime | None = None,
    ) -> PutResult:
        """Write everything reader yields as a new version; nothing is kept if reading fails."""
        _check_tags(tags)
        folder = self._versions_dir(key)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{_TMP}{uuid.uuid4().hex}"
            handle = tmp.open("wb")
        except OSError as err:
            raise ObjectStoreUnavailableError(type(err).__name__) from err
        size = 0
        try:
            with handle:
                while chunk := _read_source(reader):
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            version_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
            meta = {
                "content_type": content_type,
                "tags": dict(tags),
                "legal_hold": False,
                "retain_until": None
                if retain_until is None
                else retain_until.astimezone(UTC).isoformat(),
                "size_bytes": size,
            }
            _write_json(folder / f"{version_id}{_META}", meta)
            tmp.rename(folder / version_id)
        except _SourceError as err:
            tmp.unlink(missing_ok=True)
            raise err.original from None
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise ObjectStoreUnavailableError(type(err).__name__) from err
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return PutResult(key=key, version_id=version_id, size_bytes=size)

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        """Stream bytes [offset, offset+length) of one version (the latest for None)."""
        path = self._data_path(key, version_id)
        try:
            handle = path.open("rb")
        except FileNotFoundError as err:
            raise ObjectNotFoundError(key) from err
        with handle:
            handle.seek(offset)
            left = length
            while left > 0:
                chunk = handle.read(min(left, _READ_CHUNK_BYTES))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of key, newest first."""
        return [ObjectVersion(key, v) for v in self._version_ids(key)]

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        """Remove versions for good; refuses held or locked ones as S3 does.

        As S3's multi-object delete does, every version it may remove is removed, and only
        then is the first refusal raised.
        """
        now = datetime.now(UTC)
        refused: list[str] = []
        with self._lock:
            for version in versions:
                if version.version_id is None:
                    continue
                meta = self._read_meta(version.key, version.version_id, missing_ok=True)
                if meta is None:
                    continue  # already gone
                if meta["legal_hold"]:
                    refused.append("legal hold")
                    continue
                until = meta["retain_until"]
                if (
                    until
                    and datetime.fromisoformat(until) > now
                    and (self._lock_mode == "COMPLIANCE" or not bypass_governance)
                ):
                    refused.append("retention")
                    continue
                folder = self._versions_dir(version.key)
                (folder / version.version_id).unlink(missing_ok=True)
                (folder / f"{version.version_id}{_META}").unlink(missing_ok=True)
                self._prune(folder)
        if refused:
            raise ObjectStoreError(f"delete refused: {refused[0]}")

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        """Set or clear the legal-hold flag of one version."""
        self._update(key, version_id, legal_hold=on)

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        """Retain one version until the given time; a retention is never shortened."""
        with self._lock:
            resolved = self._resolve(key, version_id)
            meta = self._read_meta(key, resolved)
            assert meta is not None  # resolve found the version
            current = meta["retain_until"]
            if current and datetime.fromisoformat(current) > until:
                raise ObjectStoreError("retention refused: it would be shortened")
            meta["retain_until"] = until.astimezone(UTC).isoformat()
            _write_json(self._versions_dir(key) / f"{resolved}{_META}", meta)

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
        """Replace the tags of one version (no new version is made)."""
        _check_tags(tags)
        self._update(key, version_id, tags=dict(tags))

    def tags(self, key: str, version_id: str | None) -> dict[str, str]:
        """The tags of one version."""
        meta = self._read_meta(key, self._resolve(key, version_id))
        assert meta is not None
        return dict(meta["tags"])

    def legal_hold(self, key: str, version_id: str | None) -> bool:
        """Whether one version carries the legal-hold flag."""
        meta = self._read_meta(key, self._resolve(key, version_id))
        assert meta is not None
        return bool(meta["legal_hold"])

    def retention(self, key: str, version_id: str | None) -> datetime | None:
        """Until when one version is retained (None: not retained)."""
        meta = self._read_meta(key, self._resolve(key, version_id))
        assert meta is not None
        until = meta["retain_until"]
        return datetime.fromisoformat(until) if until else None

    def protection(self) -> BucketProtection:
        """Always versioned, with Object Lock: the directory behaves as such a bucket."""
        self.ping()
        return BucketProtection(versioning="Enabled", object_lock=True)

    def lock_state(self, key: str, version_id: str | None) -> tuple[bool, datetime | None]:
        """(legal hold on, retained until) of one version."""
        return self.legal_hold(key, version_id), self.retention(key, version_id)

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under prefix that has a version, in lexical order."""
        for key in self._keys():
            if key.startswith(prefix):
                yield key

    def list_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version of every key under prefix, by key, newest version first."""
        for key in self.list_keys(prefix):
            folder = self._versions_dir(key)
            for version in self.versions(key):
                yield replace(version, modified_at=_modified_at(folder, version.version_id))

    # -- layout -------------------------------------------------------------------------

    def _versions_dir(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in {"", ".", "..", _VERSIONS} for p in parts):
            raise ObjectStoreError(f"object name not allowed: {key!r}")
        return self._root.joinpath(*parts, _VERSIONS)

    def _version_ids(self, key: str) -> list[str]:
        folder = self._versions_dir(key)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        ids = [n for n in names if not n.endswith(_META) and not n.startswith(_TMP)]
        return sorted(ids, reverse=True)

    def _resolve(self, key: str, version_id: str | None) -> str:
        ids = self._version_ids(key)
        if version_id is None:
            if not ids:
                raise ObjectNotFoundError(key)
            return ids[0]
        if version_id not in ids:
            raise ObjectNotFoundError(key)
        return version_id

    def _data_path(self, key: str, version_id: str | None) -> Path:
        return self._versions_dir(key) / self._resolve(key, version_id)

    def _read_meta(
        self, key: str, version_id: str, *, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        path = self._versions_dir(key) / f"{version_id}{_META}"
        try:
            meta: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as err:
            if missing_ok:
                return None
            raise ObjectNotFoundError(key) from err
        return meta

    def _update(self, key: str, version_id: str | None, **changes: Any) -> None:
        with self._lock:
            resolved = self._resolve(key, version_id)
            meta = self._read_meta(key, resolved)
            assert meta is not None
            meta.update(changes)
            _write_json(self._versions_dir(key) / f"{resolved}{_META}", meta)

    def _keys(self) -> list[str]:
        found = []
        for folder, dirs, _files in os.walk(self._root):
            if _VERSIONS in dirs:
                dirs.remove(_VERSIONS)
                key = Path(folder).relative_to(self._root).as_posix()
                if self._version_ids(key):
                    found.append(key)
        return sorted(found)

    def _prune(self, folder: Path) -> None:
        # Empty directories left by the last version are removed up to the root.
        current = folder
        while current != self._root and current.is_relative_to(self._root):
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent


class _SourceError(Exception):
    """Carries an error of the reader past the handling of the store's own I/O errors."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _modified_at(folder: Path, version_id: str | None) -> datetime | None:
    """When a version's file was written (None if it vanished meanwhile)."""
    try:
        return datetime.fromtimestamp((folder / str(version_id)).stat().st_mtime, tz=UTC)
    except OSError:
        return None


def _read_source(reader: BinaryIO) -> bytes:
    try:
        return reader.read(_READ_CHUNK_BYTES)
    except Exception as err:  # the reader's own failure: handed back to the caller as is
        raise _SourceError(err) from err


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > _MAX_TAGS:
        raise ObjectStoreError(f"at most {_MAX_TAGS} tags per object")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f"{_TMP}{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(data), "utf-8")
    tmp.replace(path)
