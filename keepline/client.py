"""A client of keepline's public HTTP API, for the operator commands (items, holds, …).

It holds no privilege of its own: every request carries the caller's bearer token
(`KEEPLINE_TOKEN`), and the API decides what that token may do. It logs nothing: a
subject id or an address a command is given never reaches a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Exit codes every operator command uses (README "The operator commands").
EXIT_OK = 0
EXIT_REFUSED = 1  # the API said no: 401, 403, 404, 409, 422, or a check that failed
EXIT_USAGE = 2  # wrong arguments or settings (argparse uses 2 as well)
EXIT_UNREACHABLE = 3  # the API did not answer, or answered with a server error

_CHUNK_BYTES = 64 * 1024
#: The longest error detail shown; the API's own details are far shorter.
_MAX_DETAIL = 500


class ClientSettings(BaseSettings):
    """Where the API is and who the caller is: `KEEPLINE_URL`, `KEEPLINE_TOKEN`."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    url: str = Field(
        default="http://127.0.0.1:8080", description="The API's base URL (`--url` overrides)."
    )
    token: SecretStr | None = Field(
        default=None,
        description="The caller's bearer token (an API token or an OpenID access token); "
        "read only from the environment, so it never shows in a process list.",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Seconds to wait for an answer.")


class ApiError(Exception):
    """The request did not succeed; ``exit_code`` says how a command should end."""

    exit_code = EXIT_UNREACHABLE


class ApiUnreachableError(ApiError):
    """No answer (refused, timed out, bad address) or a server error (5xx)."""

    exit_code = EXIT_UNREACHABLE


class ApiRefusedError(ApiError):
    """The API answered 4xx: not signed in, role not allowed, not found, conflict, invalid."""

    exit_code = EXIT_REFUSED

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {_REASONS.get(status, 'refused')}: {detail}")
        self.status = status
        self.detail = detail


class ConfigurationError(ApiError):
    """The settings cannot work (no token, a URL that is not http(s))."""

    exit_code = EXIT_USAGE


_REASONS = {
    400: "bad request",
    401: "not signed in (KEEPLINE_TOKEN missing, unknown or expired)",
    403: "your role may not do this",
    404: "not found",
    409: "conflict",
    413: "too large",
    416: "range not satisfiable",
    422: "invalid request",
}


def _detail(response: httpx.Response) -> str:
    """The API's ``detail`` of an error answer, or the start of its body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = body["detail"]
    else:
        text = response.text
    text = " ".join(text.split())
    return text[:_MAX_DETAIL] or response.reason_phrase


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 500:  # noqa: PLR2004 - HTTP status classes
        raise ApiUnreachableError(f"the API answered {response.status_code}: {_detail(response)}")
    if response.status_code >= 400:  # noqa: PLR2004
        raise ApiRefusedError(response.status_code, _detail(response))
    return response


class KeeplineClient:
    """Synchronous calls to one keepline API with one bearer token."""

    def __init__(self, settings: ClientSettings, *, transport: httpx.BaseTransport | None = None):
        url = settings.url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"KEEPLINE_URL / --url {url!r} is not an http(s) URL")
        if settings.token is None or not settings.token.get_secret_value():
            raise ConfigurationError(
                "KEEPLINE_TOKEN is not set: export the bearer token of your role first"
            )
        self.url = url
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
            timeout=settings.timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> KeeplineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request; raises ApiError unless it succeeded."""
        try:
            response = self._http.request(
                method, path, params=params, json=json, content=content, headers=headers
            )
        except httpx.HTTPError as err:
            raise ApiUnreachableError(
                f"cannot reach the API at {self.url}: {type(err).__name__} {err}"
            ) from err
        return _check(response)

    def get(self, path: str, **params: Any) -> Any:
        """GET path with the given (non-None) query parameters; the JSON body."""
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=query).json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        """POST a JSON body; the JSON answer."""
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("POST", path, params=query, json=body).json()

    def put_text(self, path: str, text: str, media_type: str = "application/yaml") -> Any:
        """PUT a text body (a policy YAML); the JSON answer."""
        return self.request(
            "PUT", path, content=text.encode("utf-8"), headers={"Content-Type": media_type}
        ).json()

    def post_text(self, path: str, text: str, media_type: str = "application/yaml") -> Any:
        """POST a text body; the JSON answer."""
        return self.request(
            "POST", path, content=text.encode("utf-8"), headers={"Content-Type": media_type}
        ).json()

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[httpx.Response]:
        """A streamed GET whose status was checked; read it with ``iter_bytes``."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            with self._http.stream("GET", path, params=query) as response:
                if response.status_code >= 400:  # noqa: PLR2004
                    response.read()
                    _check(response)
                yield response
        except httpx.HTTPError as err:
            raise ApiUnreachableError(
                f"cannot read {path} from {self.url}: {type(err).__name__} {err}"
            ) from err

    def download(
        self,
        path: str,
        out: IO[bytes],
        *,
        progress: Callable[[int, int | None], None] | None = None,
        **params: Any,
    ) -> int:
        """Stream a GET's body into out; the bytes written. progress(done, total or None)."""
        written = 0
        with self.stream(path, **params) as response:
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress(0, total)
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(written, total)
        return written
