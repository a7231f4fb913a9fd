"""Ed25519 signing keys: sign, verify, rotate, and the key file's discipline."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from storage.crypto.signing import (
    FileSigner,
    InMemorySigner,
    b64url,
    b64url_decode,
    public_jwk,
    verify_signature,
)
from storage.errors import KeyRingError


def test_a_signature_verifies_under_its_key_and_fails_when_anything_changes() -> None:
    signer = InMemorySigner()
    signature = signer.sign(b"manifest")
    jwks = signer.public_keys()
    assert verify_signature(jwks, signature.kid, b"manifest", signature.value)
    assert not verify_signature(jwks, signature.kid, b"manifest!", signature.value)
    assert not verify_signature(jwks, "another-kid", b"manifest", signature.value)
    flipped = bytes([signature.value[0] ^ 1]) + signature.value[1:]
    assert not verify_signature(jwks, signature.kid, b"manifest", flipped)
    assert not verify_signature(
        InMemorySigner().public_keys(), signature.kid, b"manifest", signature.value
    )


def test_the_key_set_is_a_jwk_set_whose_ids_are_thumbprints() -> None:
    jwks = InMemorySigner().public_keys()
    (key,) = jwks["keys"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["use"] == "sig"
    assert "d" not in key  # the private half is never published
    assert public_jwk(b64url_decode(key["x"]))["kid"] == key["kid"]


def test_a_key_set_edited_to_give_a_foreign_key_a_trusted_id_does_not_verify() -> None:
    trusted, forger = InMemorySigner(), InMemorySigner()
    signature = forger.sign(b"forged")
    forged_key = dict(forger.public_keys()["keys"][0], kid=trusted.current_key_id())
    jwks = {"keys": [forged_key]}
    assert not verify_signature(jwks, trusted.current_key_id(), b"forged", signature.value)


def test_after_a_rotation_old_signatures_still_verify_and_the_new_key_signs() -> None:
    signer = InMemorySigner()
    old = signer.sign(b"before")
    new_kid = signer.rotate()
    new = signer.sign(b"after")
    jwks = signer.public_keys()
    assert new.kid == new_kid != old.kid
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old.kid]
    assert verify_signature(jwks, old.kid, b"before", old.value)
    assert verify_signature(jwks, new.kid, b"after", new.value)


def test_the_key_file_is_private_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing-keys.json"
    signature = FileSigner(path).sign(b"checkpoint")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = FileSigner(path)
    assert again.current_key_id() == signature.kid
    assert verify_signature(again.public_keys(), signature.kid, b"checkpoint", signature.value)


def test_a_rotation_by_another_process_is_picked_up_by_a_running_signer(tmp_path: Path) -> None:
    path = tmp_path / "signing-keys.json"
    running = FileSigner(path)
    first = running.current_key_id()
    rotated = FileSigner(path).rotate()
    assert rotated != first
    assert running.current_key_id() == rotated
    assert {k["kid"] for k in running.public_keys()["keys"]} == {first, rotated}


def test_a_key_file_others_may_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "signing-keys.json"
    FileSigner(path).current_key_id()
    os.chmod(path, 0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        FileSigner(path).current_key_id()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"{}",
        json.dumps({"version": 1, "keys": []}).encode(),
        json.dumps({"version": 1, "keys": [b64url(b"short")]}).encode(),
        json.dumps({"version": 1, "keys": ["!!"]}).encode(),
    ],
)
def test_a_malformed_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "signing-keys.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="malformed"):
        FileSigner(path).sign(b"x")


def test_a_key_file_that_disappears_under_a_running_signer_is_not_silently_replaced(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing-keys.json"
    signer = FileSigner(path)
    signer.current_key_id()
    path.unlink()
    with pytest.raises(KeyRingError, match="restore it from backup"):
        signer.sign(b"x")
