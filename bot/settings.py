"""Settings from the environment and `.env` (names: docs/operations.md)."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Locale = Literal["kk", "ru", "en"]
LOCALES: tuple[Locale, ...] = ("kk", "ru", "en")


KEY_RECIPE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
MIN_KEY_LENGTH = 32
MIN_KEY_BITS = 96  # counted from the key's own characters: 32 random hex digits give ~108


def weakness(key: str) -> str | None:
    """Why a secret key is weak, or None. No library judges a key typed by hand; these are
    the usual checks: length, entropy of its characters, repetitions and runs."""
    if len(key) < MIN_KEY_LENGTH:
        return f"shorter than {MIN_KEY_LENGTH} characters"
    pieces = Counter(key[i : i + 4] for i in range(len(key) - 3))
    if pieces.most_common(1)[0][1] >= 3:  # "passwordpassword…", "abcabcabc…", "aaaa…"
        return "repeated characters"
    # Neighbours equal or next to each other ("aaab", "abcd", "4321"): a random key has few.
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in pairwise(key))
    if steps > len(key) // 2:
        return "a sequence of characters"
    counts = Counter(key)
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if bits < MIN_KEY_BITS:
        return "low entropy"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr = Field(min_length=1)
    telegram_api_url: str = "https://api.telegram.org/bot"
    database_url: str = "sqlite+aiosqlite:///helpline.db"
    secret_key: SecretStr
    # Keys SECRET_KEY had before, newest first: they still decrypt and find what they keyed
    # until `python -m bot.rotate_keys` has moved everything to SECRET_KEY.
    secret_keys_old: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int
    default_locale: Locale = "ru"
    # Telegram's cloud API takes about 30 messages per second in bulk; a local Bot API server
    # may take more, so there is no upper bound here.
    broadcast_rate: float = Field(default=25, gt=0)
    # Scheduled campaigns: times are entered and shown in this zone; nothing goes out in the
    # quiet hours ("22-8": from 22:00 to 08:00 there) unless the admin confirms it.
    broadcast_timezone: str = "Asia/Almaty"
    quiet_hours: str = "22-8"
    escalate_after_minutes: int = Field(default=15, gt=0)
    # Sooner for cases staff assessed as high or imminent risk (an urgent case not yet
    # assessed counts as high); neither may be longer than the one before it.
    escalate_high_risk_minutes: int = Field(default=5, gt=0)
    escalate_imminent_risk_minutes: int = Field(default=2, gt=0)
    # Open cases a lawyer or psychologist may hold at once (coordinators and admins are not
    # limited); 0: no limit.
    max_open_cases_per_volunteer: int = Field(default=5, ge=0)
    retention_days: int = Field(default=90, gt=0)
    # Days after closing during which a person who writes again may reopen their case.
    reopen_days: int = Field(default=14, gt=0)
    # Directory entries checked longer ago than this are listed to admins every week.
    directory_max_age_days: int = Field(default=365, gt=0)
    # Days after a person agreed to a referral before the owner and the person are asked.
    referral_follow_up_days: int = Field(default=7, gt=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8443, gt=0, lt=65536)
    # Polling mode: serve /healthz on this port (off when unset; webhook mode uses PORT).
    health_port: int | None = Field(default=None, gt=0, lt=65536)

    @field_validator("admin_ids", "secret_keys_old", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        reason = weakness(value.get_secret_value())
        if reason is not None:
            raise ValueError(f"SECRET_KEY is too weak ({reason}): generate one with {KEY_RECIPE}")
        return value

    @field_validator("broadcast_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Almaty)") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value.strip() and not re.fullmatch(
            r"\s*([01]?\d|2[0-3])\s*-\s*([01]?\d|2[0-3])\s*", value
        ):
            raise ValueError('use "from-to" in whole hours, e.g. "22-8", or leave it empty')
        return value

    @property
    def quiet(self) -> tuple[int, int] | None:
        """The quiet hours as (from, to), or None if there are none."""
        if not self.quiet_hours.strip():
            return None
        start, end = (int(part) for part in self.quiet_hours.split("-"))
        return (start, end) if start != end else None

    @field_validator("webhook_url", "webhook_secret", "health_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url", "telegram_api_url", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object, info: ValidationInfo) -> object:
        # `DATABASE_URL=` in a .env (as .env.example ships it) means "the default".
        return cls.model_fields[str(info.field_name)].default if value == "" else value

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("use the form https://api.telegram.org/bot")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError(
                    "Telegram calls only https:// addresses, e.g. https://help.example.org/telegram"
                )
        return value

    @model_validator(mode="after")
    def _sooner_for_higher_risk(self) -> Settings:
        if self.escalate_high_risk_minutes > self.escalate_after_minutes:
            raise ValueError(
                "ESCALATE_HIGH_RISK_MINUTES is longer than ESCALATE_AFTER_MINUTES: "
                "high-risk cases must be posted again sooner, not later"
            )
        if self.escalate_imminent_risk_minutes > self.escalate_high_risk_minutes:
            raise ValueError(
                "ESCALATE_IMMINENT_RISK_MINUTES is longer than ESCALATE_HIGH_RISK_MINUTES: "
                "imminent-risk cases must be posted again soonest"
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is missing: it is required with WEBHOOK_URL")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("WEBHOOK_SECRET is malformed: use 1-256 of A-Z a-z 0-9 _ -")
        return self


class DatabaseSetting(BaseSettings):
    """DATABASE_URL alone, read the way Settings reads it: for `alembic`, which needs no
    token or key."""

    model_config = Settings.model_config
    database_url: str = Settings.model_fields["database_url"].default

    _empty_is_default = field_validator("database_url", mode="before")(
        lambda value: Settings.model_fields["database_url"].default if value == "" else value
    )


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
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            lines.append(f"{name} is missing")
        elif message.startswith(name + " "):  # our own line, naming the setting already
            lines.append(message)
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{name} is malformed: {message}")
    return lines


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise ConfigError naming every bad setting (never a stack trace)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None
