"""Settings of the `keepline` command itself: how it writes its logs."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    """How log records are written to standard error."""

    TEXT = "text"
    JSON = "json"


class CliSettings(BaseSettings):
    """What every `keepline` command reads before it starts."""

    model_config = SettingsConfigDict(env_prefix="KEEPLINE_", extra="ignore")

    log_format: LogFormat = Field(
        default=LogFormat.TEXT,
        description="text (one readable line per record) or json (one JSON object per line: "
        "at, level, logger, message, plus item_id and event_id where known).",
    )
