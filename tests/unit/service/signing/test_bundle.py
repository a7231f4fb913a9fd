"""The signed bundle: what verifies, and what each kind of tampering is reported as."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime

import pytest

from keepline.commands.verify import ZipBundle
from service.signing.bundle import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleFile,
    Digest,
    check_bundle,
    manifest_bytes,
    signature_bytes,
)
from storage.crypto.signing import InMemorySigner, verify_signature

AT = datetime(2026, 12, 1, tzinfo=UTC)
FILES = {"items/a/recording.wav": b"RIFF" + bytes(1000), "loadfile.csv": b"item_id\na\n"}


def _bundle(
    signer: InMemorySigner,
    files: dict[str, bytes] = FILES,
    *,
    listed: dict[str, bytes] | None = None,
) -> bytes:
    listed = files if listed is None else listed
    entries = [BundleFile(n, hashlib.sha256(b).hexdigest(), len(b)) for n, b in listed.items()]
    manifest = manifest_bytes(
        kind="production", created_at=AT, files=entries, details={"hold": "h"}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(MANIFEST_NAME, manifest)
        archive.writestr(SIGNATURE_NAME, signature_bytes(signer.sign(manifest)))
    return out.getvalue()


def _check(data: bytes, signer: InMemorySigner) -> tuple[bool, tuple[str, ...], str | None]:
    jwks = signer.public_keys()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        verdict = check_bundle(
            ZipBundle(archive), lambda kid, d, s: verify_signature(jwks, kid, d, s)
        )
    return verdict.ok, verdict.problems, verdict.kind


def test_a_bundle_verifies_with_its_signing_keys() -> None:
    signer = InMemorySigner()
    assert _check(_bundle(signer), signer) == (True, (), "production")


def test_a_changed_file_is_named() -> None:
    signer = InMemorySigner()
    changed = dict(FILES, **{"loadfile.csv": b"item_id\nb\n"})
    ok, problems, _ = _check(_bundle(signer, changed, listed=FILES), signer)
    assert not ok
    assert problems == ("loadfile.csv: sha256 differs from the manifest",)


def test_a_truncated_file_a_missing_file_and_an_added_file_are_each_named() -> None:
    signer = InMemorySigner()
    files = {"items/a/recording.wav": FILES["items/a/recording.wav"][:10], "extra.txt": b"x"}
    ok, problems, _ = _check(_bundle(signer, files, listed=FILES), signer)
    assert not ok
    assert problems == (
        "items/a/recording.wav: 10 bytes, the manifest says 1004",
        "loadfile.csv: listed in the manifest but missing",
        "extra.txt: not listed in the manifest",
    )


def test_a_manifest_signed_by_another_key_fails_on_the_signature() -> None:
    ok, problems, _ = _check(_bundle(InMemorySigner()), InMemorySigner())
    assert not ok
    assert problems[0].startswith("manifest.sig: the signature does not match manifest.json")


def test_a_bundle_without_its_signature_fails() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(MANIFEST_NAME, b"{}")
    ok, problems, _ = _check(out.getvalue(), InMemorySigner())
    assert not ok
    assert problems == ("manifest.json or manifest.sig is missing",)


def test_a_manifest_cannot_list_itself_or_a_name_twice() -> None:
    entry = BundleFile("a", "0" * 64, 0)
    with pytest.raises(ValueError, match="unique"):
        manifest_bytes(kind="k", created_at=AT, files=[entry, entry])
    with pytest.raises(ValueError, match="unique"):
        manifest_bytes(kind="k", created_at=AT, files=[BundleFile(MANIFEST_NAME, "0", 0)])


def test_a_digest_written_in_pieces_is_the_digest_of_the_whole() -> None:
    digest = Digest("f")
    for piece in (b"ab", b"", b"cd"):
        digest.update(piece)
    assert digest.file() == BundleFile("f", hashlib.sha256(b"abcd").hexdigest(), 4)
