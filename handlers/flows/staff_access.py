"""Staff access in the admin's private chat: /remove takes a volunteer out of every staff
chat the bot manages (not only off the roster), /invites lists the unused invites and
/revoke (or a button) stops one.

A removed volunteer stays banned from the staff chats, so an old group link cannot bring
them back; opening a new staff invite from /invite lifts the ban (`lift_bans`, run after
flows/staff_admin.py's `join` in a later handler group: flows do not import each other).
"""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from handlers import callbacks
from handlers.access import ADMINS, allowed
from handlers.screens.common import Viewer, button, keyboard, reply, viewer
from models.enums import AuditAction

# What Telegram answers when the bot cannot ban someone, and what the admin is told.
NOT_ADMIN = N_("not banned: the bot is not an admin there with the right to ban members")
THEIR_ADMIN = N_("not banned: they are an admin of that chat, only its owner can remove them")
NO_CHAT = N_("not banned: the bot is not in that chat")
CANNOT = {
    "not enough rights": NOT_ADMIN,
    "chat_admin_required": NOT_ADMIN,
    "administrator": THEIR_ADMIN,
    "owner": THEIR_ADMIN,
    "chat not found": NO_CHAT,
    "not a member": NO_CHAT,
    "kicked": NO_CHAT,
}


def why_not(error: TelegramError) -> str:
    message = error.message.lower()
    return next((why for part, why in CANNOT.items() if part in message), error.message)


async def ban_everywhere(
    context: QorgauContext, target: int, by: int
) -> list[tuple[int, str | None]]:
    """Ban `target` from every staff chat (STAFF_CHAT_ID and the routing rules' chats);
    each chat with None when done, or why not. Each result goes to the audit log."""
    services = context.services
    results: list[tuple[int, str | None]] = []
    for chat_id in sorted(await services.staff.staff_chats(services.settings.staff_chat_id)):
        try:
            await context.bot.ban_chat_member(chat_id, target)
            results.append((chat_id, None))
        except TelegramError as error:
            results.append((chat_id, why_not(error)))
        outcome = results[-1][1]
        await services.staff.record_ban(by, target, chat_id, outcome or "banned")
    return results


@allowed(ADMINS)
async def remove(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    assert update.effective_user is not None
    try:
        target: int | None = int((context.args or [""])[0])
    except ValueError:
        target = None
    removal = await v.services.staff.remove(target, update.effective_user.id) if target else None
    if target is None or removal is None:
        await reply(update, v._("Usage: /remove ID (admins from ADMIN_IDS cannot be removed)."))
        return
    bans = await ban_everywhere(context, target, update.effective_user.id)
    lines = [
        v._("{id} is off the staff roster.").format(id=target)
        if removal.was_staff
        else v._("{id} was not on the staff roster.").format(id=target)
    ]
    lines.append(v._("Staff chats:"))
    lines += [f"• {chat}: " + (v._(why) if why else v._("banned")) for chat, why in bans]
    if any(why for _, why in bans):
        lines.append(
            v._("Where they are not banned, they still read every card: remove them there by hand.")
        )
    revoked = removal.invites_revoked
    lines.append(v._("Unused invites they made, now revoked: {count}.").format(count=revoked))
    lines.append(v._("They stay banned; a new invite from /invite lets them back in."))
    await reply(update, "\n".join(lines))


async def lift_bans(update: Update, context: QorgauContext) -> None:
    """Someone opened a staff invite (flows/staff_admin.py `join` ran first): if they are
    staff now, the bans an earlier /remove put on them no longer keep them out of the staff
    chats. A ban that cannot be lifted is audited."""
    user = update.effective_user
    staff = context.services.staff
    if user is None or await staff.get(user.id) is None:
        return
    for chat_id in sorted(await staff.banned_from(user.id)):
        try:
            await context.bot.unban_chat_member(chat_id, user.id, only_if_banned=True)
            outcome = "lifted"
        except TelegramError as error:
            outcome = "not lifted: " + why_not(error)
        await staff.record_ban(user.id, user.id, chat_id, outcome, action=AuditAction.UNBAN)


def invites_screen(v: Viewer, invites: list[tuple[str, str, int, str]]) -> str:
    if not invites:
        return v._("No unused invites.")
    lines = [v._("Unused invites (code, role, made by, made on):")]
    lines += [f"• <code>{escape(c)}</code> {role} {by} {day}" for c, role, by, day in invites]
    lines.append(v._("Revoke one: /revoke CODE, or the buttons below."))
    return "\n".join(lines)


@allowed(ADMINS)
async def show_invites(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    invites = [
        (i.code, i.role, i.created_by, f"{i.created_at:%Y-%m-%d}")
        for i in await v.services.staff.unused_invites()
    ]
    rows = [
        [button(v._("Revoke {code}").format(code=c[:6] + "…"), callbacks.revoke_invite(c))]
        for c, *_ in invites
    ]
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        invites_screen(v, invites), reply_markup=keyboard(v, rows)
    )


@allowed(ADMINS)
async def revoke(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    assert update.effective_user is not None
    query = update.callback_query
    if query is not None:
        await query.answer()
        code = callbacks.parse_revoke_invite(query.data or "")
    else:
        code = (context.args or [""])[0].removeprefix("inv_")
    if code and await v.services.staff.revoke_invite(code, update.effective_user.id):
        await reply(update, v._("Revoked: that link no longer works."))
    else:
        await reply(update, v._("No unused invite with that code. See /invites."))


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("remove", remove, filters=private))
    application.add_handler(CommandHandler("invites", show_invites, filters=private))
    application.add_handler(CommandHandler("revoke", revoke, filters=private))
    application.add_handler(CallbackQueryHandler(revoke, pattern=callbacks.REVOKE_INVITE_PATTERN))
    # After flows/staff_admin.py's /start inv_… (group 0) has made them staff.
    application.add_handler(
        CommandHandler("start", lift_bans, filters=private & filters.Regex(r"^/start inv_[\w-]+$")),
        group=1,
    )
