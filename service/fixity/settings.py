"""Settings of the integrity passes: how often, and how fast they may read."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FixitySettings(BaseSettings):
    """When the background integrity pass runs and how hard it may read the object store."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    fixity_interval_s: float = Field(
        default=86400.0,
        ge=1.0,
        description="Seconds from the end of one integrity pass to the start of the next.",
    )
    fixity_max_bytes_s: int = Field(
        default=32 << 20,
        ge=1024,
        description="The most bytes per second a pass reads back, so it never starves ingest.",
    )
    fixity_lease_ttl_s: float = Field(
        default=120.0,
        ge=5.0,
        description="How long the fixity lease lasts unless renewed (renewed every few "
        "seconds while a pass runs; a process that dies loses it after this).",
    )
