"""The public keys that sign productions, disposal certificates and audit checkpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.services import Caller, Services

router = APIRouter(prefix="/v1/signing-keys", tags=["signing keys"])


class SigningKeyOut(BaseModel):
    """One Ed25519 public key as a JWK (RFC 8037); ``kid`` is its RFC 7638 thumbprint."""

    kty: str = Field(description="Always OKP.", examples=["OKP"])
    crv: str = Field(description="Always Ed25519.", examples=["Ed25519"])
    x: str = Field(description="The public key, base64url without padding.")
    kid: str = Field(description="The key id signatures name.")
    alg: str = Field(description="Always EdDSA.", examples=["EdDSA"])
    use: str = Field(description="Always sig.", examples=["sig"])


class SigningKeySetOut(BaseModel):
    """A JWK set: the key that signs now first, then every earlier one (they still verify)."""

    keys: list[SigningKeyOut]


@router.get(
    "",
    summary="The public signing keys",
    description="Save this set beside a production or a disposal certificate: "
    "`keepline verify BUNDLE.zip --keys signing-keys.json` checks it offline with it. "
    "The private keys are never in the catalog.",
    response_model=SigningKeySetOut,
)
async def signing_keys(*, services: Services, _caller: Caller) -> dict[str, Any]:
    """Every signing key's public half."""
    return services.storage.signer.public_keys()
