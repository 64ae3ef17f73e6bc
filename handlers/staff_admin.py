"""Staff in private chat: joining by invite, duty, and the admin's roster, routing and audit."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.app import QorgauApplication
from handlers.common import Viewer, viewer
from models import ROLES

ROLE_NAMES = {
    "admin": "admin",
    "coordinator": "coordinator",
    "lawyer": "lawyer",
    "psychologist": "psychologist",
}


async def reply(update: Update, text: str, *, html: bool = False) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML if html else None, disable_web_page_preview=True
    )


async def admin_viewer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Viewer | None:
    """The viewer if they are an admin; otherwise they are told no and get None."""
    v = await viewer(update, context)
    user = update.effective_user
    assert user is not None
    if not await v.services.staff.is_admin(user.id):
        await reply(update, v._("Only admins can do this."))
        return None
    return v


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    role = (context.args or [""])[0].lower()
    if role not in ROLES:
        await reply(
            update,
            v._("Usage: /invite ROLE, where ROLE is one of: {roles}").format(
                roles=", ".join(ROLES)
            ),
        )
        return
    assert update.effective_user is not None
    code = await v.services.staff.create_invite(role, update.effective_user.id)
    link = f"https://t.me/{context.bot.username}?start=inv_{code}"
    await reply(
        update,
        v._("One-time link for a new {role}. It works once, for 7 days:\n{link}").format(
            role=role, link=link
        ),
    )


async def join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    assert user is not None
    v = await viewer(update, context)
    code = (context.args or [""])[0].removeprefix("inv_")
    role = await v.services.staff.accept_invite(code, user.id, user.first_name)
    if role is None:
        await reply(
            update, v._("This invitation link is not valid any more. Ask an admin for a new one.")
        )
        return
    await reply(
        update,
        v._(
            "Welcome to the team. Your role: {role}. Send /duty on when you "
            "start a shift and /duty off when you end it."
        ).format(role=role),
    )


async def duty(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    assert user is not None
    v = await viewer(update, context)
    staff = v.services.staff
    if await staff.get(user.id) is None and not await staff.is_admin(user.id):
        await reply(update, v._("Only helpline staff can do this."))
        return
    await staff.touch_name(user.id, user.first_name)
    arg = (context.args or [""])[0].lower()
    if arg in ("on", "off"):
        await staff.set_duty(user.id, arg == "on")
        await reply(
            update,
            v._("You are on duty. New cases will ping you.")
            if arg == "on"
            else v._("You are off duty. Thank you."),
        )
        return
    on_duty = await staff.members(on_duty=True)
    if not on_duty:
        await reply(update, v._("Nobody is on duty now."))
        return
    lines = [v._("On duty now:")] + [f"• {escape(m.name)} ({m.role})" for m in on_duty]
    await reply(update, "\n".join(lines), html=True)


async def roster(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    members = await v.services.staff.members()
    lines = [v._("Staff (id, name, role, duty):")]
    for m in members:
        lines.append(
            f"• <code>{m.telegram_id}</code> {escape(m.name)}: {m.role}"
            + (" ✅" if m.on_duty else "")
        )
    lines.append(v._("Change a role: /role ID ROLE. Remove: /remove ID."))
    await reply(update, "\n".join(lines), html=True)


def _id_arg(context: ContextTypes.DEFAULT_TYPE, index: int = 0) -> int | None:
    try:
        return int((context.args or [])[index])
    except (IndexError, ValueError):
        return None


async def set_role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    target = _id_arg(context)
    role = ((context.args or ["", ""]) + [""])[1].lower()
    assert update.effective_user is not None
    if target is None or not await v.services.staff.set_role(
        target, role, update.effective_user.id
    ):
        await reply(update, v._("Usage: /role ID ROLE (admins from ADMIN_IDS cannot be changed)."))
        return
    await reply(update, v._("Done."))


async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    target = _id_arg(context)
    assert update.effective_user is not None
    if target is None or not await v.services.staff.remove(target, update.effective_user.id):
        await reply(update, v._("Usage: /remove ID (admins from ADMIN_IDS cannot be removed)."))
        return
    await reply(update, v._("Done."))


async def audit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    v = await admin_viewer(update, context)
    if v is None:
        return
    entries = await v.services.staff.audit_log()
    lines = [v._("Last staff actions:")]
    for e in entries:
        lines.append(
            f"{e.at:%Y-%m-%d %H:%M} {e.staff_id} {e.action}"
            + (f" case#{e.case_id}" if e.case_id else "")
            + (f" {escape(e.detail)}" if e.detail else "")
        )
    await reply(update, "\n".join(lines), html=True)


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/route add CHAT_ID kind=legal category=home lang=kk · /route del N · /route"""
    v = await admin_viewer(update, context)
    if v is None:
        return
    assert update.effective_user is not None
    args = context.args or []
    staff = v.services.staff
    if len(args) >= 2 and args[0] == "add":
        fields = dict(a.split("=", 1) for a in args[2:] if "=" in a)
        try:
            chat_id = int(args[1])
        except ValueError:
            chat_id = 0
        if chat_id and set(fields) <= {"kind", "category", "lang"}:
            number = await staff.add_route(
                chat_id,
                update.effective_user.id,
                kind=fields.get("kind"),
                category=fields.get("category"),
                locale=fields.get("lang"),
            )
            await reply(update, v._("Rule {number} added.").format(number=number))
            return
    elif len(args) == 2 and args[0] == "del" and args[1].isdigit():
        await staff.remove_route(int(args[1]), update.effective_user.id)
        await reply(update, v._("Done."))
        return
    rules = await staff.routes()
    lines = [v._("Routing rules (the most specific match wins; otherwise STAFF_CHAT_ID):")]
    lines += [
        f"{r.id}: kind={r.kind or '*'} category={r.category or '*'} "
        f"lang={r.locale or '*'} → {r.chat_id}"
        for r in rules
    ]
    lines.append(
        v._("Add: /route add CHAT_ID kind=legal category=home lang=kk. Remove: /route del N.")
    )
    await reply(update, "\n".join(lines))


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(
        CommandHandler("start", join, filters=private & filters.Regex(r"^/start inv_[\w-]+$"))
    )
    for name, callback in [
        ("invite", invite),
        ("duty", duty),
        ("staff", roster),
        ("role", set_role),
        ("remove", remove),
        ("audit", audit),
        ("route", route),
    ]:
        application.add_handler(CommandHandler(name, callback, filters=private))
