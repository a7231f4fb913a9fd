"""The console at `/`: static files, a strict CSP, public in the role matrix, no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.console import routes as console_routes
from api.console.routes import ASSETS, STATIC
from api.roles import PROTECTED_PREFIX, PUBLIC_ROUTES, allowed_roles
from api.routes import content_urls
from tests.unit.api.conftest import ROLES, Harness, api_settings, build_harness

_IMPORT = re.compile(r"""from\s+"(\.{1,2}/[^"]+)"|import\s+"(\.{1,2}/[^"]+)\"""")


async def test_the_page_is_public_and_served_with_a_strict_policy(harness: Harness) -> None:
    async with harness.client() as anonymous:
        response = await anonymous.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/console/app.js"></script>' in response.text


def test_no_inline_script_or_style_and_no_outside_origin() -> None:
    for name, (body, _) in ASSETS.items():
        text = body.decode("utf-8")
        assert "innerHTML" not in text, name
        assert "eval(" not in text, name
        assert not re.search(r"https?://", text), f"{name} names an outside origin"
        if name.endswith(".html"):
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
            assert not re.search(r"\son[a-z]+=", text), "inline event handler"
            assert "style=" not in text, "inline style"
            assert "<style" not in text, "inline style"


def test_every_module_import_is_a_served_asset() -> None:
    for name, (body, _) in ASSETS.items():
        if not name.endswith(".js"):
            continue
        base = (STATIC / name).parent
        for match in _IMPORT.finditer(body.decode("utf-8")):
            target = (base / (match.group(1) or match.group(2))).resolve()
            assert target.relative_to(STATIC.resolve()).as_posix() in ASSETS, (name, target)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/console/app.js", "text/javascript"),
        ("/console/views/qa.js", "text/javascript"),
        ("/console/style.css", "text/css"),
    ],
)
async def test_assets_are_served_with_their_type_and_the_policy(
    harness: Harness, path: str, media_type: str
) -> None:
    async with harness.client() as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../routes.py",
        "/console/%2e%2e/routes.py",
        "/console/__init__.py",
        "/console/static/app.js",
    ],
)
async def test_anything_but_the_assets_is_not_found(harness: Harness, path: str) -> None:
    async with harness.client() as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 404


async def test_config_without_a_provider_offers_token_sign_in(harness: Harness) -> None:
    async with harness.client() as anonymous:
        body = (await anonymous.get("/console/config.json")).json()
    assert body["oidc"] is None
    assert body["features"]["content_url"] is True


async def test_config_with_a_provider_names_it_and_the_policy_lets_it_be_reached(
    tmp_path: Path,
) -> None:
    settings = api_settings(
        oidc_issuer="https://idp.example:8443/realms/k", oidc_client_id="keepline-console"
    )
    harness = await build_harness(tmp_path, settings)
    try:
        async with harness.client() as anonymous:
            response = await anonymous.get("/console/config.json")
            page = await anonymous.get("/")
    finally:
        await harness.close()
    assert response.json()["oidc"] == {
        "issuer": "https://idp.example:8443/realms/k",
        "client_id": "keepline-console",
        "scopes": "openid profile email groups",
    }
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self' https://idp.example:8443;" in policy


def test_public_routes_are_declared_and_outside_the_protected_prefix() -> None:
    assert not [p for _, p in PUBLIC_ROUTES if p.startswith(PROTECTED_PREFIX)]
    served = {
        (method, route.path)
        for router in (console_routes.router, content_urls.router)
        for route in router.routes
        for method in getattr(route, "methods", ())
        if not route.path.startswith(PROTECTED_PREFIX)
    }
    assert served == PUBLIC_ROUTES
    for method, path in served:
        assert allowed_roles(method, path) is None


@pytest.mark.parametrize("role", ROLES)
async def test_me_names_the_caller_and_its_roles(harness: Harness, role: str) -> None:
    async with harness.client(role) as client:
        body = (await client.get("/v1/me")).json()
    assert body == {"name": f"{role}-user", "role": role, "roles": [role]}


async def test_me_needs_a_token(harness: Harness) -> None:
    async with harness.client() as anonymous:
        assert (await anonymous.get("/v1/me")).status_code == 401
