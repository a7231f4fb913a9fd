"""Dex's configuration for local use and the tests: users per role, the console's client."""

from __future__ import annotations

from deploy.dex import CONSOLE_CLIENT_ID, DEX_VERSION, ROLES, dex_config, static_user


def test_one_static_user_per_console_role_in_the_group_of_its_role() -> None:
    config = dex_config(
        issuer="http://127.0.0.1:5556/dex",
        address="127.0.0.1:5556",
        telemetry="127.0.0.1:5558",
        allowed_origins=["http://127.0.0.1:8080"],
    )
    users = config["staticPasswords"]
    assert isinstance(users, list)
    assert [(u["email"], u["groups"], u["preferredUsername"]) for u in users] == [
        (static_user(role), [role], f"{role}-user") for role in ROLES
    ]
    assert len({u["userID"] for u in users}) == len(ROLES)
    assert all(u["hash"].startswith("$2a$10$") for u in users)
    assert config["enablePasswordDB"] is True
    assert config["storage"] == {"type": "memory"}


def test_the_console_is_a_public_client_without_fixed_redirects() -> None:
    config = dex_config(issuer="i", address="a", telemetry="t", allowed_origins=["o"])
    # Public, no redirect URIs: Dex then accepts any http loopback redirect (PKCE apps).
    assert config["staticClients"] == [
        {"id": CONSOLE_CLIENT_ID, "name": "keepline console", "public": True}
    ]
    assert config["web"] == {"http": "a", "allowedOrigins": ["o"]}
    assert config["oauth2"] == {"responseTypes": ["code"], "skipApprovalScreen": True}


def test_the_pinned_version_is_a_pseudo_version_of_a_tagged_commit() -> None:
    # v2 tags are not module versions of github.com/dexidp/dex (no /v2 suffix).
    prefix, timestamp, commit = DEX_VERSION.split("-")
    assert prefix == "v0.0.0"
    assert len(timestamp) == 14
    assert len(commit) == 12
