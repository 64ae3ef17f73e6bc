"""Settings from the environment and `.env` (names are part of the interface, see SPEC.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Locale = Literal["kk", "ru", "en"]
LOCALES: tuple[Locale, ...] = ("kk", "ru", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr = Field(min_length=1)
    telegram_api_url: str = "https://api.telegram.org/bot"
    database_url: str = "sqlite+aiosqlite:///helpline.db"
    secret_key: SecretStr = Field(min_length=16)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int
    default_locale: Locale = "ru"
    # Telegram's cloud API takes about 30 messages per second in bulk; a local Bot API server
    # may take more, so there is no upper bound here.
    broadcast_rate: float = Field(default=25, gt=0)
    escalate_after_minutes: int = Field(default=15, gt=0)
    retention_days: int = Field(default=90, gt=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8443, gt=0, lt=65536)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is missing: it is required with WEBHOOK_URL")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("WEBHOOK_SECRET is malformed: use 1-256 of A-Z a-z 0-9 _ -")
        return self


class ConfigError(Exception):
    """Settings are missing or malformed; `lines` has one human line per setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def describe_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        if not item["loc"]:  # a check across settings: its message names them
            lines.append(str(item["msg"]).removeprefix("Value error, "))
            continue
        name = str(item["loc"][0]).upper()
        if item["type"] == "missing":
            lines.append(f"{name} is missing")
        else:
            lines.append(f"{name} is malformed: {item['msg']}")
    return lines


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise ConfigError naming every bad setting (never a stack trace)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None
