"""Ed25519 signing keys: they sign productions, disposal certificates and audit checkpoints.

The private keys live in their own file (mode 0600, never in the catalog or the object
store), so someone who can rewrite the catalog cannot re-sign what they rewrote. Every key ever
used stays in the file and in the published key set (``public_keys``), so an old production
still verifies after a rotation; only the current key signs. Key ids are RFC 7638 JWK
thumbprints, so anyone can recompute a key's id from its public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from storage.crypto.keyfile import (
    current_stamp,
    locked,
    private_folder,
    read_private,
    write_private,
)
from storage.errors import KeyRingError
from storage.models import Signature

SIGNING_FILE_VERSION = 1
ALGORITHM = "EdDSA"
_PRIVATE_KEY_BYTES = 32
_MAX_ENCODED_CHARS = 4096


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWKs and JWS use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded (or padded) base64url; raises ValueError when it is not."""
    if not isinstance(text, str) or len(text) > _MAX_ENCODED_CHARS:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(public_raw: bytes) -> dict[str, str]:
    """The JWK of an Ed25519 public key, with its RFC 7638 thumbprint as ``kid``."""
    x = b64url(public_raw)
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = b64url(hashlib.sha256(canonical.encode("ascii")).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def verify_signature(jwks: Mapping[str, Any], kid: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the key ``kid`` of the JWK set ``jwks`` signing ``data``.

    Only Ed25519 keys whose ``kid`` is their own thumbprint count, so a key set edited to give
    another key a trusted id does not verify.
    """
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        return False
    for jwk in keys:
        if not isinstance(jwk, Mapping) or jwk.get("kid") != kid:
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            raw = b64url_decode(str(jwk.get("x", "")))
            if public_jwk(raw)["kid"] != kid:
                continue
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, data)
        except (ValueError, InvalidSignature):
            continue
        return True
    return False


class _Keys:
    """Signing keys held in memory: the current one signs, all of them verify."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _current(self) -> tuple[str, Ed25519PrivateKey, list[bytes]]:
        raise NotImplementedError

    def sign(self, data: bytes) -> Signature:
        """Sign ``data`` with the current key."""
        kid, key, _ = self._current()
        return Signature(kid=kid, value=key.sign(data))

    def public_keys(self) -> dict[str, Any]:
        """The JWK set of every key, current first."""
        _, _, publics = self._current()
        return {"keys": [public_jwk(raw) for raw in publics]}

    def current_key_id(self) -> str:
        """The id of the key that signs now."""
        return self._current()[0]


class InMemorySigner(_Keys):
    """Signing keys that live only as long as the process: for tests and one-off tools."""

    def __init__(self) -> None:
        super().__init__()
        self._keys = [Ed25519PrivateKey.generate()]

    def _current(self) -> tuple[str, Ed25519PrivateKey, list[bytes]]:
        with self._lock:
            key = self._keys[-1]
            publics = [_raw_public(k) for k in reversed(self._keys)]
        return public_jwk(publics[0])["kid"], key, publics

    def rotate(self) -> str:
        """Add a new key, make it current and return its id."""
        with self._lock:
            self._keys.append(Ed25519PrivateKey.generate())
        return self.current_key_id()


@dataclass(frozen=True, slots=True)
class _Loaded:
    kid: str
    key: Ed25519PrivateKey
    publics: list[bytes]
    stamp: tuple[int, int, int, int]


class FileSigner(_Keys):
    """Ed25519 keys in a JSON file only its owner may read.

    The file, ``{"version": 1, "keys": ["<base64url private>", ...]}`` (the last one signs),
    is created on first use and reloaded whenever it changed on disk, so a rotation by
    ``keepline keys rotate-signing`` takes effect in a running service.

    Args:
        path: The signing key file.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = Path(path)
        self._loaded: _Loaded | None = None

    def __repr__(self) -> str:
        return f"FileSigner(path={str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The signing key file."""
        return self._path

    def _current(self) -> tuple[str, Ed25519PrivateKey, list[bytes]]:
        with self._lock:
            loaded = self._refresh()
        return loaded.kid, loaded.key, loaded.publics

    def rotate(self) -> str:
        """Add a new key to the file, make it current and return its id."""
        with self._lock:
            self._refresh()  # creates the file on first use
            with locked(self._path):
                keys = [*self._read_keys(), Ed25519PrivateKey.generate()]
                self._loaded = self._save(keys)
            return self._loaded.kid

    def _refresh(self) -> _Loaded:
        stamp = current_stamp(self._path, loaded=self._loaded is not None, what="signing key file")
        if stamp is None:
            self._loaded = self._create()
        elif self._loaded is None or self._loaded.stamp != stamp:
            raw, stamp = read_private(self._path, what="signing key file")
            self._loaded = self._loaded_from(self._parse(raw), stamp)
        return self._loaded

    def _create(self) -> _Loaded:
        private_folder(self._path.parent)
        with locked(self._path):
            if self._path.exists():  # another process created it first
                raw, stamp = read_private(self._path, what="signing key file")
                return self._loaded_from(self._parse(raw), stamp)
            return self._save([Ed25519PrivateKey.generate()])

    def _read_keys(self) -> list[Ed25519PrivateKey]:
        raw, _ = read_private(self._path, what="signing key file")
        return self._parse(raw)

    def _parse(self, raw: bytes) -> list[Ed25519PrivateKey]:
        bad = KeyRingError(f"signing key file {self._path} is malformed", path=str(self._path))
        try:
            doc: Any = json.loads(raw)
        except ValueError:
            raise bad from None
        if not isinstance(doc, dict) or doc.get("version") != SIGNING_FILE_VERSION:
            raise bad
        encoded = doc.get("keys")
        if not isinstance(encoded, list) or not encoded:
            raise bad
        keys = []
        for value in encoded:
            try:
                private = b64url_decode(value)
            except ValueError:
                raise bad from None
            if len(private) != _PRIVATE_KEY_BYTES:
                raise bad
            keys.append(Ed25519PrivateKey.from_private_bytes(private))
        return keys

    def _save(self, keys: list[Ed25519PrivateKey]) -> _Loaded:
        doc = {
            "version": SIGNING_FILE_VERSION,
            "keys": [
                b64url(k.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
                for k in keys
            ],
        }
        data = json.dumps(doc, indent=2).encode("utf-8") + b"\n"
        return self._loaded_from(keys, write_private(self._path, data))

    @staticmethod
    def _loaded_from(keys: list[Ed25519PrivateKey], stamp: tuple[int, int, int, int]) -> _Loaded:
        publics = [_raw_public(k) for k in reversed(keys)]
        return _Loaded(public_jwk(publics[0])["kid"], keys[-1], publics, stamp)
