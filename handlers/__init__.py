"""Telegram-facing code: how updates become service calls and screens.

- `pipeline/`: what every update passes first (guard, tracking) and last (errors);
- `flows/`: one module per conversation or command family; flows never import each other;
- `screens/`: texts and keyboards, shared by flows and by the workers in bot/workers;
- `callbacks.py`: every button's data, built and parsed in one place;
- `access.py`: who may run a handler or press a button;
- `context.py`: the typed context handlers receive, and who is asking (`Viewer`).

The order of registration matters: the intake conversation sees an update before the
catch-all handlers of my_cases.
"""

from __future__ import annotations

from bot.app import QorgauApplication
from handlers.flows import (
    broadcast,
    campaigns,
    casebook,
    help_menu,
    help_near_me,
    identifying,
    intake,
    language,
    my_cases,
    privacy,
    quick_exit,
    rapid_response,
    ready_answers,
    referrals,
    rights,
    setup,
    staff_access,
    staff_admin,
    staff_chat,
    start,
    stats,
    subscriptions,
    triage,
)
from handlers.pipeline import errors, guard, tracking


def register(application: QorgauApplication) -> None:
    guard.register(application)
    tracking.register(application)
    staff_admin.register(application)  # before start: /start inv_… joins the staff
    identifying.register(application)  # before every flow: a location is never kept
    staff_access.register(application)
    intake.register(application)
    broadcast.register(application)
    campaigns.register(application)  # after broadcast: its confirmation leads here
    start.register(application)
    language.register(application)
    privacy.register(application)
    subscriptions.register(application)
    rights.register(application)
    help_near_me.register(application)
    stats.register(application)
    quick_exit.register(application)
    my_cases.register(application)
    referrals.register(application)
    casebook.register(application)  # before staff_chat: /case, /reopen, /mine in its chats
    ready_answers.register(application)
    triage.register(application)
    rapid_response.register(application)
    staff_chat.register(application)
    setup.register(application)
    help_menu.register(application)  # last: it answers commands nobody else took
    application.add_error_handler(errors.on_error)
