"""GET /v1/signing-keys: every role may fetch the public keys; nothing private is in them."""

from __future__ import annotations

import pytest

from storage.crypto.signing import verify_signature
from tests.unit.api.conftest import TOKENS, Harness


@pytest.mark.parametrize("role", sorted(TOKENS))
async def test_every_role_gets_the_key_set_that_verifies_what_keepline_signs(
    harness: Harness, role: str
) -> None:
    signature = harness.storage.signer.sign(b"checkpoint")
    async with harness.client(role) as http:
        response = await http.get("/v1/signing-keys")
    assert response.status_code == 200
    jwks = response.json()
    assert [k["kid"] for k in jwks["keys"]] == [signature.kid]
    assert all("d" not in key for key in jwks["keys"])
    assert verify_signature(jwks, signature.kid, b"checkpoint", signature.value)


async def test_the_keys_are_not_given_to_anonymous_callers(harness: Harness) -> None:
    async with harness.client() as http:
        assert (await http.get("/v1/signing-keys")).status_code == 401
