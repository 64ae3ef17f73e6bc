"""The person's flows: report an incident, legal help, psychological help (SPEC "Intake").

One persistent ConversationHandler; its state is the current step, the answers are a draft
in user_data. Both live in the database (bot/persistence.py), so a restart loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import warnings
from datetime import UTC, datetime
from typing import Any, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.app import QorgauApplication, set_conversation_state
from bot.i18n import pick_locale
from bot.persistence import DatabasePersistence
from bot.services.cases import DESCRIPTION_LIMIT, Attachment, CaseDraft, TooManyCases
from bot.services.intake_form import (
    ANSWER_FIELD,
    FLOW_TIMEOUT,
    KINDS,
    MORE_REGIONS,
    REGIONS,
    SUMMARY_FIELDS,
    Question,
    children_first,
    is_child,
    next_step,
    previous_step,
    question,
)
from bot.services.scrub import scrub
from handlers import quick_exit
from handlers.common import (
    Viewer,
    button,
    choice_label,
    in_columns,
    keyboard,
    main_menu,
    media_of,
    numbers_text,
    send_screen,
    show,
    viewer,
)
from handlers.start import start

log = logging.getLogger("qorgau.intake")

END = ConversationHandler.END
STEPS = (
    "safe",
    "danger",
    "category",
    "follow",
    "affected",
    "age",
    "region",
    "describe",
    "answer",
    "consent",
    "summary",
)


def draft_of(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    assert context.user_data is not None
    draft: dict[str, Any] = context.user_data.setdefault("draft", {})
    return draft


def end_draft(context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.user_data is not None
    context.user_data.pop("draft", None)


def nav_row(v: Viewer) -> list[InlineKeyboardButton]:
    return [button(v._("Back"), "i:back"), button(v._("Cancel"), "i:cancel")]


# -- screens ---------------------------------------------------------------------------------


def question_screen(
    v: Viewer, draft: dict[str, Any], q: Question
) -> tuple[str, InlineKeyboardMarkup]:
    if draft.get("step") == "region" and draft.get("region_page") == 2:
        q = REGIONS
    text = v._(q.text)
    if q.child_text and is_child(draft):
        text = v._(q.child_text)
    elif q.self_text and draft.get("affected") == "me":
        text = v._(q.self_text)
    choices = [button(v._(title), f"i:{q.name}:{code}") for code, title in q.choices]
    return text.format(retention=v.retention()), keyboard(
        v, [*in_columns(choices, q.columns), nav_row(v)]
    )


def danger_screen(v: Viewer, draft: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    text = "\n\n".join(
        [
            numbers_text(v, child=children_first(draft)),
            v._(
                "Call now. If you also want to tell us about it, press Continue: "
                "we will mark your request as urgent."
            ),
        ]
    )
    rows = [
        [button(v._("Continue"), "i:danger:continue")],
        [button(v._("Stop here"), "i:danger:stop")],
    ]
    return text, keyboard(v, rows)


def describe_screen(v: Viewer, draft: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    if is_child(draft):
        text = v._(
            "Write what happened, in your own words. Do not write names or addresses. "
            "When you are done, press Next."
        )
    else:
        text = v._(
            "Tell us what happened, in your own words. Please do not write names, addresses "
            "or phone numbers: we remove contacts anyway. You can also send photos or "
            "documents. Up to 2,000 characters. When you are done, press Next."
        )
    given = draft.get("description") or draft.get("attachments")
    if given:
        length = len(draft.get("description", ""))
        files = len(draft.get("attachments", []))
        parts = [v._("Got it. You can add more, or press Next.")]
        if length:
            parts.append(
                v.n_("{count} character of 2,000", "{count} characters of 2,000", length).format(
                    count=length
                )
            )
        if files:
            parts.append(
                v.n_("{count} attachment", "{count} attachments", files).format(count=files)
            )
        text = "\n".join(parts)
    first = button(v._("Next") if given else v._("Skip"), "i:describe:next")
    return text, keyboard(v, [[first], nav_row(v)])


def summary_text(v: Viewer, draft: dict[str, Any]) -> str:
    lines = [v._("Please check your request:"), ""]
    lines.append(f"{v._('Request')}: {v._(KINDS[draft['kind']])}")
    for step, title in SUMMARY_FIELDS:
        if step == "describe":
            continue
        q = question(step, draft)
        value = draft.get(ANSWER_FIELD[step])
        if q is not None and value:
            lines.append(f"{v._(title)}: {choice_label(v.t, q, value)}")
    if draft.get("urgent"):
        lines.append(v._("Urgent: someone is in danger"))
    description = scrub(draft.get("description", "")) or "—"
    lines.append(f"{v._('Description')}: {description}")
    if draft.get("attachments"):
        count = len(draft["attachments"])
        lines.append(v.n_("{count} attachment", "{count} attachments", count).format(count=count))
    return "\n".join(lines)


def summary_screen(v: Viewer, draft: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [button(v._("Send"), "i:summary:send")],
        [button(v._("Change"), "i:summary:change"), button(v._("Cancel"), "i:cancel")],
    ]
    return summary_text(v, draft), keyboard(v, rows)


def change_screen(v: Viewer, draft: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    choices = [
        button(v._(title), f"i:summary:edit:{step}")
        for step, title in SUMMARY_FIELDS
        if step != "follow" or question("follow", draft) is not None
    ]
    rows = [*in_columns(choices, 2), [button(v._("Back"), "i:summary:show")]]
    return v._("What would you like to change?"), keyboard(v, rows)


def screen_for(v: Viewer, draft: dict[str, Any], step: str) -> tuple[str, InlineKeyboardMarkup]:
    if step == "danger":
        return danger_screen(v, draft)
    if step == "describe":
        return describe_screen(v, draft)
    if step == "summary":
        return summary_screen(v, draft)
    q = question(step, draft)
    assert q is not None, step
    return question_screen(v, draft, q)


async def ask(
    update: Update, context: ContextTypes.DEFAULT_TYPE, v: Viewer, step: str, *, new: bool = False
) -> str:
    draft = draft_of(context)
    draft["step"] = step
    text, markup = screen_for(v, draft, step)
    await show(update, context, v, text, markup, new=new)
    return step


async def finish(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    v: Viewer,
    text: str,
    *,
    numbers: bool = False,
    new: bool = False,
) -> int:
    """End the flow: forget the draft, show a closing line and the main menu."""
    text, markup = closing_screen(context, v, text, numbers=numbers)
    await show(update, context, v, text, markup, new=new)
    return END


def closing_screen(
    context: ContextTypes.DEFAULT_TYPE, v: Viewer, text: str, *, numbers: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """Forget the draft; the closing line (with the numbers) and the main menu."""
    child = children_first(draft_of(context))
    end_draft(context)
    if numbers:
        text = f"{text}\n\n{numbers_text(v, child=child)}"
    return text, main_menu(v)


# -- callbacks -------------------------------------------------------------------------------


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    if not await v.services.cases.may_open(v.pseudonym):
        return await finish(update, context, v, too_many(v))
    assert context.user_data is not None
    context.user_data["draft"] = {
        "kind": query.data.removeprefix("m:"),
        "key": secrets.token_hex(16),
        "locale": v.locale,  # for the timeout note, which comes with no update to read it from
    }
    return await ask(update, context, v, "safe")


def too_many(v: Viewer) -> str:
    return v._(
        "You have sent several requests in the last hour. Please wait a little before "
        "sending another one. If someone is in danger now, call 112."
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    draft = draft_of(context)
    step = draft.get("step", "safe")
    _, target, *rest = query.data.split(":")
    code = rest[0] if rest else ""

    if target == "cancel":
        return await finish(update, context, v, v._("Cancelled. Nothing was saved."))
    if target == "back":
        if step == "region" and draft.pop("region_page", None):
            return await ask(update, context, v, "region")
        back = "safe" if step == "danger" else previous_step(draft, step)
        if back is None:
            return await finish(update, context, v, v._("Cancelled. Nothing was saved."))
        return await ask(update, context, v, back)
    if target != step:
        # A button from an older screen: show the current step again, below.
        return await ask(update, context, v, step, new=True)

    if step == "safe":
        if code == "no":
            return await finish(
                update, context, v, v._("All right. Come back when it is safe. Nothing was saved.")
            )
        if code == "danger":
            return await ask(update, context, v, "danger")
        return await ask(update, context, v, "category")
    if step == "danger":
        if code == "stop":
            return await finish(update, context, v, v._("Nothing was saved."), numbers=True)
        draft["urgent"] = True
        return await ask(update, context, v, "category")
    if step == "consent":
        if code != "agree":
            return await finish(update, context, v, v._("Nothing was saved."), numbers=True)
        draft["consent_at"] = datetime.now(UTC).isoformat()
    elif step == "summary":
        return await on_summary(update, context, v, draft, rest)
    elif step == "region" and code == MORE_REGIONS:
        draft["region_page"] = 2
        return await ask(update, context, v, "region")
    elif step in ANSWER_FIELD:
        if step == "category" and draft.get("category") != code:
            draft.pop("subcategory", None)  # the follow-up belonged to the old category
        draft.pop("region_page", None)
        draft[ANSWER_FIELD[step]] = code
    return await ask(update, context, v, next_step(draft, step))


async def on_summary(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    v: Viewer,
    draft: dict[str, Any],
    rest: list[str],
) -> str | int:
    action = rest[0]
    if action == "change":
        text, markup = change_screen(v, draft)
        await show(update, context, v, text, markup)
        return "summary"
    if action == "edit" and len(rest) > 1 and rest[1] in STEPS:
        draft["editing"] = True
        return await ask(update, context, v, rest[1])
    if action != "send":
        return await ask(update, context, v, "summary")
    return await send(update, context, v, draft)


async def send(
    update: Update, context: ContextTypes.DEFAULT_TYPE, v: Viewer, draft: dict[str, Any]
) -> int:
    chat = update.effective_chat
    assert chat is not None
    case = CaseDraft(
        kind=draft["kind"],
        category=draft["category"],
        subcategory=draft.get("subcategory"),
        intake_key=draft.get("key"),
        affected=draft["affected"],
        age_band=draft["age_band"],
        region=draft["region"],
        urgent=bool(draft.get("urgent")),
        description=draft.get("description", ""),
        attachments=[Attachment(m, i) for m, i in draft.get("attachments", [])],
        may_answer=draft.get("answer") == "yes",
        consent_at=datetime.fromisoformat(draft["consent_at"]),
    )
    # Asked first: once the case is stored the outbox starts on its card at once.
    nobody_on_duty = case.may_answer and not await v.services.staff.anyone_on_duty()
    try:
        code = await v.services.cases.open(v.pseudonym, chat.id, v.locale, case)
    except TooManyCases:
        return await finish(update, context, v, too_many(v))
    if is_child(draft):
        text = v._(
            "Sent! Your code: {code}\n\nSomeone from the helpline will write to you "
            "here. If you want to add something, just write it here."
        )
    elif case.may_answer:
        text = v._(
            "Sent. Your reference code: {code}\n\nA volunteer will answer you here as soon as "
            "they can. If you want to add something, write it here: it goes to the same "
            "request. /mycases shows your requests."
        )
    else:
        text = v._(
            "Recorded. Your reference code: {code}\n\nWe will not write to you. Keep the code "
            "if you want to ask about this request later."
        )
    text = text.format(code=code)
    if nobody_on_duty:
        text += "\n\n" + v._(
            "Right now no volunteer is on duty, so the answer may take several hours. "
            "If someone is in danger, call the numbers below now."
        )
    # The summary stays as a record without its buttons (no second "Send"); the code comes
    # in a message of its own at the bottom of the chat, where the person looks.
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
    text, markup = closing_screen(context, v, text, numbers=True)
    try:
        await show(update, context, v, text, markup, new=True)
    except TelegramError as error:
        # The case is stored and the flow is over whatever Telegram says; the outbox shows
        # the code when Telegram takes it again.
        log.warning("confirmation not shown now: %s", type(error).__name__)
        await v.services.cases.confirm_later(code, chat.id, text, markup.to_dict())
    return END


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Free text or a file during the flow: the description step takes it; elsewhere, a hint."""
    message = update.effective_message
    assert message is not None
    v = await viewer(update, context)
    draft = draft_of(context)
    step = draft.get("step", "safe")
    if step != "describe":
        await show(update, context, v, v._("Please choose one of the buttons below."))
        return await ask(update, context, v, step, new=True)

    seen = draft.setdefault("seen", [])
    if message.message_id in seen:  # the same message again (replayed after a crash)
        return await ask(update, context, v, step, new=True)
    media = media_of(message)
    if media != "text":
        draft.setdefault("attachments", []).append([media, message.message_id])
        seen.append(message.message_id)
    if message.text or message.caption:
        added = (message.text or message.caption or "").strip()
        combined = "\n".join(filter(None, [draft.get("description", ""), added]))
        if len(combined) > DESCRIPTION_LIMIT:
            await show(
                update,
                context,
                v,
                v.n_(
                    "That is too long by {count} character. Please send a shorter version.",
                    "That is too long by {count} characters. Please send a shorter version.",
                    len(combined) - DESCRIPTION_LIMIT,
                ).format(count=len(combined) - DESCRIPTION_LIMIT),
            )
            return await ask(update, context, v, step, new=True)
        draft["description"] = combined
        if message.message_id not in seen:
            seen.append(message.message_id)
    return await ask(update, context, v, step, new=True)


async def end_idle_flows(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Flows idle for 30 minutes end with a gentle note; nothing of them is kept.

    Run from the database every minute rather than from a PTB timer: a timer dies with a
    restart, and with several instances only one of them would know the flow's last step.
    """
    application = cast(QorgauApplication, context.application)
    persistence = application.persistence
    assert isinstance(persistence, DatabasePersistence)
    services = application.services
    for handler in application.persistent_conversations():
        assert handler.name is not None
        for key, user_data in await persistence.expire(handler.name, FLOW_TIMEOUT):
            chat_id, user_id = int(key[0]), int(key[-1])
            set_conversation_state(handler, (chat_id, user_id), None)
            application.drop_user_data(user_id)
            chosen = user_data.get("draft", {}).get("locale")
            locale = pick_locale(chosen, None, services.settings.default_locale)
            pseudonym = services.identity.pseudonym(user_id)
            v = Viewer(pseudonym, locale, services.catalogues[locale], services)
            text = v._(
                "We paused because there was no answer for 30 minutes. Nothing was saved. "
                "Press /start when you want to begin again."
            )
            try:
                await send_screen(context, v, chat_id, text)
            except TelegramError as error:  # blocked the bot, say: the flow is ended anyway
                log.info("timeout note not delivered: %s", type(error).__name__)


async def restart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    end_draft(context)
    await start(update, context)
    return END


async def leave(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    end_draft(context)
    await quick_exit.exit_and_clear(update, context)
    return END


def conversation() -> ConversationHandler[Any]:
    step_handlers: list[BaseHandler[Update, Any, Any]] = [
        CallbackQueryHandler(on_button, pattern=r"^i:"),
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND, on_message
        ),
    ]
    # PTB warns that callback queries are tracked per chat, not per message: that is intended
    # (one flow per person; buttons of older screens are recognised by their step).
    warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(begin, pattern=r"^m:(report|legal|psych)$")],
        states={
            **{step: step_handlers for step in STEPS},
        },
        fallbacks=[
            CommandHandler(["start", "cancel"], restart),
            CallbackQueryHandler(leave, pattern=r"^x$"),
        ],
        name="intake",
        persistent=True,
        allow_reentry=True,
    )


async def expired(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button of a flow that already ended (timeout, restart of the flow, /start)."""
    v = await viewer(update, context)
    text = v._("This screen has expired. Choose what you need:")
    await show(update, context, v, text, main_menu(v), new=True)


def register(application: QorgauApplication) -> None:
    application.add_handler(conversation())
    assert application.job_queue is not None
    application.job_queue.run_repeating(end_idle_flows, interval=60, first=30, name="flow-timeout")
    application.add_handler(CallbackQueryHandler(expired, pattern=r"^i:"))
