"""/mycases: the person's open requests, closing one; follow-ups go to the open request."""

from __future__ import annotations

from telegram import InlineKeyboardButton, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.app import QorgauApplication, QorgauContext
from handlers import callbacks
from handlers.screens.answer_times import window_label, window_question, window_saved
from handlers.screens.common import (
    Viewer,
    button,
    file_of,
    keyboard,
    main_menu,
    media_of,
    pseudonym_of,
    show,
    viewer,
    viewer_as,
)
from handlers.screens.follow_ups import UNSENT, answer_now, follow_up_note


def cases_markup(v: Viewer, codes: list[str]) -> list[list[InlineKeyboardButton]]:
    return [
        [
            button(v._("Close {code}").format(code=code), callbacks.close_my_case(code)),
            button(v._("Answer times {code}").format(code=code), callbacks.answer_windows(code)),
        ]
        for code in codes
    ]


async def choose_window(update: Update, context: QorgauContext) -> None:
    """Safe times (issue 13): when answers to this request may arrive; outside them they
    wait and are not lost."""
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    code = callbacks.parse_answer_windows(query.data)
    current = await v.services.cases.answer_window_of(v.pseudonym, code)
    if current is None:  # closed meanwhile, or not theirs
        await list_cases(update, context)
        return
    rows = [
        [
            button(
                window_label(v, choice, chosen=choice == current.window.choice),
                callbacks.answer_window(code, choice),
            )
        ]
        for choice in callbacks.ANSWER_WINDOWS
    ]
    rows.append([button(v._("Main menu"), callbacks.MENU)])
    text = f"{code}: {window_question(v, child=current.child)}"
    await show(update, context, v, text, keyboard(v, rows))


async def set_window(update: Update, context: QorgauContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    code, window = callbacks.parse_answer_window(query.data)
    saved = await v.services.cases.set_answer_window(v.pseudonym, code, window)
    prefix = f"{window_saved(v, code, child=saved.child)}\n\n" if saved else ""
    await list_cases(update, context, prefix=prefix)


async def list_cases(update: Update, context: QorgauContext, prefix: str = "") -> None:
    v = await viewer(update, context)
    cases = await v.services.cases.of_person(v.pseudonym)
    if not cases:
        text = v._("You have no open requests.")
    else:
        lines = [v._("Your open requests:")]
        for case in cases:
            lines.append(
                v._("{code}: sent {date}, waiting for an answer or in progress").format(
                    code=case.code, date=case.created_at.strftime("%d.%m.%Y")
                )
            )
        text = "\n".join(lines)
    rows = [
        *cases_markup(v, [c.code for c in cases]),
        [button(v._("Main menu"), callbacks.MENU)],
    ]
    await show(update, context, v, f"{prefix}{text}", keyboard(v, rows))


async def close_case(update: Update, context: QorgauContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    code = callbacks.parse_close_my_case(query.data)
    closed = await v.services.cases.close_by_person(v.pseudonym, code)
    prefix = v._("Request {code} is closed. Thank you for writing to us.").format(code=code)
    await list_cases(update, context, prefix=f"{prefix}\n\n" if closed else "")


async def menu(update: Update, context: QorgauContext) -> None:
    v = await viewer(update, context)
    if context.user_data is not None:
        context.user_data.pop(UNSENT, None)  # not sent: not kept
    await show(update, context, v, v._("Choose what you need:"), main_menu(v))


async def follow_up(update: Update, context: QorgauContext) -> None:
    """Anything written outside a flow goes to the person's open request, if there is one."""
    message = update.effective_message
    assert message is not None
    pseudonym = pseudonym_of(update, context)
    follow_up = await context.services.cases.add_message(
        pseudonym,
        message.chat_id,
        media_of(message),
        message.text or message.caption,
        message.message_id,
        file_of(message),
    )
    if follow_up is None:
        await _no_open_case(update, context, message)
        return
    v = viewer_as(update, context, pseudonym, follow_up.locale)  # read with the case
    if not follow_up.waits:
        context.app.nothing_waits()
    if answer_now(context, message.chat_id, follow_up):  # one answer for a burst
        text = follow_up_note(v, message.chat_id, follow_up)
        await show(update, context, v, text, keyboard(v))


async def _no_open_case(update: Update, context: QorgauContext, message: Message) -> None:
    """What they wrote waits (in their flow data) while they choose: their closed request
    again, or a new one."""
    v = await viewer(update, context)
    days = v.services.settings.reopen_days
    code = await v.services.cases.recently_closed(v.pseudonym, days)
    if context.user_data is not None:  # kept until they choose (not lost)
        context.user_data[UNSENT] = {
            "media": media_of(message),
            "text": message.text or message.caption,
            "source_message_id": message.message_id,
            "file": file_of(message),
        }
    if code is not None:
        text = v._(
            "Your request {code} is closed. Send what you just wrote to it? It opens "
            "again, and the helpline will see it in the same request."
        ).format(code=code)
        rows = [
            [button(v._("Send to {code}").format(code=code), callbacks.send_to_closed(code))],
            [button(v._("Main menu"), callbacks.MENU)],
        ]
        await show(update, context, v, text, keyboard(v, rows))
        return
    text = v._(
        "To send what you wrote to the helpline, choose what you need: a few questions "
        "first, and your message starts the description of your request."
    )
    await show(update, context, v, text, main_menu(v))


async def send_to_closed(update: Update, context: QorgauContext) -> None:
    """The person chose to send what they wrote to their recently closed case."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    v = await viewer(update, context)
    code = callbacks.parse_send_to_closed(query.data)
    unsent = context.user_data.pop(UNSENT, None) if context.user_data is not None else None
    days = v.services.settings.reopen_days
    if unsent is None or not await v.services.cases.reopen_by_person(v.pseudonym, code, days):
        await show(update, context, v, v._("Choose what you need:"), main_menu(v))
        return
    await v.services.cases.add_message(v.pseudonym, chat.id, **unsent)
    text = v._("Sent to your request {code}. It is open again: the helpline will answer here.")
    await show(update, context, v, text.format(code=code), keyboard(v))


async def rate(update: Update, context: QorgauContext) -> None:
    """The person rates the help after their case was closed (1 to 5)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    v = await viewer(update, context)
    code, stars = callbacks.parse_rating(query.data)
    rated = await v.services.casework.rate(v.pseudonym, code, stars)
    text = v._("Thank you for your answer.") if rated else v._("Choose what you need:")
    await show(update, context, v, text, main_menu(v))


def register(application: QorgauApplication) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(rate, pattern=callbacks.RATING_PATTERN))
    application.add_handler(CommandHandler("mycases", list_cases, filters=private))
    application.add_handler(
        CallbackQueryHandler(list_cases, pattern=callbacks.exact(callbacks.MY_CASES))
    )
    application.add_handler(
        CallbackQueryHandler(close_case, pattern=callbacks.CLOSE_MY_CASE_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(choose_window, pattern=callbacks.ANSWER_WINDOWS_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(set_window, pattern=callbacks.ANSWER_WINDOW_PATTERN)
    )
    application.add_handler(
        CallbackQueryHandler(send_to_closed, pattern=callbacks.SEND_TO_CLOSED_PATTERN)
    )
    application.add_handler(CallbackQueryHandler(menu, pattern=callbacks.exact(callbacks.MENU)))
    application.add_handler(
        MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.COMMAND, follow_up)
    )
