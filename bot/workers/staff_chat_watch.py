"""Misconfiguration is loud: a staff chat the bot cannot post in (it is not a member, or may
not open topics in a forum) is found at start, whenever Telegram refuses a message there, and
as soon as the bot is removed from a group or its rights there change (Telegram tells the bot:
my_chat_member). Every admin is told in a private message, naming the chat and the fix;
/healthz turns unhealthy; the reports wait in the outbox and go as soon as the chat works
again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telegram import (
    Chat,
    ChatFullInfo,
    ChatMember,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberRestricted,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ChatMemberHandler

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from bot.telegram_http import chat_refuses

log = logging.getLogger("qorgau.staff_chats")
# Seconds between looks at the staff chats while one of them has a problem (a fix is noticed
# this fast), and while all work: a new problem then shows at once anyway (a refused message,
# Telegram's word that the bot's membership changed), this look is only the safety net.
CHECK_EVERY = 60.0
HEALTHY_CHECK_EVERY = 300.0
WATCH_GROUP = 3  # the handler group of membership_changed (after every flow's)

PROBLEMS = {
    "not_member": N_(
        "⚠️ The bot cannot write in the staff chat {chat}: it is not a member there, or may "
        "not post. Reports for that chat wait and are not lost. Fix: add the bot to that chat "
        "as an administrator, or correct STAFF_CHAT_ID or the routing rule. The reports go "
        "as soon as it works."
    ),
    "topics": N_(
        "⚠️ The staff chat {chat} has topics, but the bot may not create them. Reports for "
        "that chat wait and are not lost. Fix: make the bot an administrator there with the "
        "right to manage topics. The reports go as soon as it works."
    ),
}


def problem_in(error: Exception) -> str | None:
    """The staff chat's problem that a refusal shows, if it is one."""
    if not chat_refuses(error):
        return None
    return "topics" if "topic" in str(error).lower() else "not_member"


def may_post(chat: ChatFullInfo, member: ChatMember) -> bool:
    """Whether the bot may post in the chat: a member that an admin restricted, or a plain
    member where members may not write, may not (its messages are refused; seen as fine,
    the watch cleared the problem each round, and the admins heard of it again)."""
    if isinstance(member, ChatMemberLeft | ChatMemberBanned):
        return False
    if isinstance(member, ChatMemberRestricted):
        return member.can_send_messages
    if isinstance(member, ChatMemberMember):
        return chat.permissions is None or chat.permissions.can_send_messages is not False
    return True  # the owner or an administrator


class StaffChatWatch:
    def __init__(self, application: QorgauApplication) -> None:
        self.app = application
        self.services = application.services
        self.problems: dict[int, str] = {}  # chat -> what is wrong (for /healthz)
        self._told: set[tuple[int, str]] = set()
        self.wake = asyncio.Event()  # look now: the bot's membership in a group changed

    async def run(self) -> None:
        """Looks at start, when woken, and then every CHECK_EVERY while a chat has a problem
        (one a refused message just reported included), HEALTHY_CHECK_EVERY while all work.
        A refusal does not wake it: a refusal `_problem_of` cannot explain (it sees
        membership, the right to post and the right to open topics) would look fine, and a
        look at once would clear the problem, send the waiting reports again and be refused
        again, round and round."""
        looked = -HEALTHY_CHECK_EVERY
        while True:
            every = CHECK_EVERY if self.problems else HEALTHY_CHECK_EVERY
            if self.wake.is_set() or time.monotonic() - looked >= every:
                self.wake.clear()
                looked = time.monotonic()
                try:
                    await self.check_all()
                except Exception as error:  # the database may be away: next round
                    log.warning("staff chat watch failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), CHECK_EVERY)

    async def check_all(self) -> None:
        settings = self.services.settings
        for chat in sorted(await self.services.staff.staff_chats(settings.staff_chat_id)):
            problem = await self._problem_of(chat)
            if problem is None:
                await self.works(chat)
            else:
                await self.refused(chat, problem)

    async def _problem_of(self, chat: int) -> str | None:
        bot = self.app.bot
        try:
            found = await bot.get_chat(chat)
            member = await bot.get_chat_member(chat, bot.id)
        except TelegramError as error:
            return problem_in(error)  # None for a hiccup: looked at again next round
        if not may_post(found, member):
            return "not_member"
        if found.is_forum and not getattr(member, "can_manage_topics", False):
            return "topics"
        return None

    async def refused(self, chat: int, problem: str) -> None:
        """The chat does not take the bot's messages: every admin hears of it once."""
        self.problems[chat] = problem
        if (chat, problem) in self._told:
            return
        self._told.add((chat, problem))
        log.error("staff chat %s: %s", chat, problem)
        t = self.services.catalogues[self.services.settings.default_locale]
        text = t.gettext(PROBLEMS[problem]).format(chat=chat)
        for admin in self.services.settings.admin_ids:
            with contextlib.suppress(TelegramError):  # an admin who never opened the bot
                await self.app.bot.send_message(admin, text)

    async def works(self, chat: int) -> None:
        if self.problems.pop(chat, None) is None:
            return
        self._told = {told for told in self._told if told[0] != chat}
        log.info("staff chat %s works again", chat)
        await self.services.outbox.due_now()  # what waited goes now
        self.services.outbox.poke()


async def run_watch(application: QorgauApplication) -> None:
    await watch_of(application).run()


def watch_of(application: QorgauApplication) -> StaffChatWatch:
    watch = application.bot_data.get("staff_chat_watch")
    if not isinstance(watch, StaffChatWatch):
        watch = application.bot_data["staff_chat_watch"] = StaffChatWatch(application)
    return watch


async def membership_changed(update: Update, context: QorgauContext) -> None:
    """The bot was removed from a group, added, or its rights there changed: the staff chats
    are looked at now, not at the next round. (In a private chat: a person blocked or
    unblocked the bot, nothing to do with staff chats.)"""
    chat = update.effective_chat
    if chat is not None and chat.type in (Chat.GROUP, Chat.SUPERGROUP):
        watch_of(context.app).wake.set()


def register(application: QorgauApplication) -> None:
    application.workers.append(run_watch)
    # A group of its own: the set-up report (handlers/flows/setup.py) answers the same update.
    application.add_handler(
        ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=None),
        group=WATCH_GROUP,
    )
