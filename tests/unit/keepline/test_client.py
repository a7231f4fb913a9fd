from __future__ import annotations

import io
import json

import httpx
import pytest
from pydantic import SecretStr

from keepline.client import (
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    ApiRefusedError,
    ApiUnreachableError,
    ClientSettings,
    ConfigurationError,
    KeeplineClient,
)


def client(handler: httpx.MockTransport, token: str | None = "tok") -> KeeplineClient:  # noqa: S107
    settings = ClientSettings(
        url="http://api.test/", token=SecretStr(token) if token is not None else None
    )
    return KeeplineClient(settings, transport=handler)


def test_the_token_is_sent_as_bearer_and_never_shown() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"holds": []})

    settings = ClientSettings(url="http://api.test", token=SecretStr("s3cret"))
    assert "s3cret" not in repr(settings)
    with KeeplineClient(settings, transport=httpx.MockTransport(answer)) as api:
        assert api.get("/v1/holds", active=None) == {"holds": []}
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert seen[0].url.params.get("active") is None  # None parameters are left out


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_URL", "https://keepline.example")
    monkeypatch.setenv("KEEPLINE_TOKEN", "from-env")
    settings = ClientSettings()
    assert settings.url == "https://keepline.example"
    assert settings.token is not None
    assert settings.token.get_secret_value() == "from-env"


@pytest.mark.parametrize("status", [401, 403, 404, 409, 422])
def test_a_4xx_is_refused_with_the_apis_detail(status: int) -> None:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(status, json={"error": "X", "detail": "no such hold"})
    )
    with client(transport) as api, pytest.raises(ApiRefusedError) as caught:
        api.post("/v1/holds/h-1/release")
    assert caught.value.status == status
    assert caught.value.exit_code == EXIT_REFUSED
    assert "no such hold" in str(caught.value)
    assert str(status) in str(caught.value)


def test_a_5xx_and_no_answer_are_unreachable() -> None:
    failing = httpx.MockTransport(lambda _r: httpx.Response(503, text="down"))
    with client(failing) as api, pytest.raises(ApiUnreachableError) as caught:
        api.get("/v1/audit/verify")
    assert caught.value.exit_code == EXIT_UNREACHABLE

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client(httpx.MockTransport(refuse)) as api, pytest.raises(ApiUnreachableError) as err:
        api.get("/v1/audit/verify")
    assert "cannot reach the API at http://api.test" in str(err.value)


def test_no_token_or_a_bad_url_is_a_configuration_error() -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(200))
    with pytest.raises(ConfigurationError) as caught:
        client(transport, token=None)
    assert caught.value.exit_code == EXIT_USAGE
    with pytest.raises(ConfigurationError):
        KeeplineClient(ClientSettings(url="ftp://x", token=SecretStr("t")), transport=transport)


def test_download_streams_and_reports_progress() -> None:
    data = bytes(range(256)) * 1000
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(200, content=data, headers={"Content-Length": str(len(data))})
    )
    out = io.BytesIO()
    calls: list[tuple[int, int | None]] = []
    with client(transport) as api:
        written = api.download(
            "/v1/items/i/content", out, progress=lambda d, t: calls.append((d, t))
        )
    assert written == len(data)
    assert out.getvalue() == data
    assert calls[0] == (0, len(data))
    assert calls[-1] == (len(data), len(data))


def test_a_refused_download_writes_nothing() -> None:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(403, content=json.dumps({"detail": "role"}).encode())
    )
    out = io.BytesIO()
    with client(transport) as api, pytest.raises(ApiRefusedError):
        api.download("/v1/items/i/content", out)
    assert out.getvalue() == b""
