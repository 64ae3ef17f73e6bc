"""Logging setup. No personal data in logs (SPEC safety rule 11): ids as pseudonyms, no text."""

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


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    withhold = WithholdTelegramData()
    for handler in logging.getLogger().handlers:
        handler.addFilter(withhold)
