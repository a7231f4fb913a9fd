"""Key-encryption keys (KEKs) behind a port: wrap and unwrap per-item data keys.

Every item's content has its own random data key (``storage.crypto.cipher.new_data_key``). The data
key is stored only wrapped, in the item's catalog row; the KEKs that wrap them live in the key
ring, never in the catalog or the object store. Destroying a wrapped data key therefore makes
the object unrecoverable (crypto-shredding), and rotating the KEK means re-wrapping 61-byte
values, never re-encrypting recordings.

Wrapping is AES-256-GCM, not AES-KW (RFC 3394): AES-KW takes no associated data, and binding
the item id (and the KEK id) as associated data is what makes a wrapped key copied into another
item's row fail instead of decrypting that item with this one's key. With random 96-bit nonces
one KEK may wrap up to 2**32 data keys (NIST SP 800-38D); rotate well before that.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto.keyfile import (
    current_stamp,
    locked,
    private_folder,
    read_private,
    write_private,
)
from storage.errors import KeyNotFoundError, KeyRingError, UnwrapError
from storage.models import WrappedKey

KEY_SIZE_BYTES = 32
KEYRING_FILE_VERSION = 1
_WRAP_VERSION = b"\x01"
_NONCE_BYTES = 12
# Key ids fit the 32-byte key id field of the object header (storage/crypto/cipher.py) and never
# hold ":" (the separator of WrappedKey.to_str) or NUL (the separator in associated data).
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
_SERIAL_ID = re.compile(r"k(\d+)")


def _associated_data(key_id: str, item_id: str) -> bytes:
    return b"keepline/wrap/v1\x00" + key_id.encode("ascii") + b"\x00" + item_id.encode("utf-8")


def _wrap(kek: bytes, key_id: str, data_key: bytes, item_id: str) -> WrappedKey:
    if len(data_key) != KEY_SIZE_BYTES:
        raise ValueError(f"a data key is {KEY_SIZE_BYTES} bytes")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, data_key, _associated_data(key_id, item_id))
    return WrappedKey(key_id, _WRAP_VERSION + nonce + sealed)


def _unwrap(kek: bytes, wrapped: WrappedKey, item_id: str) -> bytes:
    blob = wrapped.ciphertext
    if not blob.startswith(_WRAP_VERSION):
        raise UnwrapError(key_id=wrapped.key_id, item_id=item_id)
    nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, _associated_data(wrapped.key_id, item_id))
    except (InvalidTag, ValueError):
        raise UnwrapError(key_id=wrapped.key_id, item_id=item_id) from None


def _next_key_id(existing: Mapping[str, bytes]) -> str:
    serials = [int(m.group(1)) for k in existing if (m := _SERIAL_ID.fullmatch(k))]
    return f"k{max(serials, default=0) + 1}"


class _VersionedKeyRing:
    """Wrapping logic shared by the key rings: subclasses say where the versions live."""

    def _versions(self) -> tuple[str, Mapping[str, bytes]]:
        raise NotImplementedError

    def current_key_id(self) -> str:
        """Return the id of the KEK version that new wraps use."""
        return self._versions()[0]

    def key_ids(self) -> list[str]:
        """Return the ids of every KEK version held, oldest first."""
        return list(self._versions()[1])

    def wrap(self, data_key: bytes, *, item_id: str) -> WrappedKey:
        """Encrypt ``data_key`` under the current KEK, bound to ``item_id``."""
        current, keys = self._versions()
        return _wrap(keys[current], current, data_key, item_id)

    def unwrap(self, wrapped: WrappedKey, *, item_id: str) -> bytes:
        """Return the data key wrapped for ``item_id``.

        Raises:
            KeyNotFoundError: The KEK version that wrapped it is not in the ring.
            UnwrapError: Altered, or wrapped for another item.
        """
        kek = self._versions()[1].get(wrapped.key_id)
        if kek is None:
            raise KeyNotFoundError(wrapped.key_id, item_id=item_id)
        return _unwrap(kek, wrapped, item_id)

    def rewrap(self, wrapped: WrappedKey, *, item_id: str) -> WrappedKey:
        """Return ``wrapped`` re-encrypted under the current KEK (unchanged if already)."""
        if wrapped.key_id == self.current_key_id():
            return wrapped
        return self.wrap(self.unwrap(wrapped, item_id=item_id), item_id=item_id)


def _without(current: str, keys: Mapping[str, bytes], key_id: str) -> dict[str, bytes]:
    """The versions but key_id; the current version is never retired."""
    if key_id not in keys:
        raise KeyNotFoundError(key_id)
    if key_id == current:
        raise KeyRingError(f"key {key_id} is the current key: rotate first, then retire it")
    return {k: v for k, v in keys.items() if k != key_id}


class InMemoryKeyRing(_VersionedKeyRing):
    """A key ring held in memory, for tests and single-process tools; starts with one key.

    Args:
        keys: Initial KEK versions by id, oldest first; default one random key ``k1``.
        current: Id of the current version; default the last of ``keys``.
    """

    def __init__(self, keys: Mapping[str, bytes] | None = None, current: str | None = None) -> None:
        self._keys = dict(keys) if keys else {"k1": os.urandom(KEY_SIZE_BYTES)}
        for key_id, kek in self._keys.items():
            if not _KEY_ID.fullmatch(key_id) or len(kek) != KEY_SIZE_BYTES:
                raise ValueError("key ids are [A-Za-z0-9._-]{1,32} and keys 32 bytes")
        self._current = current or list(self._keys)[-1]
        if self._current not in self._keys:
            raise ValueError("current key id is not among the keys")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemoryKeyRing(current={self._current!r}, key_ids={list(self._keys)!r})"

    def _versions(self) -> tuple[str, Mapping[str, bytes]]:
        with self._lock:
            return self._current, dict(self._keys)

    def rotate(self) -> str:
        """Add a new random KEK version, make it current and return its id."""
        with self._lock:
            key_id = _next_key_id(self._keys)
            self._keys[key_id] = os.urandom(KEY_SIZE_BYTES)
            self._current = key_id
            return key_id

    def retire(self, key_id: str) -> None:
        """Forget a KEK version that is not current (what it wrapped can no longer be read)."""
        with self._lock:
            self._keys = _without(self._current, self._keys, key_id)


@dataclass(frozen=True, slots=True)
class _Loaded:
    current: str
    keys: Mapping[str, bytes]
    stamp: tuple[int, int, int, int]


class FileKeyRing(_VersionedKeyRing):
    """Versioned 256-bit KEKs in a JSON file only its owner may read.

    The file, ``{"version": 1, "current": "k2", "keys": {"k1": "<base64>", ...}}``, is created
    with mode 0600 (its directory 0700) on first use, saved atomically (temporary file, fsync,
    rename, fsync of the directory) under an exclusive ``flock`` on ``<path>.lock``, and
    reloaded whenever it changed on disk, so ``keepline keys rotate`` takes effect in a running
    service. Reading is refused while the file is readable or writable by group or others.

    Args:
        path: The key ring file.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def __repr__(self) -> str:
        return f"FileKeyRing(path={str(self._path)!r})"

    @property
    def path(self) -> Path:
        """Return the key ring file."""
        return self._path

    def _versions(self) -> tuple[str, Mapping[str, bytes]]:
        with self._lock:
            loaded = self._refresh()
            return loaded.current, loaded.keys

    def rotate(self) -> str:
        """Add a new random KEK version to the file, make it current and return its id."""
        with self._lock:
            self._refresh()  # creates the file on first use
            with locked(self._path):
                loaded = self._read()
                key_id = _next_key_id(loaded.keys)
                keys = {**loaded.keys, key_id: os.urandom(KEY_SIZE_BYTES)}
                self._loaded = self._save(key_id, keys)
            return key_id

    def retire(self, key_id: str) -> None:
        """Remove a KEK version that is not current from the file, for good.

        Raises:
            KeyNotFoundError: The version is not in the key ring.
            KeyRingError: The version is the current one.
        """
        with self._lock:
            self._refresh()
            with locked(self._path):
                loaded = self._read()
                keys = _without(loaded.current, loaded.keys, key_id)
                self._loaded = self._save(loaded.current, keys)

    def _refresh(self) -> _Loaded:
        stamp = current_stamp(self._path, loaded=self._loaded is not None, what="key ring")
        if stamp is None:
            self._loaded = self._create()
        elif self._loaded is None or self._loaded.stamp != stamp:
            self._loaded = self._read()
        return self._loaded

    def _create(self) -> _Loaded:
        private_folder(self._path.parent)
        with locked(self._path):
            if self._path.exists():  # another process created it first
                return self._read()
            return self._save("k1", {"k1": os.urandom(KEY_SIZE_BYTES)})

    def _read(self) -> _Loaded:
        raw, stamp = read_private(self._path, what="key ring")
        current, keys = self._parse(raw)
        return _Loaded(current, keys, stamp)

    def _parse(self, raw: bytes) -> tuple[str, dict[str, bytes]]:
        bad = KeyRingError(f"key ring {self._path} is malformed", path=str(self._path))
        try:
            doc: Any = json.loads(raw)
        except ValueError:
            raise bad from None
        if not isinstance(doc, dict) or doc.get("version") != KEYRING_FILE_VERSION:
            raise bad
        current, encoded = doc.get("current"), doc.get("keys")
        if not isinstance(encoded, dict) or not isinstance(current, str) or current not in encoded:
            raise bad
        keys: dict[str, bytes] = {}
        for key_id, value in encoded.items():
            try:
                keys[key_id] = base64.b64decode(value, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise bad from None
            if not _KEY_ID.fullmatch(key_id) or len(keys[key_id]) != KEY_SIZE_BYTES:
                raise bad
        return current, keys

    def _save(self, current: str, keys: Mapping[str, bytes]) -> _Loaded:
        doc = {
            "version": KEYRING_FILE_VERSION,
            "current": current,
            "keys": {k: base64.b64encode(v).decode("ascii") for k, v in keys.items()},
        }
        data = json.dumps(doc, indent=2).encode("utf-8") + b"\n"
        return _Loaded(current, dict(keys), write_private(self._path, data))
