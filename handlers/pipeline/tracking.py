"""Remember the ids of the person's own messages, for "Exit and clear chat". Written with
the update: if the bot dies first, the update comes again and is remembered then. A person
who left in a hurry and writes again gets what waited for them (quietly); one who asked for
answers only after they write first gets them now."""

from __future__ import annotations

from telegram import Update
from telegram.ext import TypeHandler

from bot.app import QorgauApplication, QorgauContext


async def remember_incoming(update: Update, context: QorgauContext) -> None:
    message, user = update.message, update.effective_user
    if message is None or user is None or message.chat.type != "private":
        return
    services = context.services
    context.limiter.speaks_again(message.chat.id)
    pseudonym = services.identity.pseudonym(user.id)
    context.app.end_waits_with_update(
        services.outbox.released(pseudonym),
        services.outbox.wrote(pseudonym),  # answers waiting for them to write first may go
    )
    # Last: the id of the bot's answer, kept next, goes in the same statement.
    context.app.write_with_update(services.chat_log.remembered(pseudonym, [message.message_id]))


def register(application: QorgauApplication) -> None:
    application.add_handler(TypeHandler(Update, remember_incoming), group=-1)
