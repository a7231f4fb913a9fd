"""OIDC callers for a running keepline: a signing key it trusts and the JWTs it signs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://idp.test"
AUDIENCE = "keepline-test"


def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A fresh signing key and its public key in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def oidc_env(pem: str) -> dict[str, str]:
    """Settings that make a service accept JWTs signed by pem's key, roles in `roles`."""
    return {
        "KEEPLINE_OIDC_ISSUER": ISSUER,
        "KEEPLINE_OIDC_AUDIENCE": AUDIENCE,
        "KEEPLINE_OIDC_PUBLIC_KEYS_PEM": pem,
        "KEEPLINE_OIDC_ROLE_CLAIM": "roles",
    }


def signed_jwt(
    key: ec.EllipticCurvePrivateKey,
    roles: str | Sequence[str],
    *,
    lifetime_s: int = 300,
    **claims: Any,
) -> str:
    """A JWT for a caller with one role or several (the subject names the first)."""
    listed = [roles] if isinstance(roles, str) else list(roles)
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"jwt-{listed[0]}",
        "exp": now + lifetime_s,
        "iat": now,
    }
    body.update(roles=listed, **claims)
    return jwt.encode(body, key, algorithm="ES256")
