"""The signed bundle: one format for everything keepline hands over as proof.

A bundle is a zip. Beside its files it holds ``manifest.json``, which lists every file with
its sha256 and size, and ``manifest.sig``, an Ed25519 signature over the exact bytes of
``manifest.json`` naming the key that made it. Anyone holding the signing keys' public halves
(``GET /v1/signing-keys``) can check a bundle without keepline: the signature, then each
file's digest, then that nothing was added or removed. Legal productions and disposal
certificates are bundles of this form.

``manifest.json``::

    {"format": "keepline-bundle/1", "kind": "production", "created_at": "...",
     "files": [{"name": "items/…/recording.wav", "sha256": "…", "size_bytes": 123}, …],
     "details": {…}}

``manifest.sig``::

    {"kid": "<key id>", "alg": "EdDSA", "signature": "<base64url>"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from storage.models import Signature

FORMAT: Final = "keepline-bundle/1"
MANIFEST_NAME: Final = "manifest.json"
SIGNATURE_NAME: Final = "manifest.sig"
ALGORITHM: Final = "EdDSA"
_MAX_MANIFEST_BYTES: Final = 64 << 20
_MAX_SIGNATURE_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One file of a bundle as its manifest lists it."""

    name: str
    sha256: str
    size_bytes: int

    def as_record(self) -> dict[str, Any]:
        """The manifest entry."""
        return {"name": self.name, "sha256": self.sha256, "size_bytes": self.size_bytes}


class Digest:
    """The sha256 and size of a file written piece by piece."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hash = hashlib.sha256()
        self._size_bytes = 0

    def update(self, piece: bytes) -> None:
        """Account for the next piece of the file."""
        self._hash.update(piece)
        self._size_bytes += len(piece)

    def file(self) -> BundleFile:
        """The manifest entry of what was written."""
        return BundleFile(self.name, self._hash.hexdigest(), self._size_bytes)


def manifest_bytes(
    *,
    kind: str,
    created_at: datetime,
    files: Sequence[BundleFile],
    details: Mapping[str, Any] | None = None,
) -> bytes:
    """The exact bytes of ``manifest.json`` (the bytes the signature covers)."""
    names = [f.name for f in files]
    if len(set(names)) != len(names) or {MANIFEST_NAME, SIGNATURE_NAME} & set(names):
        raise ValueError("bundle file names must be unique and not the manifest's own")
    doc = {
        "format": FORMAT,
        "kind": kind,
        "created_at": created_at.isoformat(),
        "files": [f.as_record() for f in files],
        "details": dict(details or {}),
    }
    return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def signature_bytes(signature: Signature) -> bytes:
    """The exact bytes of ``manifest.sig``."""
    value = base64.urlsafe_b64encode(signature.value).rstrip(b"=").decode("ascii")
    doc = {"kid": signature.kid, "alg": ALGORITHM, "signature": value}
    return json.dumps(doc, sort_keys=True).encode("utf-8") + b"\n"


class BundleReader(Protocol):
    """What checking a bundle reads: its member names and each member's bytes."""

    def names(self) -> list[str]:
        """Every member's name, in the order stored (directories excluded)."""
        ...

    def chunks(self, name: str) -> Iterable[bytes]:
        """The member's bytes, a piece at a time; ValueError naming it if unreadable."""
        ...


#: Checks ``(kid, data, signature)`` against the trusted keys.
Verifier = Callable[[str, bytes, bytes], bool]


@dataclass(frozen=True, slots=True)
class BundleVerdict:
    """The outcome of checking a bundle.

    Attributes:
        ok: The signature holds and every file is exactly as the manifest lists it.
        problems: One line per failure, naming the file.
        kind: The manifest's kind (production, disposal_certificate), when it could be read.
        kid: The key that signed it, when the signature could be read.
        files: How many files the manifest lists.
    """

    ok: bool
    problems: tuple[str, ...]
    kind: str | None = None
    kid: str | None = None
    files: int = 0


def _read_small(reader: BundleReader, name: str) -> bytes:
    out = bytearray()
    for piece in reader.chunks(name):
        out += piece
        if len(out) > _MAX_MANIFEST_BYTES:
            raise ValueError(f"{name} is larger than {_MAX_MANIFEST_BYTES} bytes")
    return bytes(out)


def _parse_signature(raw: bytes) -> tuple[str, bytes]:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("alg") != ALGORITHM:
        raise ValueError("manifest.sig is not an EdDSA signature")
    kid, value = doc.get("kid"), doc.get("signature")
    if not isinstance(kid, str) or not isinstance(value, str) or len(value) > _MAX_SIGNATURE_CHARS:
        raise ValueError("manifest.sig lacks kid or signature")
    try:
        return kid, base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("manifest.sig's signature is not base64url") from None


def _listed(manifest: Any) -> list[BundleFile]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"manifest.json is not a {FORMAT} manifest")
    entries = manifest.get("files")
    if not isinstance(entries, list):
        raise ValueError("manifest.json lists no files")  # noqa: TRY004 - reported, not typed
    files = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("manifest.json has a malformed file entry")  # noqa: TRY004
        name, sha, size = entry.get("name"), entry.get("sha256"), entry.get("size_bytes")
        if not isinstance(name, str) or not isinstance(sha, str) or not isinstance(size, int):
            raise ValueError("manifest.json has a malformed file entry")  # noqa: TRY004
        files.append(BundleFile(name, sha, size))
    return files


def check_bundle(reader: BundleReader, verify: Verifier) -> BundleVerdict:
    """Check a bundle's signature, every file's digest and size, and that none was added.

    Reads each file once, a piece at a time, so a production of any size is checked in
    bounded memory.
    """
    names = reader.names()
    if MANIFEST_NAME not in names or SIGNATURE_NAME not in names:
        return BundleVerdict(False, (f"{MANIFEST_NAME} or {SIGNATURE_NAME} is missing",))
    try:
        raw = _read_small(reader, MANIFEST_NAME)
        kid, signature = _parse_signature(_read_small(reader, SIGNATURE_NAME))
    except ValueError as err:
        return BundleVerdict(False, (str(err),))
    if not verify(kid, raw, signature):
        return BundleVerdict(
            False,
            (
                f"{SIGNATURE_NAME}: the signature does not match {MANIFEST_NAME} "
                f"under key {kid} (wrong key set, or the manifest was changed)",
            ),
            kid=kid,
        )
    try:
        manifest = json.loads(raw)
        files = _listed(manifest)
    except ValueError as err:
        return BundleVerdict(False, (str(err),), kid=kid)
    problems: list[str] = []
    present = set(names)
    for listed in files:
        if listed.name not in present:
            problems.append(f"{listed.name}: listed in the manifest but missing")
            continue
        digest = Digest(listed.name)
        try:
            for piece in reader.chunks(listed.name):
                digest.update(piece)
        except ValueError as err:  # the reader names the file it could not read
            problems.append(str(err))
            continue
        found = digest.file()
        if found.size_bytes != listed.size_bytes:
            problems.append(
                f"{listed.name}: {found.size_bytes} bytes, the manifest says {listed.size_bytes}"
            )
        elif found.sha256 != listed.sha256:
            problems.append(f"{listed.name}: sha256 differs from the manifest")
    extra = present - {f.name for f in files} - {MANIFEST_NAME, SIGNATURE_NAME}
    problems.extend(f"{name}: not listed in the manifest" for name in sorted(extra))
    return BundleVerdict(
        not problems, tuple(problems), kind=manifest.get("kind"), kid=kid, files=len(files)
    )
