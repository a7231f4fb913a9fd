import socket
import threading
import time
from pathlib import Path

import pytest

from deploy.cache import (
    cache_dir,
    data_dir,
    exclusive,
    free_port,
    free_ports,
    port_is_free,
    repo_root,
)
from deploy.settings import DeploySettings


def test_repo_root_holds_the_deploy_package() -> None:
    assert (repo_root() / "deploy" / "__init__.py").is_file()


def test_cache_defaults_to_dot_cache_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEPLINE_CACHE_DIR", raising=False)
    assert cache_dir() == repo_root() / ".cache"
    monkeypatch.delenv("KEEPLINE_DATA_DIR", raising=False)
    assert data_dir() == repo_root() / ".data"


def test_cache_dir_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEEPLINE_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    assert cache_dir(DeploySettings(cache_dir=tmp_path / "x")) == tmp_path / "x"


def test_every_setting_is_described() -> None:
    for name, field in DeploySettings.model_fields.items():
        assert field.description, name


def test_secret_key_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_S3_SECRET_KEY", "do-not-print-me")
    settings = DeploySettings()
    assert "do-not-print-me" not in repr(settings)
    assert settings.s3_secret_key.get_secret_value() == "do-not-print-me"


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(port_is_free(port) for port in ports)
    assert 1024 < free_port() < 65536


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not port_is_free(sock.getsockname()[1])


def test_exclusive_makes_a_second_holder_wait(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    first_holds = threading.Event()

    def second() -> None:
        first_holds.wait()
        with exclusive(lock):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with exclusive(lock):
        first_holds.set()
        time.sleep(0.2)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]
