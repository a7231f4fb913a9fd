"""Tokens of a reader role the policy declares (SPEC section 4): held like any role, as qa.

The example policy declares `marketing` and lets it use the consent-based `marketing`
purpose only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.auth import JwtAuthenticator, Principal, TokenAuthenticator, build_authenticator
from api.errors import ConfigurationError
from api.settings import ApiSettings
from policies.models import Role
from tests.unit.api.conftest import TOKENS, Harness, api_settings, build_harness

MARKETING_TOKEN = "unit-marketing"
MARKETING = ("marketing", "consent", timedelta(days=730))
QUALITY = ("quality", "legitimate_interests", timedelta(days=90))


@pytest.fixture
async def readers(tmp_path: Path) -> AsyncIterator[Harness]:
    """The example policy's API with one token per API role and one of `marketing`."""
    tokens = ",".join(f"{tok}:{role}:{role}-user" for role, tok in TOKENS.items())
    settings = api_settings(api_tokens=SecretStr(f"{tokens},{MARKETING_TOKEN}:marketing:mo"))
    built = await build_harness(tmp_path, settings, reader_roles=frozenset({"marketing"}))
    yield built
    await built.close()


async def test_a_reader_role_token_lists_and_reads_only_its_purposes(readers: Harness) -> None:
    consented = await readers.add_item(purposes=(MARKETING, QUALITY))
    quality_only = await readers.add_item(purposes=(QUALITY,))
    async with readers.client(token=MARKETING_TOKEN) as http:
        listed = await http.get("/v1/items", params={"purpose": "marketing"})
        one = await http.get(f"/v1/items/{consented}", params={"purpose": "marketing"})
        other = await http.get(f"/v1/items/{quality_only}", params={"purpose": "marketing"})
        no_purpose = await http.get("/v1/items")
        not_its_own = await http.get("/v1/items", params={"purpose": "quality"})
        policy = await http.get("/v1/policy")
        me = await http.get("/v1/me")
    assert listed.status_code == 200, listed.text
    assert [i["item_id"] for i in listed.json()["items"]] == [consented]
    assert one.status_code == 200, one.text
    assert other.status_code == 404  # as if it did not exist
    assert no_purpose.status_code == 422
    assert no_purpose.json()["field"] == "purpose"
    assert not_its_own.status_code == 403
    assert policy.status_code == 200
    assert "marketing" in policy.json()["reader_roles"]
    assert me.status_code == 200, me.text
    assert "marketing" in me.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/holds/preview"),
        ("GET", "/v1/holds"),
        ("POST", "/v1/subjects/cust-1/erasure"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/dead-letters"),
        ("PUT", "/v1/policy"),
        ("POST", "/v1/events"),
    ],
)
async def test_a_reader_role_may_use_nothing_qa_may_not(
    readers: Harness, method: str, path: str
) -> None:
    async with readers.client(token=MARKETING_TOKEN) as http:
        response = await http.request(method, path, json={})
    assert response.status_code == 403, response.text
    assert "marketing" in response.json()["detail"]


async def test_a_reader_role_the_policy_does_not_declare_is_refused_at_start() -> None:
    settings = ApiSettings(api_tokens=SecretStr("t:marketing:mo"))
    with pytest.raises(ConfigurationError, match="reader_roles"):
        build_authenticator(settings)
    accepted = build_authenticator(settings, reader_roles=frozenset({"marketing"}))
    assert accepted.authenticate("t") == Principal("mo", "marketing")


def test_a_reader_role_acts_where_qa_may_and_nowhere_else() -> None:
    reader = Principal("mo", "marketing")
    assert reader.acting_in({Role.QA, Role.LEGAL}) == reader
    assert reader.acting_in({Role.LEGAL}) is None
    assert reader.acting_in(set()) is None
    # An API role is served in its own right, never as a reader.
    assert Principal("al", "legal").acting_in({Role.QA}) is None
    tokens = TokenAuthenticator.from_setting("t:marketing:mo", known_roles=["qa", "marketing"])
    assert tokens.authenticate("t") == reader


def test_an_oidc_token_may_hold_a_declared_reader_role() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = ApiSettings(
        oidc_issuer="https://id.example.com",
        oidc_audience="keepline",
        oidc_public_keys_pem=pem,
        oidc_role_claim="groups",
        oidc_role_map="crm-marketing=marketing",
    )
    now = int(time.time())
    claims = {"iss": "https://id.example.com", "aud": "keepline", "sub": "mo", "iat": now}
    token = jwt.encode({**claims, "exp": now + 300, "groups": ["crm-marketing"]}, key, "RS256")
    declared = JwtAuthenticator.from_settings(settings, reader_roles=["marketing"])
    assert declared is not None
    principal = declared.authenticate(token)
    assert principal is not None
    assert principal.roles == frozenset({"marketing"})
    assert principal.acting_in({Role.QA}) == Principal("mo", "marketing", frozenset({"marketing"}))
    # Without the policy declaring it, the mapping itself is refused at start.
    with pytest.raises(ConfigurationError, match="marketing"):
        JwtAuthenticator.from_settings(settings)
