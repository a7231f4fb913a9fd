"""Settings of the policies context: which policy file to load at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PolicySettings(BaseSettings):
    """Where the start-up policy comes from."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    policy_file: Path | None = Field(
        default=None,
        description="Policy YAML (SPEC section 4); default the example policy shipped with "
        "keepline.",
    )
