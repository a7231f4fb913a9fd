"""docker-compose.yml starts as it is: PostgreSQL as the catalog, health checks, restarts.

No Docker engine runs here, so the file is read as Compose reads it (YAML, `${VAR:-default}`
interpolation, the optional `.env`) and the keepline container's environment is put through
keepline's own configuration check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import ApiSettings
from keepline.commands.check import check_configuration, read_configuration
from keepline.settings import CliSettings
from policies.settings import PolicySettings
from storage.settings import StorageSettings
from streams.settings import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENV_LINE = re.compile(r"^#?\s*(KEEPLINE_[A-Z0-9_]+|[A-Z][A-Z0-9_]*)=(.*)$")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _settings_names() -> set[str]:
    classes = (ApiSettings, StorageSettings, StreamSettings, PolicySettings, CliSettings)
    return {f"KEEPLINE_{name.upper()}" for cls in classes for name in cls.model_fields}


def _env_example(*, commented: bool = False) -> dict[str, str]:
    """The variables .env.example sets (with commented: those it shows commented out too)."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line.strip())
        if match and (commented or not line.startswith("#")):
            found[match.group(1)] = match.group(2)
    return found


def _interpolate(value: str, variables: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        given = variables.get(name)
        if given:
            return given
        assert default is not None, f"${{{name}}} has no default: the file needs a .env"
        return default

    return _VARIABLE.sub(one, value)


def _keepline_env(variables: Mapping[str, str]) -> dict[str, str]:
    """The keepline container's environment: the .env file, then `environment:`."""
    service = _compose()["services"]["keepline"]
    env = dict(variables)
    for name, value in service["environment"].items():
        assert value is not None, f"{name} is listed without a value"
        env[name] = _interpolate(str(value), variables)
    return env


def test_the_stack_has_kafka_minio_postgresql_and_keepline_each_healthchecked() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "minio", "minio-users", "postgres", "keepline"}
    one_shot = services.pop("minio-users")  # a set-up step that exits
    assert one_shot["restart"] == "no"
    assert one_shot["command"] == ["python", "-m", "deploy.minio_iam"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        assert service["healthcheck"]["retries"] >= 1, name
    keepline = services["keepline"]
    assert {name: dep["condition"] for name, dep in keepline["depends_on"].items()} == {
        "kafka": "service_healthy",
        "minio": "service_healthy",
        "minio-users": "service_completed_successfully",
        "postgres": "service_healthy",
    }
    assert "/readyz" in " ".join(keepline["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # Every published port is on the host's loopback only.
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    assert set(_compose()["volumes"]) >= {"postgres-data", "keepline-data"}


def test_the_catalog_is_the_postgresql_service() -> None:
    compose = _compose()
    env = _keepline_env({})
    url = env["KEEPLINE_CATALOG_URL"]
    assert url.startswith("postgresql://keepline:")
    assert url.endswith("@postgres:5432/keepline")
    postgres = compose["services"]["postgres"]["environment"]
    password = _interpolate(postgres["POSTGRES_PASSWORD"], {})
    assert url == f"postgresql://{postgres['POSTGRES_USER']}:{password}@postgres:5432/keepline"
    assert postgres["POSTGRES_DB"] == "keepline"
    # A password set in .env reaches both the database and keepline's URL.
    given = _keepline_env({"POSTGRES_PASSWORD": "from-env"})["KEEPLINE_CATALOG_URL"]
    assert given == "postgresql://keepline:from-env@postgres:5432/keepline"
    assert _interpolate(postgres["POSTGRES_PASSWORD"], {"POSTGRES_PASSWORD": "from-env"}) == (
        "from-env"
    )


def test_an_env_file_is_read_when_present_and_not_needed() -> None:
    keepline = _compose()["services"]["keepline"]
    assert keepline["env_file"] == [{"path": ".env", "required": False}]
    assert ENV_EXAMPLE.is_file()
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/.env" in ignored
    # Every variable the compose file interpolates has a default or is in .env.example.
    text = COMPOSE.read_text(encoding="utf-8")
    example = _env_example(commented=True)
    for match in _VARIABLE.finditer(text):
        assert match.group(2) is not None or match.group(1) in example, match.group(0)


def test_every_keepline_variable_set_is_a_real_setting() -> None:
    real = _settings_names()
    keepline = _compose()["services"]["keepline"]
    assert set(keepline["environment"]) - real == set()
    assert {n for n in _env_example(commented=True) if n.startswith("KEEPLINE_")} - real == set()
    text = COMPOSE.read_text(encoding="utf-8") + ENV_EXAMPLE.read_text(encoding="utf-8")
    assert set(re.findall(r"KEEPLINE_[A-Z0-9_]+", text)) - real == set()


def test_no_comment_asks_for_a_mounted_policy_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8").lower()
    assert "must be mounted" not in text
    assert "KEEPLINE_POLICY_FILE" not in _compose()["services"]["keepline"]["environment"]


@pytest.mark.parametrize("with_env_file", [False, True], ids=["as-it-is", "with-.env.example"])
def test_the_keepline_container_passes_keepline_check(
    monkeypatch: pytest.MonkeyPatch, with_env_file: bool
) -> None:
    variables = _env_example() if with_env_file else {}
    env = _keepline_env(variables)
    for name in list(os.environ):
        if name.startswith("KEEPLINE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config, mistakes = read_configuration()
    assert mistakes == []
    assert config is not None
    assert check_configuration(config) == []
    assert config.storage.resolved_catalog_url().startswith("postgresql+asyncpg://")
    assert config.stream.kafka_bootstrap == "kafka:19092"
    assert config.api.api_host == "0.0.0.0"  # noqa: S104 - inside the container only
    tokens = config.api.api_tokens.get_secret_value()
    if with_env_file:
        roles = {entry.split(":")[1] for entry in tokens.split(",")}
        assert roles == {"ingest", "qa", "legal", "privacy", "auditor", "admin"}


class _Ready(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture
def readiness() -> Iterator[tuple[ThreadingHTTPServer, type[_Ready]]]:
    handler = type("Ready", (_Ready,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_the_keepline_healthcheck_is_healthy_only_when_readyz_answers_200(
    readiness: tuple[ThreadingHTTPServer, type[_Ready]],
) -> None:
    server, handler = readiness
    command = _compose()["services"]["keepline"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    port = server.server_address[1]
    code = command[3].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    assert code != command[3]

    def run() -> int:
        return subprocess.run(  # noqa: S603 - the compose file's own check
            [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
        ).returncode

    assert run() == 0
    handler.status = 503
    assert run() != 0


def test_keepline_never_runs_as_minio_root() -> None:
    services = _compose()["services"]
    minio = {k: _interpolate(str(v), {}) for k, v in services["minio"]["environment"].items()}
    keepline = _keepline_env({})
    assert keepline["KEEPLINE_S3_ACCESS_KEY"] != minio["MINIO_ROOT_USER"]
    assert keepline["KEEPLINE_S3_DESTROY_ACCESS_KEY"] not in {
        minio["MINIO_ROOT_USER"],
        keepline["KEEPLINE_S3_ACCESS_KEY"],
    }
    setup = {k: _interpolate(str(v), {}) for k, v in services["minio-users"]["environment"].items()}
    # The set-up step creates exactly the users keepline is given, with the root user.
    for name in ("KEEPLINE_S3_ACCESS_KEY", "KEEPLINE_S3_DESTROY_ACCESS_KEY", "KEEPLINE_S3_BUCKET"):
        assert setup[name] == keepline[name], name
    assert setup["MINIO_ROOT_USER"] == minio["MINIO_ROOT_USER"]


def test_the_user_set_up_step_creates_what_it_is_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy import minio_iam  # noqa: PLC0415 - the module under test, patched below

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(minio_iam, "create_identities", lambda *a, **kw: calls.append((a, kw)))
    env = {
        "MINIO_ROOT_USER": "root-u",
        "MINIO_ROOT_PASSWORD": "root-secret",
        "KEEPLINE_S3_ENDPOINT": "http://minio:9000",
        "KEEPLINE_S3_BUCKET": "kl",
        "KEEPLINE_S3_ACCESS_KEY": "keeper",
        "KEEPLINE_S3_SECRET_KEY": "keeper-secret",
        "KEEPLINE_S3_DESTROY_ACCESS_KEY": "destroyer",
        "KEEPLINE_S3_DESTROY_SECRET_KEY": "destroyer-secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert minio_iam.main() == 0
    ((args, kwargs),) = calls
    assert args == ("http://minio:9000", minio_iam.Identity("root-u", "root-secret"), "kl")
    assert kwargs == {
        "keeper": minio_iam.Identity("keeper", "keeper-secret"),
        "destroyer": minio_iam.Identity("destroyer", "destroyer-secret"),
    }
    out = capsys.readouterr().out
    assert "secret" not in out
    assert "keeper" in out
