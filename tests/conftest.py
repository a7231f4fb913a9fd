"""Fixtures shared by every test folder."""

pytest_plugins = ["tests.integration.fixtures_keepline"]
