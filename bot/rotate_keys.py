"""`python -m bot.rotate_keys`: move everything stored to the newest SECRET_KEY.

Run it after setting SECRET_KEY to a new key and the old one in SECRET_KEYS_OLD (the bot may
keep running meanwhile). Keep SECRET_KEYS_OLD afterwards for as long as open cases may belong
to people who have not written since: their pseudonym moves when they next write.
"""

from __future__ import annotations

import asyncio
import sys

from bot.settings import ConfigError, load_settings


async def rotate() -> str:
    from bot.db import make_engine, migrate, startup_lock
    from bot.services.identity import Identity
    from bot.services.keys import Keys

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        async with startup_lock(engine):
            await migrate(engine)
        done = await Keys(engine, Identity.of(settings)).rotate()
    finally:
        await engine.dispose()
    lines = [
        f"Encrypted values moved to the newest SECRET_KEY: {done.values}.",
        f"People whose rows now carry their new pseudonym: {done.people}.",
        f"Flows in progress moved or dropped: {done.flows}.",
    ]
    if done.unreadable:
        lines.append(
            f"Values no key in SECRET_KEY or SECRET_KEYS_OLD can read: {done.unreadable} "
            "(left as they are; add the key they were made with to SECRET_KEYS_OLD and run "
            "this again)."
        )
    return "\n".join(lines)


def main() -> int:
    try:
        print(asyncio.run(rotate()))
    except ConfigError as error:
        for line in error.lines:
            print(f"Setting {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
