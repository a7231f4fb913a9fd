"""`keepline check`: one line per configuration mistake with its fix, exit 2, before any start."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth import TokenAuthenticator
from api.errors import ConfigurationError
from deploy import cli as deploy_cli
from deploy.settings import DeploySettings
from keepline.cli import main
from keepline.commands.check import check_tokens
from policies.models import Role

GOOD_TOKENS = "tok-a:admin:alice,tok-q:qa:quinn"
FIX_TRIPLE = (
    "fix: write each entry as token:role:principal, e.g. s3cret:legal:alice; separate "
    "entries with commas"
)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean, valid configuration; each test spoils one setting."""
    for name in (
        "KEEPLINE_POLICY_FILE",
        "KEEPLINE_CATALOG_URL",
        "KEEPLINE_S3_ENDPOINT",
        "KEEPLINE_KAFKA_BOOTSTRAP",
        "KEEPLINE_OBJECT_STORE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEEPLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEEPLINE_API_TOKENS", GOOD_TOKENS)
    return tmp_path


def _check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    status = main(["check"])
    captured = capsys.readouterr()
    return status, captured.err.splitlines(), captured.out


def test_a_good_configuration_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status, errors, out = _check(capsys)
    assert (status, errors) == (0, [])
    assert out.startswith("keepline check: configuration OK: policy (the example policy")
    assert "2 API token(s)" in out
    assert "tok-a" not in out


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "KEEPLINE_API_TOKENS",
            "tok-a:admin:alice,tok-secret-b:qa",
            "KEEPLINE_API_TOKENS entry 2: is not token:role:principal (2 part(s)); " + FIX_TRIPLE,
        ),
        (
            "KEEPLINE_API_TOKENS",
            "tok-secret-c:qa-trainers:bob",
            "KEEPLINE_API_TOKENS entry 1: unknown role 'qa-trainers'; fix: use one of ingest, "
            "qa, legal, privacy, auditor, admin, or a reader role the policy declares "
            "(marketing)",
        ),
        (
            "KEEPLINE_S3_ENDPOINT",
            "127.0.0.1:9000",
            "KEEPLINE_S3_ENDPOINT=127.0.0.1:9000: is not http(s)://host:port; fix: write it "
            "as a URL, e.g. http://127.0.0.1:9000",
        ),
        (
            "KEEPLINE_S3_ENDPOINT",
            "http://minio:nine",
            "KEEPLINE_S3_ENDPOINT=http://minio:nine: has no valid host:port; fix: e.g. "
            "http://127.0.0.1:9000",
        ),
        (
            "KEEPLINE_S3_ENDPOINT",
            "http://minio:9000/keepline",
            "KEEPLINE_S3_ENDPOINT=http://minio:9000/keepline: has a path or query; the "
            "endpoint is the server only; fix: e.g. http://minio:9000 (the bucket is "
            "KEEPLINE_S3_BUCKET)",
        ),
        (
            "KEEPLINE_CATALOG_URL",
            "mysql://root:hunter2@db/keepline",
            "KEEPLINE_CATALOG_URL: is neither sqlite nor postgresql (scheme 'mysql'); fix: "
            "e.g. sqlite:///var/lib/keepline/keepline.db or "
            "postgresql://keepline@db:5432/keepline",
        ),
        (
            "KEEPLINE_KAFKA_BOOTSTRAP",
            "kafka://broker:9092",
            "KEEPLINE_KAFKA_BOOTSTRAP=kafka://broker:9092: 'kafka://broker:9092' is not "
            "host:port; fix: e.g. 127.0.0.1:9092 (several: comma-separated, no scheme)",
        ),
    ],
)
def test_each_mistake_gets_its_one_line_answer(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    line: str,
) -> None:
    monkeypatch.setenv(variable, value)
    status, errors, out = _check(capsys)
    assert (status, out) == (2, "")
    assert errors == [f"keepline check: {line}"]
    assert "secret" not in "\n".join(errors)
    assert "hunter2" not in "\n".join(errors)


def test_a_missing_policy_file(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = environment / "policy.yaml"
    monkeypatch.setenv("KEEPLINE_POLICY_FILE", str(missing))
    status, errors, _ = _check(capsys)
    assert status == 2
    assert errors == [
        f"keepline check: KEEPLINE_POLICY_FILE={missing}: the file does not exist; fix: point "
        "KEEPLINE_POLICY_FILE at a policy YAML file (SPEC section 4), or unset "
        "KEEPLINE_POLICY_FILE to use the example policy shipped with keepline"
    ]


def test_a_policy_that_does_not_validate_names_file_line_and_field(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = environment / "policy.yaml"
    path.write_text(
        "purposes:\n  q: {basis: legitimate_interests, retention: P1D, roles: [qa]}\n"
        "rules:\n  - purposes: [q]\n    match: {type: fax}\n"
    )
    monkeypatch.setenv("KEEPLINE_POLICY_FILE", str(path))
    status, errors, _ = _check(capsys)
    assert status == 2
    assert errors == [
        f"keepline check: {path}:5: rules[0].match.type: type must be one of call_recording, "
        "email, chat, not 'fax'; fix: correct the policy file (SPEC section 4)"
    ]


def test_every_mistake_is_reported_not_only_the_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_API_TOKENS", "a:nobody:x,b")
    monkeypatch.setenv("KEEPLINE_CATALOG_URL", "oracle://db")
    status, errors, _ = _check(capsys)
    assert status == 2
    assert [e.split(": ", 2)[1] for e in errors] == [
        "KEEPLINE_API_TOKENS entry 1",
        "KEEPLINE_API_TOKENS entry 2",
        "KEEPLINE_CATALOG_URL",
    ]


def test_settings_that_do_not_parse_are_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_API_PORT", "eighty")
    status, errors, _ = _check(capsys)
    assert status == 2
    assert len(errors) == 1
    assert errors[0].startswith("keepline check: KEEPLINE_API_PORT: ")


def test_a_token_of_a_reader_role_the_policy_declares_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_API_TOKENS", "tok-a:admin:alice,tok-secret-d:marketing:mo")
    status, errors, out = _check(capsys)
    assert (status, errors) == (0, [])
    assert "2 API token(s)" in out
    assert check_tokens("t:marketing:mo", roles=["qa"]) != []  # undeclared: a mistake
    assert check_tokens("t:marketing:mo", roles=["qa"], reader_roles=frozenset({"marketing"})) == []
    [mistake] = check_tokens("t:sales:mo", roles=["qa"])
    assert "declare it under reader_roles" in mistake.line()


@pytest.mark.parametrize(
    "value", ["", "a:qa:x", "a:qa:x,b:legal:y", "a:qa", "a::x", "a:boss:x", "a:qa:x:y", ",,"]
)
def test_the_check_and_the_api_agree_on_tokens(value: str) -> None:
    roles = [r.value for r in Role]
    try:
        TokenAuthenticator.from_setting(value, known_roles=roles)
    except ConfigurationError:
        accepted = False
    else:
        accepted = True
    assert accepted == (check_tokens(value, roles=roles) == [])


def test_serve_stops_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_API_TOKENS", "tok-secret:qa-trainers:bob")
    monkeypatch.setenv("KEEPLINE_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nothing listens there
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "keepline check: KEEPLINE_API_TOKENS entry 1: unknown role 'qa-trainers'; fix: use "
        "one of ingest, qa, legal, privacy, auditor, admin, or a reader role the policy "
        "declares (marketing)\n"
    )


def test_deploy_run_checks_before_starting_kafka_and_minio(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_CATALOG_URL", "mysql://db/keepline")

    def must_not_start(*args: object) -> None:
        raise AssertionError("servers started despite a configuration mistake")

    monkeypatch.setattr(deploy_cli, "_start_servers", must_not_start)
    assert deploy_cli.run(DeploySettings(), []) == 2
    err = capfd.readouterr().err
    assert "keepline check: KEEPLINE_CATALOG_URL: is neither sqlite nor postgresql" in err
    assert "the configuration has mistakes (above); nothing was started" in err


def test_half_configured_kafka_security_is_one_line_naming_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEEPLINE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KEEPLINE_KAFKA_SASL_PASSWORD", "pw-never-shown")
    status, errors, _ = _check(capsys)
    assert status == 2
    assert errors == [
        "keepline check: StreamSettings settings: SASL_SSL needs "
        "KEEPLINE_KAFKA_SASL_MECHANISM; SASL_SSL needs KEEPLINE_KAFKA_SASL_USERNAME; fix: see "
        "`StreamSettings` in the README's settings table"
    ]


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["sweep", "--dry-run"], "KEEPLINE_SWEEP_INTERVAL_S"),
        (["check"], "KEEPLINE_SWEEP_INTERVAL_S"),
        (["policy", "show"], "KEEPLINE_LOG_FORMAT"),  # over HTTP: it reads no stream setting
        (["sweep", "--dry-run"], "KEEPLINE_LOG_FORMAT"),
    ],
)
def test_every_command_reports_unparsable_settings_without_a_traceback(
    command: list[str],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, "every-minute")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert variable in err
    assert "every-minute" not in err
