"""Set-up help for an NGO admin: `/setup` in a group (and the bot's word when it is added to
one or its rights change) gives the chat's id and says which of the bot's rights are
missing; `/setup` in a private chat gives the person's own id for ADMIN_IDS. Both warn
when ADMIN_IDS is empty."""

from __future__ import annotations

import logging

from telegram import Chat, ChatMember, ChatMemberAdministrator, Update
from telegram.error import TelegramError
from telegram.ext import ChatMemberHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from bot.services.chat_rights import (
    NOT_A_SUPERGROUP,
    NOT_AN_ADMIN,
    TOPIC_RIGHT,
    ChatStanding,
    missing,
)
from handlers.screens.common import Viewer, viewer

log = logging.getLogger("qorgau.setup")

# The names Telegram's own screen uses (group settings → Administrators → the bot).
RIGHT_NAMES = {
    NOT_A_SUPERGROUP: N_(
        "The group is not a supergroup yet. Turn on Topics, or set Chat history for new "
        "members to Visible, and Telegram makes it one. Its id then changes: send /setup again."
    ),
    NOT_AN_ADMIN: N_(
        "The bot is not an administrator. Open the group's settings, Administrators, "
        "Add Admin, and choose the bot."
    ),
    "can_delete_messages": N_("Delete messages"),
    "can_pin_messages": N_("Pin messages"),
    "can_restrict_members": N_("Ban users"),
    TOPIC_RIGHT: N_("Manage topics"),
}
NO_ADMINS = N_(
    "ADMIN_IDS is empty, so nobody can invite staff. Send /setup to the bot in a private "
    "chat to see your id, put it in ADMIN_IDS and restart the bot."
)


async def _may_see(update: Update, context: QorgauContext, v: Viewer) -> bool:
    """An admin of the bot or of this group: the id and rights are not for every member."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    if await v.services.staff.is_admin(user.id):
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


def _rights_lines(v: Viewer, lacking: list[str]) -> list[str]:
    if not lacking:
        return [v._("The bot has every right it needs here.")]
    first = (NOT_A_SUPERGROUP, NOT_AN_ADMIN)
    lines = [f"⚠ {v._(RIGHT_NAMES[key])}" for key in lacking if key in first]
    rights = [v._(RIGHT_NAMES[key]) for key in lacking if key not in first]
    if rights:
        lines.append(v._("Turn on these rights for the bot (Administrators, the bot):"))
        lines += [f"⚠ {name}" for name in rights]
    return lines


async def group_report(chat: Chat, context: QorgauContext, v: Viewer) -> str:
    """The chat's id, whether it is a staff chat, and what the bot lacks in it."""
    services = v.services
    member = await context.bot.get_chat_member(chat.id, context.bot.id)
    full = await context.bot.get_chat(chat.id)
    rights = member.to_dict() if isinstance(member, ChatMemberAdministrator) else {}
    standing = ChatStanding(full.type, bool(full.is_forum), member.status, rights)
    topics = v._("Topics are on: each case gets a topic of its own.")
    if not full.is_forum:
        topics = v._("Topics are off: cases come as cards in the chat.")
    lines = [v._("This chat's id: {id}").format(id=chat.id), topics]
    staff_chats = await services.staff.staff_chats(services.settings.staff_chat_id)
    if chat.id not in staff_chats:
        lines.append(
            v._("This is not a staff chat yet: put STAFF_CHAT_ID={id} in .env and restart.").format(
                id=chat.id
            )
        )
    lines += _rights_lines(v, missing(standing))
    if not services.settings.admin_ids:
        lines.append(f"⚠ {v._(NO_ADMINS)}")
    return "\n".join(lines)


async def setup_in_group(update: Update, context: QorgauContext) -> None:
    v, chat, message = await viewer(update, context), update.effective_chat, update.message
    assert chat is not None and message is not None
    if not await _may_see(update, context, v):
        await message.reply_text(v._("Only the group's administrators can do this."))
        return
    await message.reply_text(await group_report(chat, context, v))


async def setup_in_private(update: Update, context: QorgauContext) -> None:
    v, user, message = await viewer(update, context), update.effective_user, update.message
    assert user is not None and message is not None
    lines = [
        v._("Your Telegram id: {id}").format(id=user.id),
        v._(
            "An NGO admin puts it in ADMIN_IDS. In the staff group, send /setup to see the "
            "group's id and what the bot still needs there."
        ),
    ]
    if not v.services.settings.admin_ids:
        lines.append(f"⚠ {v._(NO_ADMINS)}")
    await message.reply_text("\n".join(lines))


async def added_to_group(update: Update, context: QorgauContext) -> None:
    """The bot was added to a group or its rights there changed: say what is missing."""
    change, chat = update.my_chat_member, update.effective_chat
    assert change is not None and chat is not None
    if chat.type not in (Chat.GROUP, Chat.SUPERGROUP):
        return  # a person blocking or unblocking the bot
    if change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED):
        return
    v = await viewer(update, context)
    try:
        await context.bot.send_message(chat.id, await group_report(chat, context, v))
    except TelegramError as error:  # e.g. the bot may not write there
        log.warning("set-up report not sent (%s)", type(error).__name__)


def register(application: QorgauApplication) -> None:
    groups = filters.ChatType.GROUPS
    application.add_handler(CommandHandler("setup", setup_in_group, filters=groups))
    application.add_handler(
        CommandHandler("setup", setup_in_private, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(
        ChatMemberHandler(added_to_group, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=None)
    )
