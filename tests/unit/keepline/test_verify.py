"""`keepline verify`: the exit codes and lines an operator sees."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from keepline.cli import main
from keepline.commands.verify import EXIT_FAILED, EXIT_OK, EXIT_UNREADABLE, run
from storage.crypto.signing import FileSigner, InMemorySigner
from tests.unit.service.signing.test_bundle import FILES, _bundle


def _run(bundle: Path, keys: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(bundle, keys, out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_good_bundle_says_ok_with_its_kind_and_key(tmp_path: Path) -> None:
    signer = InMemorySigner()
    (tmp_path / "p.zip").write_bytes(_bundle(signer))
    (tmp_path / "keys.json").write_text(json.dumps(signer.public_keys()))
    code, out, _ = _run(tmp_path / "p.zip", tmp_path / "keys.json")
    assert code == EXIT_OK
    assert out == (
        f"{tmp_path / 'p.zip'}: OK, production of 2 files, signed by key "
        f"{signer.current_key_id()}\n"
    )


def test_a_tampered_bundle_names_the_file_and_exits_1(tmp_path: Path) -> None:
    signer = InMemorySigner()
    tampered = dict(FILES, **{"loadfile.csv": b"changed"})
    (tmp_path / "p.zip").write_bytes(_bundle(signer, tampered, listed=FILES))
    (tmp_path / "keys.json").write_text(json.dumps(signer.public_keys()))
    code, out, _ = _run(tmp_path / "p.zip", tmp_path / "keys.json")
    assert code == EXIT_FAILED
    assert "FAILED: loadfile.csv:" in out


def test_unreadable_inputs_exit_2_and_say_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "p.zip").write_bytes(b"not a zip")
    (tmp_path / "keys.json").write_text(json.dumps(InMemorySigner().public_keys()))
    code, _, err = _run(tmp_path / "p.zip", tmp_path / "keys.json")
    assert code == EXIT_UNREADABLE
    assert "cannot read" in err
    code, _, err = _run(tmp_path / "p.zip", tmp_path / "missing.json")
    assert code == EXIT_UNREADABLE
    assert "/v1/signing-keys" in err


def test_keys_rotate_signing_adds_a_key_that_signs_from_now_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    signer = FileSigner(tmp_path / "keys" / "signing-keys.json")
    first = signer.current_key_id()
    assert main(["keys", "rotate-signing"]) == 0
    assert signer.current_key_id() != first
    assert f"signing with key {signer.current_key_id()}" in capsys.readouterr().out
    assert first in {key["kid"] for key in signer.public_keys()["keys"]}
