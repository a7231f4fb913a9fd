from pathlib import Path

import pytest

from deploy.errors import DeployError
from deploy.postgres import (
    SOCKET_PATH_MAX,
    PostgresProcess,
    check_name,
    postmaster_status,
    server_options,
    socket_fits,
)


def _settings(options: list[str]) -> dict[str, str]:
    assert options[::2] == ["-c"] * (len(options) // 2)
    return dict(part.split("=", 1) for part in options[1::2])


def test_server_listens_on_loopback_only_with_its_socket(tmp_path: Path) -> None:
    settings = _settings(server_options(15432, tmp_path / "run", durable=True))
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["port"] == "15432"
    assert settings["unix_socket_directories"] == str(tmp_path / "run")
    assert "fsync" not in settings


def test_no_socket_means_an_empty_socket_directory_list() -> None:
    settings = _settings(server_options(15432, None, durable=True))
    assert settings["unix_socket_directories"] == ""


def test_a_cluster_that_need_not_survive_a_crash_skips_fsync(tmp_path: Path) -> None:
    settings = _settings(server_options(15432, tmp_path, durable=False))
    assert (settings["fsync"], settings["full_page_writes"]) == ("off", "off")
    assert settings["synchronous_commit"] == "off"


def test_socket_must_fit_a_socket_address() -> None:
    assert socket_fits(Path("/var/run/pg"), 54321)
    suffix = len("/.s.PGSQL.54321")
    assert socket_fits(Path("/" + "d" * (SOCKET_PATH_MAX - suffix - 1)), 54321)
    assert not socket_fits(Path("/" + "d" * (SOCKET_PATH_MAX - suffix)), 54321)


def test_postmaster_status_is_the_eighth_line() -> None:
    text = "4242\n/data\n1712346200\n5432\n/tmp\n127.0.0.1\n  8826964     65536\nready   \n"
    assert postmaster_status(text) == "ready"
    assert postmaster_status(text.replace("ready   ", "starting")) == "starting"
    assert postmaster_status("4242\n/data\n") is None


@pytest.mark.parametrize("name", ["keepline", "t_0123abcd", "_x", "a" * 63])
def test_database_names_on_the_allow_list(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Keepline", "1abc", "a-b", 'x"; DROP DATABASE y; --', "a" * 64, "é"]
)
def test_other_database_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="database name"):
        check_name(name)


def test_process_picks_a_port_and_checks_its_database_name(tmp_path: Path) -> None:
    first = PostgresProcess(tmp_path / "a")
    assert 0 < first.port < 65536
    assert first.log_path == tmp_path / "a" / "logs" / "postgres.log"
    assert PostgresProcess(tmp_path, port=15432).port == 15432
    with pytest.raises(ValueError, match="database name"):
        PostgresProcess(tmp_path, database="no-dashes")


def test_cluster_and_password_exist_only_once_started(tmp_path: Path) -> None:
    process = PostgresProcess(tmp_path)
    assert not process.running
    with pytest.raises(DeployError, match="start"):
        _ = process.cluster_dir
    with pytest.raises(DeployError, match="start"):
        process.url()
    process.stop()  # never started: nothing to do
    process.close()
