"""Static tokens and OIDC bearer tokens (JWTs): who is let in, in which role."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from api.auth import (
    ChainAuthenticator,
    JwtAuthenticator,
    Principal,
    TokenAuthenticator,
    build_authenticator,
    keys_from_jwks,
    keys_from_pem,
)
from api.errors import ConfigurationError
from api.jwks import DiscoveredKeys, http_fetcher
from tests.unit.api.conftest import api_settings

ISSUER = "https://idp.example"
BAD_PEM = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
AUDIENCE = "keepline"


def _pem(key: Any) -> str:
    data: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "keepline_role": "legal",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _authenticator(pem: str, **settings: Any) -> JwtAuthenticator:
    found = JwtAuthenticator.from_settings(
        api_settings(
            oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_public_keys_pem=pem, **settings
        )
    )
    assert found is not None
    return found


def test_static_tokens_map_to_principals() -> None:
    tokens = TokenAuthenticator.from_setting(
        "s3cret:legal:alice, ing:ingest:pbx", known_roles=["legal", "ingest"]
    )
    assert tokens.authenticate("s3cret") == Principal("alice", "legal")
    assert tokens.authenticate("ing") == Principal("pbx", "ingest")
    assert tokens.authenticate("s3cret ") is None
    assert tokens.authenticate("") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("s3cret:legal", "entry 1 is not token:role:principal"),
        ("a:legal:x,b::y", "entry 2 is not token:role:principal"),
        ("a:legal:x,b:boss:y", "entry 2: unknown role 'boss'"),
    ],
)
def test_malformed_token_settings_are_refused_without_echoing_tokens(
    value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        TokenAuthenticator.from_setting(value, known_roles=["legal"])
    assert "a:" not in str(caught.value)


def test_tokens_are_not_kept_in_clear() -> None:
    tokens = TokenAuthenticator.from_setting("very-secret-token:legal:a", known_roles=["legal"])
    assert "very-secret-token" not in repr(vars(tokens))


def test_valid_rsa_and_ec_tokens_are_accepted(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    auth = _authenticator(_pem(rsa_key) + "\n" + _pem(ec_key))
    rs = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    es = jwt.encode(_claims(sub="bob", keepline_role="qa"), ec_key, algorithm="ES256")
    assert auth.authenticate(rs) == Principal("alice", "legal")
    assert auth.authenticate(es) == Principal("bob", "qa")


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example"},
        {"aud": "someone-else"},
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"exp": None},
        {"sub": None},
    ],
)
def test_tokens_failing_a_check_are_refused(
    rsa_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    auth = _authenticator(_pem(rsa_key))
    assert auth.authenticate(jwt.encode(_claims(**claims), rsa_key, algorithm="RS256")) is None


def test_token_signed_by_another_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = _authenticator(_pem(rsa_key))
    assert auth.authenticate(jwt.encode(_claims(), other, algorithm="RS256")) is None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_algorithm_confusion_and_none_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _pem(rsa_key)
    auth = _authenticator(pem)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    forged = hmac.new(pem.encode(), signing_input, hashlib.sha256).digest()
    assert auth.authenticate(f"{header}.{payload}.{_b64(forged)}") is None
    unsigned = _b64(json.dumps({"alg": "none"}).encode())
    assert auth.authenticate(f"{unsigned}.{payload}.") is None
    assert auth.authenticate("not.a.jwt") is None
    assert auth.authenticate("garbage") is None


def test_role_claim_may_be_a_list_or_nested(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = _authenticator(_pem(rsa_key), oidc_role_claim="realm_access.roles")
    token = jwt.encode(
        _claims(keepline_role=None, realm_access={"roles": ["offline", "qa", "privacy"]}),
        rsa_key,
        algorithm="RS256",
    )
    principal = auth.authenticate(token)
    assert principal is not None
    assert principal.roles == {"qa", "privacy"}
    assert principal.role == "privacy"
    acting = principal.acting_in({"qa", "legal"})
    assert acting is not None
    assert acting.role == "qa"
    assert principal.acting_in({"auditor"}) is None


def test_token_without_a_known_role_authenticates_with_no_role(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    auth = _authenticator(_pem(rsa_key))
    principal = auth.authenticate(jwt.encode(_claims(keepline_role="boss"), rsa_key, "RS256"))
    assert principal == Principal("alice", "", frozenset())
    assert principal.acting_in({"legal"}) is None


def test_jwks_file_keys_are_chosen_by_kid(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    jwks = {
        "keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "r1"},
            {**json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(other.public_key())), "kid": "e1"},
            {"kty": "oct", "k": "c2VjcmV0", "use": "enc"},
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    auth = JwtAuthenticator.from_settings(
        api_settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=path)
    )
    assert auth is not None
    rs = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "r1"})
    ed = jwt.encode(_claims(sub="eve"), other, algorithm="EdDSA", headers={"kid": "e1"})
    wrong_kid = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "e1"})
    assert auth.authenticate(rs) == Principal("alice", "legal")
    assert auth.authenticate(ed) == Principal("eve", "legal")
    assert auth.authenticate(wrong_kid) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"oidc_issuer": ISSUER}, "needs KEEPLINE_OIDC_ISSUER and KEEPLINE_OIDC_AUDIENCE"),
        ({"oidc_audience": AUDIENCE}, "needs KEEPLINE_OIDC_ISSUER"),
        ({"oidc_issuer": "http://idp.example", "oidc_client_id": "c"}, "must be an https URL"),
        ({"oidc_issuer": ISSUER, "oidc_client_id": "c", "oidc_role_map": "x"}, "not value=role"),
        ({"oidc_public_keys_pem": "PEM"}, "needs KEEPLINE_OIDC_ISSUER"),
        (
            {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_public_keys_pem": "x"},
            "holds no PEM block",
        ),
        (
            {
                "oidc_issuer": ISSUER,
                "oidc_audience": AUDIENCE,
                "oidc_public_keys_pem": BAD_PEM,
            },
            "block 1 is not a public key",
        ),
        (
            {
                "oidc_issuer": ISSUER,
                "oidc_audience": AUDIENCE,
                "oidc_public_keys_pem": "PEM",
                "oidc_algorithms": "RS256,HS256",
            },
            "HS256 not accepted",
        ),
        (
            {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_file": "/nonexistent"},
            "KEEPLINE_OIDC_JWKS_FILE unreadable",
        ),
    ],
)
def test_unusable_oidc_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_authenticator(api_settings(**settings))


def test_pem_bundle_accepts_certificates_too(rsa_key: rsa.RSAPrivateKey) -> None:
    keys = keys_from_pem(_pem(rsa_key).replace("\n", "\\n"), ["RS256", "ES256"])
    assert len(keys) == 1
    assert keys[0].algorithms == ("RS256",)


def test_chain_tries_static_tokens_then_jwts(rsa_key: rsa.RSAPrivateKey) -> None:
    combined = build_authenticator(
        api_settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_public_keys_pem=_pem(rsa_key))
    )
    assert isinstance(combined, ChainAuthenticator)
    assert combined.authenticate("unit-auditor") == Principal("auditor-user", "auditor")
    token = jwt.encode(_claims(keepline_role="admin"), rsa_key, algorithm="RS256")
    assert combined.authenticate(token) == Principal("alice", "admin")
    assert combined.authenticate("unknown") is None


# -- OpenID discovery ---------------------------------------------------------------------


class _Provider:
    """A discovery document and a JWKS served on loopback, with keys that can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.requests: list[str] = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/keys"}
                elif self.path == "/keys":
                    body = {"keys": [provider.jwk(kid, k) for kid, k in provider.keys.items()]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}

    def token(self, kid: str, **claims: Any) -> str:
        body = _claims(iss=self.issuer, **claims)
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(rsa_key: rsa.RSAPrivateKey) -> Iterator[_Provider]:
    served = _Provider()
    served.keys["k1"] = rsa_key
    yield served
    served.stop()


def _discovering(provider: _Provider, **settings: Any) -> JwtAuthenticator:
    found = JwtAuthenticator.from_settings(
        api_settings(oidc_issuer=provider.issuer, oidc_client_id=AUDIENCE, **settings)
    )
    assert found is not None
    return found


def test_keys_are_discovered_from_the_issuer_and_cached(provider: _Provider) -> None:
    auth = _discovering(provider, oidc_role_claim="groups")
    assert provider.requests == [], "nothing is fetched before the first token"
    token = provider.token("k1", keepline_role=None, groups=["qa", "other"])
    assert auth.authenticate(token) == Principal("alice", "qa")
    assert auth.authenticate(token) == Principal("alice", "qa")
    assert provider.requests == ["/.well-known/openid-configuration", "/keys"]


def test_a_rotated_key_is_fetched_once_and_forged_kids_are_rate_limited(
    provider: _Provider,
) -> None:
    auth = _discovering(provider, oidc_jwks_refresh_min_s=3600)
    assert auth.authenticate(provider.token("k1")) is not None
    provider.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    del provider.keys["k1"]
    # The first token with the new kid refetches the set; the rate limit holds the rest.
    assert auth.authenticate(provider.token("k2")) == Principal("alice", "legal")
    fetched = len(provider.requests)
    provider.keys["k3"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for _ in range(20):
        assert auth.authenticate(provider.token("k3")) is None
    assert len(provider.requests) == fetched


def test_an_unknown_kid_refetches_after_the_minimum_interval(rsa_key: rsa.RSAPrivateKey) -> None:
    now = [0.0]
    served: dict[str, Any] = {"keys": []}
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if url.endswith("openid-configuration"):
            return json.dumps({"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"}).encode()
        return json.dumps(served).encode()

    keys = DiscoveredKeys(
        issuer=ISSUER,
        parse=lambda text: keys_from_jwks(text, ["RS256"], source="test"),
        fetch=fetch,
        refresh_min_s=60,
        max_age_s=3600,
        clock=lambda: now[0],
    )
    auth = JwtAuthenticator(issuer=ISSUER, audience=AUDIENCE, keys=keys)
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "new"})
    assert auth.authenticate(token) is None
    assert len(fetched) == 3, "discovery, the set, and the set again for the unknown kid"
    served["keys"] = [_Provider.jwk("new", rsa_key)]
    now[0] = 30.0
    assert auth.authenticate(token) is None, "within the interval: no fetch"
    assert len(fetched) == 3
    now[0] = 61.0
    assert auth.authenticate(token) == Principal("alice", "legal")
    now[0] = 61.0 + 3600
    assert auth.authenticate(token) is not None
    assert fetched[-1] == f"{ISSUER}/keys", "an old set is fetched again when it expires"


def test_a_discovery_document_of_another_issuer_is_not_trusted(rsa_key: rsa.RSAPrivateKey) -> None:
    def fetch(url: str) -> bytes:
        if url.endswith("openid-configuration"):
            return json.dumps({"issuer": "https://evil.example", "jwks_uri": "x"}).encode()
        return json.dumps({"keys": [_Provider.jwk("k", rsa_key)]}).encode()

    keys = DiscoveredKeys(
        issuer=ISSUER, parse=lambda t: keys_from_jwks(t, ["RS256"], source="t"), fetch=fetch
    )
    auth = JwtAuthenticator(issuer=ISSUER, audience=AUDIENCE, keys=keys)
    assert auth.authenticate(jwt.encode(_claims(), rsa_key, "RS256", headers={"kid": "k"})) is None


def test_an_unreachable_provider_refuses_tokens_without_raising() -> None:
    keys = DiscoveredKeys(
        issuer="http://127.0.0.1:9",
        parse=lambda t: keys_from_jwks(t, ["RS256"], source="t"),
        fetch=http_fetcher(1.0),
    )
    auth = JwtAuthenticator(issuer="http://127.0.0.1:9", audience=AUDIENCE, keys=keys)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(iss="http://127.0.0.1:9"), key, "RS256", headers={"kid": "k"})
    assert auth.authenticate(token) is None


def test_group_values_map_to_roles(provider: _Provider) -> None:
    auth = _discovering(
        provider, oidc_role_claim="groups", oidc_role_map="kl-legal=legal, kl-audit=auditor"
    )
    token = provider.token("k1", keepline_role=None, groups=["kl-audit", "qa", "legal-team"])
    principal = auth.authenticate(token)
    assert principal is not None
    assert principal.roles == {"auditor", "qa"}
