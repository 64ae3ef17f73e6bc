"""The person's flows: report an incident, legal help, psychological help (docs/overview.md).

One persistent ConversationHandler; its state is the current step, the answers are a draft
in user_data. Both live in the database (bot/persistence.py), so a restart loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import warnings
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.app import QorgauApplication, QorgauContext
from bot.i18n import N_
from bot.services.cases import DESCRIPTION_LIMIT, AnswerWindow, Attachment, CaseDraft
from bot.services.errors import TooManyCases
from bot.services.intake_form import (
    KINDS,
    REGIONS,
    STEPS,
    SUMMARY_FIELDS,
    IntakeDraft,
    InvalidAnswer,
    Question,
    Stop,
    answer,
    previous_step,
    question,
)
from bot.services.scrub import scrub
from bot.services.urgency import Facts, urgent_because
from handlers import callbacks
from handlers.callbacks import ANSWER_WINDOWS, INTAKE_BACK, INTAKE_CANCEL, IntakeButton
from handlers.screens.answer_times import window_label, window_question
from handlers.screens.common import (
    Viewer,
    button,
    choice_label,
    clear_chat,
    file_of,
    in_columns,
    keyboard,
    main_menu,
    media_of,
    numbers_text,
    show,
    viewer,
    welcome_text,
)
from handlers.screens.follow_ups import UNSENT
from handlers.screens.intake_note import describe_pressed

log = logging.getLogger("qorgau.intake")

END = ConversationHandler.END


def draft_of(context: QorgauContext) -> IntakeDraft:
    assert context.user_data is not None
    return IntakeDraft.from_dict(context.user_data.get("draft") or {})


def keep_draft(context: QorgauContext, draft: IntakeDraft) -> None:
    assert context.user_data is not None
    context.user_data["draft"] = draft.to_dict()


def end_draft(context: QorgauContext) -> None:
    assert context.user_data is not None
    context.user_data.pop("draft", None)


def nav_row(v: Viewer) -> list[InlineKeyboardButton]:
    return [button(v._("Back"), INTAKE_BACK.data), button(v._("Cancel"), INTAKE_CANCEL.data)]


# -- screens ---------------------------------------------------------------------------------


def question_screen(v: Viewer, draft: IntakeDraft, q: Question) -> tuple[str, InlineKeyboardMarkup]:
    if draft.step == "region" and draft.region_page == 2:
        q = REGIONS
    text = v._(q.text)
    if q.child_text and draft.is_child:
        text = v._(q.child_text)
    elif q.self_text and draft.affected == "me":
        text = v._(q.self_text)
    choices = [button(v._(title), IntakeButton(q.name, code).data) for code, title in q.choices]
    return text.format(retention=v.retention()), keyboard(
        v, [*in_columns(choices, q.columns), nav_row(v)]
    )


def danger_screen(v: Viewer, draft: IntakeDraft) -> tuple[str, InlineKeyboardMarkup]:
    text = "\n\n".join(
        [
            numbers_text(v, child=draft.children_first, young=draft.is_child),
            v._(
                "We cannot send anyone to you: only 112, the police (102) and the ambulance "
                "(103) can come. Call them now.\n\n"
                "If you also want to tell us about it, press Continue: we will mark your "
                "request as urgent. We answer in this chat, not by phone."
            ),
        ]
    )
    rows = [
        [button(v._("Continue"), IntakeButton("danger", "continue").data)],
        [button(v._("Stop here"), IntakeButton("danger", "stop").data)],
    ]
    return text, keyboard(v, rows)


def describe_screen(v: Viewer, draft: IntakeDraft) -> tuple[str, InlineKeyboardMarkup]:
    if draft.is_child:
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
    given = draft.description or draft.attachments
    if given:
        length, files = len(draft.description), len(draft.attachments)
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
    first = button(v._("Next") if given else v._("Skip"), IntakeButton("describe", "next").data)
    return text, keyboard(v, [[first], nav_row(v)])


def summary_text(v: Viewer, draft: IntakeDraft) -> str:
    heading = N_("Check what you wrote:") if draft.is_child else N_("Please check your request:")
    lines = [v._(heading), ""]
    kind = KINDS[draft.kind]
    lines.append(v._("Request: {kind}").format(kind=v._(kind)))
    for step, title in SUMMARY_FIELDS:
        q, value = question(step, draft), draft.answer_of(step)
        if q is not None and value:
            lines.append(f"{v._(title)}: {choice_label(v.t, q, value)}")
    if draft.urgent:
        lines.append(v._("Urgent: someone is in danger"))
    description = scrub(draft.description) or "—"
    lines.append(v._("Description: {text}").format(text=description))
    if draft.attachments:
        count = len(draft.attachments)
        lines.append(v.n_("{count} attachment", "{count} attachments", count).format(count=count))
    if answers_expected(draft) and draft.window != "any":
        lines.append(v._("Answers: {when}").format(when=window_label(v, draft.window)))
    return "\n".join(lines)


def answers_expected(draft: IntakeDraft) -> bool:
    """The person asked to be answered here: only then are answer times offered (a child who
    chose "No, just record it" is promised no answer)."""
    return draft.answer == "yes"


def summary_screen(v: Viewer, draft: IntakeDraft) -> tuple[str, InlineKeyboardMarkup]:
    """One tap on "Send": answers at any time, unless the person chose other answer times."""
    rows = [[button(v._("Send"), IntakeButton("summary", "send").data)]]
    if answers_expected(draft):
        rows.append([button(v._("When answers may come"), IntakeButton("summary", "when").data)])
    rows.append(
        [
            button(v._("Change"), IntakeButton("summary", "change").data),
            button(v._("Cancel"), INTAKE_CANCEL.data),
        ]
    )
    return summary_text(v, draft), keyboard(v, rows)


def window_screen(v: Viewer, draft: IntakeDraft) -> tuple[str, InlineKeyboardMarkup]:
    """Safe times (issue 13), before sending: the choice comes back to the summary."""
    rows = [
        [
            button(
                window_label(v, choice, chosen=choice == draft.window),
                IntakeButton("summary", "window", choice).data,
            )
        ]
        for choice in ANSWER_WINDOWS
    ]
    rows.append([button(v._("Back"), IntakeButton("summary", "show").data)])
    return window_question(v, child=draft.is_child), keyboard(v, rows)


def change_screen(v: Viewer, draft: IntakeDraft) -> tuple[str, InlineKeyboardMarkup]:
    choices = [
        button(v._(title), IntakeButton("summary", "edit", step).data)
        for step, title in SUMMARY_FIELDS
        if step != "follow" or question("follow", draft) is not None
    ]
    rows = [*in_columns(choices, 2), [button(v._("Back"), IntakeButton("summary", "show").data)]]
    child = draft.is_child
    return v._(
        N_("What do you want to change?") if child else N_("What would you like to change?")
    ), keyboard(v, rows)


# Steps with a screen of their own; every other step shows its question.
SCREENS = {"danger": danger_screen, "describe": describe_screen, "summary": summary_screen}


def screen_for(v: Viewer, draft: IntakeDraft, step: str) -> tuple[str, InlineKeyboardMarkup]:
    if step in SCREENS:
        return SCREENS[step](v, draft)
    q = question(step, draft)
    assert q is not None, step
    return question_screen(v, draft, q)


async def ask(
    update: Update,
    context: QorgauContext,
    v: Viewer,
    draft: IntakeDraft,
    step: str,
    *,
    new: bool = False,
) -> str:
    """Show a step's screen; the draft is kept with the step it is at."""
    draft.step = step
    keep_draft(context, draft)
    text, markup = screen_for(v, draft, step)
    await show(update, context, v, text, markup, new=new)
    return step


async def finish(
    update: Update,
    context: QorgauContext,
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
    context: QorgauContext, v: Viewer, text: str, *, numbers: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """Forget the draft; the closing line (with the numbers) and the main menu."""
    draft = draft_of(context)
    end_draft(context)
    if numbers:
        text = f"{text}\n\n{numbers_text(v, child=draft.children_first, young=draft.is_child)}"
    return text, main_menu(v)


# -- callbacks -------------------------------------------------------------------------------

# What the person reads when the flow stops before sending, and whether the numbers follow.
STOPPED = {
    Stop.CANCELLED: (N_("Cancelled. Nothing was saved."), False),
    Stop.NOT_SAFE: (N_("All right. Come back when it is safe. Nothing was saved."), False),
    Stop.DANGER: (N_("Nothing was saved."), True),
    Stop.NO_CONSENT: (N_("Nothing was saved."), True),
}


async def stop(update: Update, context: QorgauContext, v: Viewer, why: Stop) -> int:
    text, numbers = STOPPED[why]
    return await finish(update, context, v, v._(text), numbers=numbers)


async def begin(update: Update, context: QorgauContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    kind = callbacks.parse_start_flow(query.data)
    if kind is None:
        return END
    if not await v.services.cases.may_open(v.pseudonym):
        return await finish(update, context, v, too_many(v))
    draft = IntakeDraft(kind=kind, key=secrets.token_hex(16), locale=v.locale)
    unsent = context.user_data.pop(UNSENT, None) if context.user_data is not None else None
    if unsent:  # written from the main menu: not lost, it starts the description
        describe(draft, unsent["media"], unsent["source_message_id"], unsent["text"])
    return await ask(update, context, v, draft, "safe")


def too_many(v: Viewer, child: bool = False) -> str:
    if child:
        return v._(
            "You sent several requests in the last hour. Wait a little before sending one "
            "more. If you are in danger now, call 112."
        )
    return v._(
        "You have sent several requests in the last hour. Please wait a little before "
        "sending another one. If someone is in danger now, call 112."
    )


async def on_button(update: Update, context: QorgauContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    draft = draft_of(context)
    pressed = IntakeButton.parse(query.data) or IntakeButton(draft.step)
    if pressed == INTAKE_CANCEL:
        return await stop(update, context, v, Stop.CANCELLED)
    if pressed == INTAKE_BACK:
        back = previous_step(draft, draft.step)
        draft.region_page = 1
        if back is None:
            return await stop(update, context, v, Stop.CANCELLED)
        return await ask(update, context, v, draft, back)
    if pressed.step != draft.step:
        # A button from an older screen: show the current step again, below.
        return await ask(update, context, v, draft, draft.step, new=True)
    if draft.step == "summary":
        return await on_summary(update, context, v, draft, pressed)
    if draft.step == "describe" and (note := describe_pressed(v, draft, pressed.value)):
        keep_draft(context, draft)
        await show(update, context, v, *note)
        return "describe"
    try:
        move = answer(draft, draft.step, pressed.value)
    except InvalidAnswer:  # not one of this step's answers (forged or outdated): ask again
        return await ask(update, context, v, draft, draft.step, new=True)
    if isinstance(move, Stop):
        return await stop(update, context, v, move)
    return await ask(update, context, v, draft, move)


async def on_summary(
    update: Update,
    context: QorgauContext,
    v: Viewer,
    draft: IntakeDraft,
    pressed: IntakeButton,
) -> str | int:
    if pressed.value == "change":
        text, markup = change_screen(v, draft)
        await show(update, context, v, text, markup)
        return "summary"
    if pressed.value == "when" and answers_expected(draft):
        text, markup = window_screen(v, draft)
        await show(update, context, v, text, markup)
        return "summary"
    if pressed.value == "window" and pressed.extra in ANSWER_WINDOWS and answers_expected(draft):
        draft.window = pressed.extra
        return await ask(update, context, v, draft, "summary")
    if pressed.value == "edit" and pressed.extra in STEPS:
        draft.editing = True
        return await ask(update, context, v, draft, pressed.extra)
    if pressed.value != "send":
        return await ask(update, context, v, draft, "summary")
    return await send(update, context, v, draft)


def case_draft(draft: IntakeDraft) -> CaseDraft:
    """What the service stores, from the flow's answers (all given by the summary step)."""
    assert draft.category and draft.affected and draft.age_band and draft.region
    assert draft.consent_at is not None
    return CaseDraft(
        kind=draft.kind,
        category=draft.category,
        subcategory=draft.subcategory,
        intake_key=draft.key or None,
        affected=draft.affected,
        age_band=draft.age_band,
        region=draft.region,
        urgent=draft.urgent,
        description=draft.description,
        attachments=[Attachment(m, i, draft.documents.get(str(i))) for m, i in draft.attachments],
        may_answer=answers_expected(draft),
        consent_at=datetime.fromisoformat(draft.consent_at),
        window=AnswerWindow.from_choice(draft.window)
        if answers_expected(draft)
        else AnswerWindow(),
    )


def sent_text(v: Viewer, draft: IntakeDraft, code: str, *, nobody_on_duty: bool) -> str:
    if draft.is_child and draft.answer != "yes":  # "No, just record it": no answer promised
        text = v._(
            "Saved! Your code: {code}\n\nWe will not write to you. Keep the code if you "
            "want to ask about it later."
        )
    elif draft.is_child:
        text = v._(
            "Sent! Your code: {code}\n\nSomeone from the helpline will write to you "
            "here, as soon as they can. If you want to add something, just write it here."
        )
    elif draft.answer == "yes":
        text = v._(
            "Sent. Your reference code: {code}\n\nA volunteer will answer you here as soon as "
            "one is free. We cannot promise a time: at night and at weekends it may take "
            "longer. If you want to add something, write it here: it goes to the same "
            "request. /mycases shows your requests."
        )
    else:
        text = v._(
            "Recorded. Your reference code: {code}\n\nWe will not write to you. Keep the code "
            "if you want to ask about this request later."
        )
    text = text.format(code=code)
    if answers_expected(draft) and draft.window == "after":  # what they chose, said again
        text += "\n\n" + (
            v._("As you asked, our answers will wait until you write here.")
            if draft.is_child
            else v._("As you asked, answers will wait until you write to us here.")
        )
    if nobody_on_duty:
        facts = Facts(draft.kind, draft.category or "", draft.age_band or "", draft.affected or "")
        urgent = draft.urgent or bool(urgent_because(facts))
        text += "\n\n" + nobody_on_duty_text(v, draft.is_child, urgent=urgent)
    return text


def nobody_on_duty_text(v: Viewer, child: bool, *, urgent: bool = False) -> str:
    """Nobody on duty: an urgent case has reached the coordinators privately all the same
    (docs/rapid-response.md), so no "hours" are promised; nor is a time."""
    if urgent and child:
        return v._(
            "No one is on duty right now, so we have told the people in charge of the "
            "helpline straight away. If you are in danger, call the numbers below now."
        )
    if urgent:
        return v._(
            "Right now no volunteer is on duty, so we have told the helpline's coordinators "
            "straight away. If someone is in danger, call the numbers below now."
        )
    if child:
        return v._(
            "No one is on duty right now, so the answer may take a few hours. "
            "If you are in danger, call the numbers below now."
        )
    return v._(
        "Right now no volunteer is on duty, so the answer may take several hours. "
        "If someone is in danger, call the numbers below now."
    )


async def send(update: Update, context: QorgauContext, v: Viewer, draft: IntakeDraft) -> int:
    chat = update.effective_chat
    assert chat is not None
    case = case_draft(draft)
    # Asked first: once the case is stored the outbox starts on its card at once.
    nobody_on_duty = case.may_answer and not await v.services.staff.anyone_on_duty()
    try:
        code = await v.services.cases.open(v.pseudonym, chat.id, v.locale, case)
    except TooManyCases:
        return await finish(update, context, v, too_many(v, draft.is_child))
    text = sent_text(v, draft, code, nobody_on_duty=nobody_on_duty)
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


async def on_message(update: Update, context: QorgauContext) -> str:
    """Free text or a file during the flow: the description step takes it; elsewhere it is
    kept for the description, with a hint to use the buttons."""
    message = update.effective_message
    assert message is not None
    v = await viewer(update, context)
    draft = draft_of(context)
    if draft.step != "describe":
        hint = v._("Please choose one of the buttons below.")
        kept = message.message_id not in draft.seen and not describe(
            draft, media_of(message), message.message_id, message.text or message.caption
        )
        if kept:  # not thrown away: it waits in the description (issue 13)
            if (document := file_of(message)) is not None:
                draft.documents[str(message.message_id)] = document
            said = (
                v._("We kept what you wrote: you will find it in the description step.")
                if draft.is_child
                else v._(
                    "We kept what you wrote: it will be part of the description, and you can "
                    "add to it there."
                )
            )
            hint = f"{said}\n\n{hint}"
        await show(update, context, v, hint)
    elif message.message_id not in draft.seen:  # not the same message again (a replay)
        too_long = describe(
            draft, media_of(message), message.message_id, message.text or message.caption
        )
        if (document := file_of(message)) is not None:
            draft.documents[str(message.message_id)] = document
        if too_long:
            text = v.n_(
                "That is too long by {count} character. Please send a shorter version.",
                "That is too long by {count} characters. Please send a shorter version.",
                too_long,
            ).format(count=too_long)
            await show(update, context, v, text)
    return await ask(update, context, v, draft, draft.step, new=True)


def describe(draft: IntakeDraft, media: str, message_id: int, text: str | None) -> int:
    """Take a message into the description: attachments by reference, text appended.
    Returns by how many characters the text would be too long (0: taken)."""
    if media != "text":
        draft.attachments.append((media, message_id))
        draft.seen.append(message_id)
    added = (text or "").strip()
    if not added:
        return 0
    combined = "\n".join(filter(None, [draft.description, added]))
    if len(combined) > DESCRIPTION_LIMIT:
        return len(combined) - DESCRIPTION_LIMIT
    draft.description = combined
    if message_id not in draft.seen:
        draft.seen.append(message_id)
    return 0


async def restart(update: Update, context: QorgauContext) -> int:
    end_draft(context)
    v = await viewer(update, context)
    await show(update, context, v, welcome_text(v), main_menu(v))
    return END


async def leave(update: Update, context: QorgauContext) -> int:
    end_draft(context)
    await clear_chat(update, context)
    return END


def conversation() -> ConversationHandler[Any]:
    step_handlers: list[BaseHandler[Update, Any, Any]] = [
        CallbackQueryHandler(on_button, pattern=IntakeButton.pattern),
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND, on_message
        ),
    ]
    # PTB warns that callback queries are tracked per chat, not per message: that is intended
    # (one flow per person; buttons of older screens are recognised by their step).
    warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(begin, pattern=callbacks.START_FLOW_PATTERN)],
        states={
            **{step: step_handlers for step in STEPS},
        },
        fallbacks=[
            CommandHandler(["start", "cancel"], restart),
            CallbackQueryHandler(leave, pattern=callbacks.exact(callbacks.EXIT)),
        ],
        name="intake",
        persistent=True,
        allow_reentry=True,
    )


async def expired(update: Update, context: QorgauContext) -> None:
    """A button of a flow that already ended (timeout, restart of the flow, /start)."""
    v = await viewer(update, context)
    text = v._("This screen has expired. Choose what you need:")
    await show(update, context, v, text, main_menu(v), new=True)


def register(application: QorgauApplication) -> None:
    application.add_handler(conversation())
    application.add_handler(CallbackQueryHandler(expired, pattern=IntakeButton.pattern))
