import re

import pytest

from deploy.errors import ToolMissingError
from deploy.minio import (
    MINIO_MODULE,
    MINIO_RELEASE,
    MINIO_VERSION,
    MinioProcess,
    build_minio,
    minio_home,
)


def test_release_tag_has_minios_form() -> None:
    assert re.fullmatch(r"RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z", MINIO_RELEASE)


def test_version_is_the_pseudo_version_of_the_release_commit() -> None:
    match = re.fullmatch(r"v0\.0\.0-(\d{14})-([0-9a-f]{12})", MINIO_VERSION)
    assert match is not None
    # The pseudo-version's timestamp is the tagged commit's, which the tag also names.
    digits = re.sub(r"\D", "", MINIO_RELEASE)
    assert match.group(1) == digits


def test_module_is_the_minio_server() -> None:
    assert MINIO_MODULE == "github.com/minio/minio"


def test_build_lives_in_a_directory_named_after_the_release(tmp_path) -> None:
    assert minio_home(tmp_path) == tmp_path / f"minio-{MINIO_RELEASE}"


def test_credentials_are_random_unless_given(tmp_path) -> None:
    first = MinioProcess(tmp_path)
    second = MinioProcess(tmp_path)
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 8
    given = MinioProcess(tmp_path, access_key="keepline", secret_key="s3cret-value")
    assert (given.access_key, given.secret_key) == ("keepline", "s3cret-value")
    assert given.endpoint == f"127.0.0.1:{given.port}"
    assert given.url == f"http://127.0.0.1:{given.port}"


def test_a_working_binary_in_the_cache_is_reused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/bin:/usr/bin")  # whatever happens, no go
    binary = minio_home(tmp_path) / "bin" / "minio"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho 'minio version test'\n")
    binary.chmod(0o755)
    assert build_minio(tmp_path) == binary


def test_a_broken_binary_is_rebuilt_and_go_is_required(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = minio_home(tmp_path) / "bin" / "minio"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    with pytest.raises(ToolMissingError, match="go"):
        build_minio(tmp_path)
