"""`python -m bot` in a process of its own, as an operator starts it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.botapi import BotApi


class Output:
    stderr = ""


@asynccontextmanager
async def polling_bot(
    python: str, botapi: BotApi, cwd: Path, env: dict[str, str]
) -> AsyncIterator[Output]:
    """The bot running (polling the stand-in) for the block; then SIGTERM, which must stop
    it cleanly (exit 0, no traceback). Its stderr is in the yielded Output afterwards."""
    process = await asyncio.create_subprocess_exec(
        python, "-m", "bot", cwd=cwd, env=env, stderr=subprocess.PIPE
    )
    output = Output()
    try:
        await botapi.wait_for(lambda c: c.method == "deleteWebhook", timeout=30)
        yield output
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
    assert process.stderr is not None
    output.stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in output.stderr
