"""Settings of the HTTP API: where it listens and who may call it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The API's listener and its callers' credentials.

    Static tokens (``api_tokens``) suit a small deployment; OIDC bearer tokens (JWTs) are the
    production option: set ``oidc_issuer``, ``oidc_audience`` and the signing keys, either as
    PEM (``oidc_public_keys_pem``) or as a JWKS document on disk (``oidc_jwks_file``). Both
    kinds of token are accepted side by side.
    """

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    api_host: str = Field(default="127.0.0.1", description="Listen address (loopback by default).")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Listen port.")
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated token:role:principal triples, e.g. s3cret:legal:alice.",
    )
    oidc_issuer: str | None = Field(default=None, description="JWT issuer to accept (iss).")
    oidc_audience: str | None = Field(default=None, description="JWT audience to accept (aud).")
    oidc_public_keys_pem: str | None = Field(
        default=None,
        description="PEM public keys or certificates (concatenated) that sign accepted JWTs.",
    )
    oidc_jwks_file: Path | None = Field(
        default=None, description="A JWKS document (JSON) with the keys that sign accepted JWTs."
    )
    oidc_role_claim: str = Field(
        default="keepline_role",
        description="JWT claim with the role: a string or a list; dots reach into objects "
        "(realm_access.roles).",
    )
    oidc_principal_claim: str = Field(
        default="sub", description="JWT claim that names the caller in the audit trail."
    )
    oidc_algorithms: str = Field(
        default="RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA",
        description="Comma-separated JWT signature algorithms to accept (asymmetric only).",
    )
    oidc_leeway_s: float = Field(
        default=30.0, ge=0, le=600, description="Clock skew tolerated on exp, nbf and iat."
    )
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` of list routes.")
