"""/help for everyone by role, the command menus (setMyCommands per language and scope, at
start), and a short answer to a command the bot does not know."""

from __future__ import annotations

import logging
from functools import partial

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from bot.services.staff import Member
from bot.settings import LOCALES
from bot.telegram_http import again_on_hiccup
from handlers.screens.common import keyboard, numbers_text, reply, show, viewer

log = logging.getLogger("qorgau.help")

Commands = list[tuple[str, str]]
PERSON: Commands = [
    ("start", N_("Menu and emergency numbers")),
    ("help", N_("What this bot can do")),
    ("mycases", N_("My requests")),
    ("language", N_("Language")),
    ("rights", N_("Know your rights")),
    ("subscribe", N_("Awareness messages")),
    ("about", N_("About and privacy")),
    ("forget", N_("Forget me")),
]
STAFF: Commands = [
    ("duty", N_("Start or end your duty; who is on duty")),
    ("mine", N_("My open cases")),
    ("case", N_("A case's history: /case CODE")),
    ("queue", N_("Open cases by risk and waiting time")),
    ("answers", N_("The ready answers")),
]
COORDINATOR: Commands = [
    ("stats", N_("Statistics")),
    ("export", N_("Export cases to a file")),
    ("answer_add", N_("Add a ready answer")),
    ("answer_edit", N_("Change a ready answer")),
    ("answer_remove", N_("Remove a ready answer")),
]
ADMIN: Commands = [
    ("invite", N_("Invite a volunteer")),
    ("staff", N_("The staff list")),
    ("role", N_("Change a volunteer's role")),
    ("remove", N_("Remove a volunteer")),
    ("audit", N_("What staff did lately")),
    ("route", N_("Which chat gets which cases")),
    ("broadcast", N_("Send an awareness message")),
    ("setup", N_("Your Telegram id and set-up checks")),
]
STAFF_GROUP: Commands = [
    ("help", N_("How to answer cases")),
    ("note", N_("A note about a case, never sent to the person")),
    ("case", N_("A case's history: /case CODE")),
    ("mine", N_("My open cases")),
    ("queue", N_("Open cases by risk and waiting time")),
    ("answers", N_("The ready answers")),
    ("setup", N_("This chat's id and the bot's rights here")),
]

PERSON_HELP = N_(
    "What this bot can do:\n"
    "• Report an incident: tell us what happened. You do not have to give your name.\n"
    "• Legal help, Psychological help: ask a lawyer or a psychologist.\n"
    "• My requests (/mycases): your requests and our answers.\n"
    "• Know your rights (/rights), Language (/language), Awareness messages (/subscribe).\n\n"
    "To leave quickly, press «Exit and clear chat» on any screen: our messages in this chat "
    "are deleted. /forget erases every link between you and your requests.\n\n"
    "/start opens the menu."
)
STAFF_HELP = N_(
    "For helpline staff:\n"
    "/duty on, /duty off: start and end your duty (on-duty staff are called for new cases); "
    "/duty: who is on duty.\n\n"
    "A new case comes to the staff chat as a card. Press Take, then answer: only a reply to "
    "the card, to a message of the person or to an earlier answer reaches the person, who "
    "sees «Helpline», never your name. Anything else you write in a case's topic, and a "
    "reply that starts with /note, is a note: kept in the case's history, never sent. The bot "
    "marks your message: 👍 delivered to the person, ✍ kept as a note.\n\n"
    "Release asks for a short handover note for the next volunteer. Close asks for the "
    "outcome; a closed case can be reopened (Reopen, or /reopen CODE).\n"
    "/mine: your open cases. /case CODE: a case's history."
)
COORDINATOR_HELP = N_("/stats [days]: statistics. /export [days]: the cases as a file.")
# Issue 16: ready answers, risk and the queue.
CASEWORK_HELP = N_(
    "Under a card, «Ready answer» sends a text of the library in the person's language, "
    "and «Risk level» sets the case's risk: high and imminent cases nobody takes are posted "
    "again sooner. /queue: open cases, highest risk first, then the longest waiting. "
    "/answers: the library."
)
LIBRARY_HELP = N_(
    "/answer_add, /answer_edit, /answer_remove: keep the library of ready answers "
    "(each in Kazakh, Russian and English; send the command alone to see how)."
)
ADMIN_HELP = N_(
    "For admins:\n"
    "/invite ROLE: a one-time link for a new admin, coordinator, lawyer or psychologist.\n"
    "/staff: the staff list. /role ID ROLE, /remove ID: change or remove a volunteer.\n"
    "/audit: what staff did lately. /route: which chat gets which cases.\n"
    "/broadcast: an awareness message to subscribers. /export [days] text: with free text.\n"
    "/setup: your id here; in a group, the group's id and the bot's rights there."
)
UNKNOWN = N_("I do not know this command. /help says what I can do; /start opens the menu.")


def commands_for(member: Member | None, is_admin: bool) -> Commands:
    """The private-chat menu of a person, a volunteer, a coordinator or an admin."""
    if member is None and not is_admin:
        return PERSON
    coordinator = is_admin or (member is not None and member.role == "coordinator")
    return PERSON + STAFF + (COORDINATOR if coordinator else []) + (ADMIN if is_admin else [])


async def help_command(update: Update, context: QorgauContext) -> None:
    v, user, chat = await viewer(update, context), update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    member = await v.services.staff.get(user.id)
    is_admin = await v.services.staff.is_admin(user.id)
    parts = [] if chat.type != "private" else [numbers_text(v), v._(PERSON_HELP)]
    if member is not None or is_admin:
        parts += [v._(STAFF_HELP), v._(CASEWORK_HELP)]
        if is_admin or (member is not None and member.role == "coordinator"):
            parts += [v._(COORDINATOR_HELP), v._(LIBRARY_HELP)]
        if is_admin:
            parts.append(v._(ADMIN_HELP))
    if chat.type != "private":
        await reply(update, "\n\n".join(parts) or v._("Only helpline staff can do this."))
        return
    await show(update, context, v, "\n\n".join(parts), keyboard(v))


async def unknown_command(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    await show(update, context, v, v._(UNKNOWN), keyboard(v))


async def set_menus(application: QorgauApplication) -> None:
    """The command menus, per language (and Telegram's fallback, without one), for private
    chats, each staff chat and each staff member's private chat. A chat Telegram refuses
    (a volunteer who never opened the bot) is logged and skipped."""
    services = application.services
    scopes: list[tuple[BotCommandScope, Commands]] = [(BotCommandScopeAllPrivateChats(), PERSON)]
    for chat_id in sorted(await services.staff.staff_chats(services.settings.staff_chat_id)):
        scopes.append((BotCommandScopeChat(chat_id), STAFF_GROUP))
    for member in await services.staff.members():
        is_admin = await services.staff.is_admin(member.telegram_id)
        scopes.append((BotCommandScopeChat(member.telegram_id), commands_for(member, is_admin)))
    refused = 0
    for language in [*LOCALES, None]:
        t = services.catalogues[language or services.settings.default_locale]
        for scope, commands in scopes:
            menu = [BotCommand(name, t.gettext(text)) for name, text in commands]
            try:
                await again_on_hiccup(
                    partial(application.bot.set_my_commands, menu, scope, language),
                    attempts=3,
                )
            except TelegramError:
                refused += 1
    if refused:
        log.warning("command menus: Telegram refused %s of %s", refused, len(scopes) * 4)


def register(application: QorgauApplication) -> None:
    """Register last: the answer to an unknown command takes any private command that no
    handler registered before it took."""
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, unknown_command)
    )
    application.workers.append(set_menus)
