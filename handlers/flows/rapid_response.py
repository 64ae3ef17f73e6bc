"""The rapid-response steps under an urgent child case's card (docs/rapid-response.md): a
press records the step as done, with its time and who pressed, and the message shows it
done, its button gone."""

from __future__ import annotations

import contextlib
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler

from bot.app import QorgauApplication, QorgauContext
from bot.services.rapid_response import step_of
from handlers.access import STAFF, allowed
from handlers.callbacks import StepButton
from handlers.screens.rapid_response import steps_keyboard, steps_text


@allowed(STAFF)
async def on_step_button(update: Update, context: QorgauContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    locale = services.settings.default_locale
    t = services.catalogues[locale]
    button = StepButton.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    case = await services.casework.by_code(button.code) if button else None
    if button is None or message is None or case is None or step_of(button.step) is None:
        await query.answer()
        return
    await services.staff.touch_name(user.id, user.first_name)
    if await services.rapid_response.done(case.id, button.step, user.id):
        await query.answer(t.gettext("Recorded."))
    else:
        await query.answer(t.gettext("Someone recorded this step already."))
    states = await services.rapid_response.steps(case.id)
    names = {m.telegram_id: m.name for m in await services.staff.members()}
    zone = ZoneInfo(services.settings.broadcast_timezone)
    with contextlib.suppress(BadRequest):  # "not modified": pressed twice at once
        await message.edit_text(
            steps_text(t, locale, zone, case.code, states, names),
            parse_mode=ParseMode.HTML,
            reply_markup=steps_keyboard(locale, case.code, states),
        )


def register(application: QorgauApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_step_button, pattern=StepButton.pattern))
