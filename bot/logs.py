"""Logging setup. No personal data in logs (docs/safety.md, rule 11): ids as pseudonyms, no text."""

from __future__ import annotations

import logging


class WithholdTelegramData(logging.Filter):
    """python-telegram-bot logs the raw update when it cannot parse it ("Received data
    was …"): that would put people's messages in the log. Keep the event, drop the data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram") and (
            "Received data" in str(record.msg) or record.args
        ):
            error = record.exc_info[1] if record.exc_info else None
            record.msg = "%s (details withheld: they may contain personal data)"
            record.args = (type(error).__name__ if error else "telegram event",)
            record.exc_info = None
            record.exc_text = None
        return True


class RedactSecrets(logging.Filter):
    """The bot token is in every Bot API URL, and a library's error or traceback may quote
    the URL (aiohttp, httpx, PTB's InvalidToken). Whatever a record says, the token is
    replaced before it is written."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<BOT_TOKEN>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._clean(message), ()
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def setup_logging(level: int = logging.INFO, secrets: list[str] | None = None) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # "Adding job tentatively" for every job at each start: noise before the first line that
    # matters (a setting that cannot work is one line).
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    withhold, redact = WithholdTelegramData(), RedactSecrets(secrets or [])
    for handler in logging.getLogger().handlers:
        handler.addFilter(withhold)
        handler.addFilter(redact)
