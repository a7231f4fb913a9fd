import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.crypto.keyring import FileKeyRing, InMemoryKeyRing
from storage.errors import (
    FormatError,
    IntegrityError,
    KeyNotFoundError,
    KeyRingError,
    UnwrapError,
)
from storage.models import WrappedKey
from storage.ports import KeyRing

DATA_KEY = bytes(range(100, 132))
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["memory", "file"])
def ring(request: pytest.FixtureRequest, tmp_path: Path) -> KeyRing:
    if request.param == "memory":
        return InMemoryKeyRing()
    return FileKeyRing(tmp_path / "keys" / "keyring.json")


def run_in_other_process(path: Path, code: str) -> str:
    script = "from pathlib import Path\nfrom storage.crypto.keyring import FileKeyRing\n"
    script += f"ring = FileKeyRing(Path({str(path)!r}))\n{code}"
    done = subprocess.run(  # noqa: S603  # our own interpreter, our own script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_wrap_unwrap_round_trip(ring: KeyRing) -> None:
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    assert wrapped.key_id == ring.current_key_id() == "k1"
    assert len(wrapped.ciphertext) == 61
    assert DATA_KEY not in wrapped.ciphertext
    assert ring.unwrap(wrapped, item_id="item-1") == DATA_KEY
    assert ring.wrap(DATA_KEY, item_id="item-1").ciphertext != wrapped.ciphertext


def test_wrong_item_id_is_refused(ring: KeyRing) -> None:
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    with pytest.raises(UnwrapError) as info:
        ring.unwrap(wrapped, item_id="item-2")
    assert isinstance(info.value, IntegrityError)
    assert (info.value.key_id, info.value.item_id) == ("k1", "item-2")


def test_tampered_wrapped_key_is_refused(ring: KeyRing) -> None:
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    for index in range(len(wrapped.ciphertext)):
        forged = bytearray(wrapped.ciphertext)
        forged[index] ^= 0x40
        with pytest.raises(UnwrapError):
            ring.unwrap(WrappedKey("k1", bytes(forged)), item_id="item-1")
    with pytest.raises(UnwrapError):
        ring.unwrap(WrappedKey("k1", wrapped.ciphertext[:-1]), item_id="item-1")


def test_rotate_keeps_old_keys_and_wraps_with_the_new_one(ring: KeyRing) -> None:
    old = ring.wrap(DATA_KEY, item_id="item-1")
    assert ring.rotate() == "k2"
    assert ring.current_key_id() == "k2"
    assert ring.key_ids() == ["k1", "k2"]
    assert ring.unwrap(old, item_id="item-1") == DATA_KEY
    new = ring.wrap(DATA_KEY, item_id="item-1")
    assert new.key_id == "k2"
    assert ring.unwrap(new, item_id="item-1") == DATA_KEY
    # A wrapped key relabelled with another version is refused, not misread.
    with pytest.raises(UnwrapError):
        ring.unwrap(WrappedKey("k2", old.ciphertext), item_id="item-1")


def test_rewrap_moves_to_the_current_key(ring: KeyRing) -> None:
    old = ring.wrap(DATA_KEY, item_id="item-1")
    assert ring.rewrap(old, item_id="item-1") is old
    ring.rotate()
    new = ring.rewrap(old, item_id="item-1")
    assert new.key_id == "k2"
    assert ring.unwrap(new, item_id="item-1") == DATA_KEY
    with pytest.raises(UnwrapError):
        ring.rewrap(old, item_id="item-2")


def test_unknown_key_id_is_refused(ring: KeyRing) -> None:
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    with pytest.raises(KeyNotFoundError) as info:
        ring.unwrap(WrappedKey("k9", wrapped.ciphertext), item_id="item-1")
    assert (info.value.key_id, info.value.item_id) == ("k9", "item-1")
    assert KeyNotFoundError.retriable is False


def test_wrap_refuses_a_data_key_of_the_wrong_size(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ring.wrap(b"short", item_id="item-1")


def test_wrapped_key_catalog_form_round_trips() -> None:
    wrapped = InMemoryKeyRing().wrap(DATA_KEY, item_id="item-1")
    text = wrapped.to_str()
    assert text.startswith("k1:")
    assert WrappedKey.from_str(text) == wrapped
    for bad in ("k1", "k1:not base64!", ":AAAA", "k 1:AAAA"):
        with pytest.raises(FormatError):
            WrappedKey.from_str(bad)


def test_file_is_created_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "keyring.json"
    ring = FileKeyRing(path)
    assert ring.current_key_id() == "k1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["current"] == "k1"
    assert len(base64.b64decode(doc["keys"]["k1"])) == 32
    leftovers = {p.name for p in path.parent.iterdir()} - {"keyring.json", "keyring.json.lock"}
    assert not leftovers


def test_keys_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first = FileKeyRing(path)
    wrapped = first.wrap(DATA_KEY, item_id="item-1")
    first.rotate()
    second = FileKeyRing(path)
    assert second.key_ids() == ["k1", "k2"]
    assert second.unwrap(wrapped, item_id="item-1") == DATA_KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring.json"
    FileKeyRing(path).current_key_id()
    path.chmod(mode)
    with pytest.raises(KeyRingError, match="chmod 600") as info:
        FileKeyRing(path).current_key_id()
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"version": 2, "current": "k1", "keys": {}}',
        '{"version": 1, "current": "k2", "keys": {"k1": "AAAA"}}',
        '{"version": 1, "current": "k1", "keys": {"k1": "AAAA"}}',
        '{"version": 1, "current": "k1", "keys": {"k1": 5}}',
        '{"version": 1, "current": ["k1"], "keys": {"k1": "AAAA"}}',
    ],
)
def test_malformed_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="malformed"):
        FileKeyRing(path).current_key_id()


def test_a_vanished_file_is_not_silently_recreated(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = FileKeyRing(path)
    ring.current_key_id()
    path.unlink()
    with pytest.raises(KeyRingError, match="disappeared"):
        ring.current_key_id()
    assert not path.exists()


def test_rotation_by_another_process_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = FileKeyRing(path)
    old = ring.wrap(DATA_KEY, item_id="item-1")
    code = (
        "import base64\n"
        "print(ring.rotate())\n"
        f"print(ring.wrap({DATA_KEY!r}, item_id='item-2').to_str())\n"
    )
    new_id, wrapped_text = run_in_other_process(path, code).splitlines()
    assert new_id == "k2"
    assert ring.current_key_id() == "k2"
    assert ring.unwrap(WrappedKey.from_str(wrapped_text), item_id="item-2") == DATA_KEY
    assert ring.unwrap(old, item_id="item-1") == DATA_KEY
    assert ring.wrap(DATA_KEY, item_id="item-3").key_id == "k2"


def test_concurrent_rotations_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    FileKeyRing(path).current_key_id()
    script = (
        "from pathlib import Path\nfrom storage.crypto.keyring import FileKeyRing\n"
        f"ring = FileKeyRing(Path({str(path)!r}))\n"
        "for _ in range(5):\n    ring.rotate()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)  # noqa: S603  # our own script
        for _ in range(3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    ring = FileKeyRing(path)
    assert ring.key_ids() == [f"k{n}" for n in range(1, 17)]
    assert ring.current_key_id() == "k16"


def test_concurrent_first_use_creates_one_key_ring(tmp_path: Path) -> None:
    path = tmp_path / "new" / "keyring.json"
    script = (
        "from pathlib import Path\nfrom storage.crypto.keyring import FileKeyRing\n"
        f"ring = FileKeyRing(Path({str(path)!r}))\n"
        f"print(ring.wrap({DATA_KEY!r}, item_id='item-1').to_str())\n"
    )
    procs = [
        subprocess.Popen(  # noqa: S603  # our own interpreter, our own script
            [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    ring = FileKeyRing(path)
    assert ring.key_ids() == ["k1"]
    for text in outputs:
        assert ring.unwrap(WrappedKey.from_str(text), item_id="item-1") == DATA_KEY


def test_reprs_and_errors_hold_no_key_material(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = FileKeyRing(path)
    ring.rotate()
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    keks = list(json.loads(path.read_text())["keys"].values())
    secrets = [*keks, *(base64.b64decode(k).hex() for k in keks), DATA_KEY.hex()]
    secrets += [base64.b64encode(wrapped.ciphertext).decode(), repr(DATA_KEY)]
    errors: list[Exception] = []
    calls: list[Callable[[], bytes]] = [
        lambda: ring.unwrap(wrapped, item_id="item-2"),
        lambda: ring.unwrap(WrappedKey("k7", wrapped.ciphertext), item_id="item-1"),
    ]
    for call in calls:
        with pytest.raises((UnwrapError, KeyNotFoundError)) as info:
            call()
        errors.append(info.value)
    memory = InMemoryKeyRing({"k1": DATA_KEY})
    texts = [repr(ring), repr(wrapped), repr(memory), *map(str, errors), *map(repr, errors)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert repr(wrapped) == "WrappedKey(key_id='k2', ciphertext=<61 bytes>)"
    assert os.fspath(path) in repr(ring)


def test_an_old_version_is_retired_and_the_current_one_never(ring: KeyRing) -> None:
    old = ring.current_key_id()
    wrapped = ring.wrap(DATA_KEY, item_id="item-1")
    new = ring.rotate()
    with pytest.raises(KeyRingError, match="current key"):
        ring.retire(new)
    ring.retire(old)
    assert ring.key_ids() == [new]
    with pytest.raises(KeyNotFoundError):
        ring.unwrap(wrapped, item_id="item-1")
    with pytest.raises(KeyNotFoundError):
        ring.retire(old)


def test_a_retired_version_is_gone_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    ring = FileKeyRing(path)
    old = ring.current_key_id()
    ring.rotate()
    ring.retire(old)
    assert old not in json.loads(path.read_text())["keys"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileKeyRing(path).key_ids() == ring.key_ids()
