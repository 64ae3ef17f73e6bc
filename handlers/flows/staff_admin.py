"""Staff in private chat: joining by invite, duty, and the admin's roster, routing and audit."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from handlers.access import ADMINS, STAFF, allowed
from handlers.screens.common import Viewer, reply, viewer
from models import ROLES
from models.enums import AuditAction, Role

ROLE_NAMES: dict[str, str] = {
    Role.ADMIN: N_("admin"),
    Role.COORDINATOR: N_("coordinator"),
    Role.LAWYER: N_("lawyer"),
    Role.PSYCHOLOGIST: N_("psychologist"),
}
# What the audit log calls each action (the stored names stay English codes).
ACTIONS: dict[str, str] = {
    AuditAction.EXPORT: N_("export"),
    AuditAction.BROADCAST: N_("broadcast"),
    AuditAction.INVITE: N_("invite"),
    AuditAction.JOINED: N_("joined"),
    AuditAction.DUTY_ON: N_("duty on"),
    AuditAction.DUTY_OFF: N_("duty off"),
    AuditAction.ROLE_CHANGE: N_("role change"),
    AuditAction.REMOVE: N_("remove"),
    AuditAction.ROUTE_ADD: N_("route add"),
    AuditAction.ROUTE_REMOVE: N_("route remove"),
    AuditAction.TAKE: N_("take"),
    AuditAction.RELEASE: N_("release"),
    AuditAction.CLOSE: N_("close"),
    AuditAction.REPLY: N_("reply"),
    AuditAction.REFUSED: N_("refused"),
}


def role_name(v: Viewer, role: str) -> str:
    return v._(ROLE_NAMES.get(role, role))


@allowed(ADMINS)
async def invite(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
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
            role=role_name(v, role), link=link
        ),
    )


async def join(update: Update, context: QorgauContext) -> None:
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
        ).format(role=role_name(v, role)),
    )


@allowed(STAFF)
async def duty(update: Update, context: QorgauContext) -> None:
    user = update.effective_user
    assert user is not None
    v = await viewer(update, context)
    staff = v.services.staff
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
    lines = [v._("On duty now:")] + [
        f"• {escape(m.name)} ({escape(role_name(v, m.role))})" for m in on_duty
    ]
    await reply(update, "\n".join(lines), html=True)


@allowed(ADMINS)
async def roster(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    members = await v.services.staff.members()
    lines = [v._("Staff (id, name, role, duty):")]
    for m in members:
        lines.append(
            f"• <code>{m.telegram_id}</code> {escape(m.name)}: {escape(role_name(v, m.role))}"
            + (" ✅" if m.on_duty else "")
        )
    lines.append(v._("Change a role: /role ID ROLE. Remove: /remove ID."))
    await reply(update, "\n".join(lines), html=True)


def _id_arg(context: QorgauContext, index: int = 0) -> int | None:
    try:
        return int((context.args or [])[index])
    except (IndexError, ValueError):
        return None


@allowed(ADMINS)
async def set_role(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    target = _id_arg(context)
    role = ((context.args or ["", ""]) + [""])[1].lower()
    assert update.effective_user is not None
    if target is None or not await v.services.staff.set_role(
        target, role, update.effective_user.id
    ):
        await reply(update, v._("Usage: /role ID ROLE (admins from ADMIN_IDS cannot be changed)."))
        return
    await reply(update, v._("Done."))


@allowed(ADMINS)
async def audit(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    entries = await v.services.staff.audit_log()
    lines = [v._("Last staff actions:")]
    for e in entries:
        lines.append(
            f"{e.at:%Y-%m-%d %H:%M} {e.staff_id} {escape(v._(ACTIONS.get(e.action, e.action)))}"
            + (f" #{e.case_id}" if e.case_id else "")
            + (f" {escape(e.detail)}" if e.detail else "")
        )
    await reply(update, "\n".join(lines), html=True)


@allowed(ADMINS)
async def route(update: Update, context: QorgauContext) -> None:
    """/route add CHAT_ID kind=legal category=home lang=kk · /route del N · /route"""
    v = await viewer(update, context)
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
        ("audit", audit),
        ("route", route),
    ]:
        application.add_handler(CommandHandler(name, callback, filters=private))
