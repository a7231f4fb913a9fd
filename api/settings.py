"""Settings of the HTTP API: where it listens and who may call it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The API's listener and its callers' credentials.

    Static tokens (``api_tokens``) suit a small deployment; OIDC bearer tokens (JWTs) are the
    production option. With only ``oidc_issuer`` (and ``oidc_audience`` or
    ``oidc_client_id``) set, the signing keys are found through OpenID discovery and the
    provider's JWKS URL; PEM keys (``oidc_public_keys_pem``) or a JWKS document on disk
    (``oidc_jwks_file``) pin them instead. Both kinds of token are accepted side by side.
    """

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    api_host: str = Field(default="127.0.0.1", description="Listen address (loopback by default).")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Listen port.")
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated token:role:principal triples, e.g. s3cret:legal:alice.",
    )
    oidc_issuer: str | None = Field(default=None, description="JWT issuer to accept (iss).")
    oidc_audience: str | None = Field(
        default=None,
        description="JWT audience to accept (aud); default: oidc_client_id (what Dex and most "
        "providers put in tokens issued to the console).",
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="The console's OAuth client id at the provider (a public client using "
        "authorization code with PKCE); with oidc_issuer, the console offers sign-in there.",
    )
    oidc_scopes: str = Field(
        default="openid profile email groups",
        description="Space-separated scopes the console asks the provider for.",
    )
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
        "(realm_access.roles). Dex and Keycloak put groups in `groups`.",
    )
    oidc_role_map: str = Field(
        default="",
        description="Comma-separated claim-value=role pairs (keepline-legal=legal); values "
        "not mapped count when they are a role's own name.",
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
    oidc_jwks_refresh_min_s: float = Field(
        default=60.0,
        ge=0,
        description="Least time between two JWKS fetches caused by tokens with an unknown kid.",
    )
    oidc_jwks_max_age_s: float = Field(
        default=3600.0, gt=0, description="Discovered signing keys are fetched again after this."
    )
    oidc_http_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Timeout of each discovery or JWKS request."
    )
    content_url_key: SecretStr | None = Field(
        default=None,
        description="HMAC key signing content URLs (POST /v1/items/{id}/content-url); set the "
        "same value on every API replica. Default: a random key per process.",
    )
    content_url_ttl_s: int = Field(
        default=300, ge=10, le=3600, description="How long a content URL stays valid."
    )
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` of list routes.")
    ingest_sources: str = Field(
        default="",
        description="Which `source` each ingest principal may submit events for: "
        "`principal=source|source,...` (e.g. `pbx-gw=pbx-london-1|pbx-london-2,crm=crm-1`; "
        "`*` for any). A principal not listed may submit for no source once any is listed; "
        "unset, every ingest principal may submit for any source (local use).",
    )

    def sources_of(self, principal: str) -> frozenset[str] | None:
        """The sources principal may submit for; None: any (`*`, or no mapping at all)."""
        mapping: dict[str, frozenset[str]] = {}
        for entry in (e.strip() for e in self.ingest_sources.split(",")):
            if not entry:
                continue
            name, _, sources = entry.partition("=")
            mapping[name.strip()] = frozenset(s.strip() for s in sources.split("|") if s.strip())
        if not mapping:
            return None
        allowed = mapping.get(principal, frozenset())
        return None if "*" in allowed else allowed
