import re
from pathlib import Path

import pytest

from deploy.errors import ToolMissingError
from deploy.promtool import PROMETHEUS_VERSION, PROMTOOL_PACKAGE, build_promtool, promtool_home


def test_the_version_is_a_prometheus_3_module_version() -> None:
    assert re.fullmatch(r"v0\.3\d\d\.\d+", PROMETHEUS_VERSION)
    assert PROMTOOL_PACKAGE == "github.com/prometheus/prometheus/cmd/promtool"


def test_the_build_lives_in_a_directory_named_after_the_version(tmp_path: Path) -> None:
    assert promtool_home(tmp_path) == tmp_path / f"promtool-{PROMETHEUS_VERSION}"


def test_a_working_binary_in_the_cache_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/bin:/usr/bin")  # whatever happens, no go
    binary = promtool_home(tmp_path) / "bin" / "promtool"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho 'promtool, version 3.16.0'\n")
    binary.chmod(0o755)
    assert build_promtool(tmp_path) == binary


def test_a_broken_binary_is_rebuilt_and_go_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = promtool_home(tmp_path) / "bin" / "promtool"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    with pytest.raises(ToolMissingError, match="go"):
        build_promtool(tmp_path)
