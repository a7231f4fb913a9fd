"""Settings of the HTTP API: where it listens and who may call it."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The API's listener and its callers' credentials."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    api_host: str = Field(default="127.0.0.1", description="Listen address (loopback by default).")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Listen port.")
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated token:role:principal triples, e.g. s3cret:legal:alice.",
    )
    oidc_issuer: str | None = Field(default=None, description="JWT issuer to accept (iss).")
    oidc_audience: str | None = Field(default=None, description="JWT audience to accept (aud).")
    oidc_public_keys_pem: SecretStr | None = Field(
        default=None, description="PEM public key(s) that sign accepted JWTs."
    )
    oidc_role_claim: str = Field(default="keepline_role", description="JWT claim with the role.")
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` of list routes.")
