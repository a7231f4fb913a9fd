"""`make setup` installs keepline editable without setuptools' warning banner."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages
from setuptools.command.editable_wheel import _simple_layout

ROOT = Path(__file__).resolve().parents[2]


def test_the_editable_install_is_a_plain_pth_file_not_a_warned_about_finder() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    package_dir = config["setuptools"]["package-dir"]
    include = config["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(str(ROOT), include=include)
    assert {"api", "keepline", "storage.sql.migrations"} <= set(packages)
    assert not any(p.startswith("tests") for p in packages)
    # setuptools (editable_wheel._select_strategy) writes a .pth file, and prints no
    # "Editable installation ... Please be careful with folders" banner, exactly when the
    # only package directory is "" and every package lies where that directory says.
    assert set(package_dir) == {""}
    assert _simple_layout(packages, package_dir, str(ROOT))
