"""Delivering the stored pause/resume commands (:mod:`bot.staff.handback`) to Rasa's HTTP API.

Two callers: the staff inbox, right after a resolve or reopen (best effort,
a short timeout), and the outbox sender's loop on every pass, which retries
whatever is still due. Neither may be stopped by Rasa being down, so
:func:`deliver_conversation_commands` never raises.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.db import session_factory
from bot.settings import Settings
from bot.staff import handback
from channels import rasa_http

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rasa_delivery(settings: Settings, timeout: float = 5.0) -> handback.Deliver:
    """``deliver(kind, sender_id)`` for :func:`bot.staff.handback.deliver_due`: the event appended to the
    conversation's tracker."""
    def deliver(kind: str, sender_id: str) -> None:
        try:
            rasa_http.append_events(settings.rasa_url, settings.rasa_token, sender_id, [{"event": kind}],
                                    timeout=timeout)
        except rasa_http.RasaUnavailable as exc:
            raise handback.NotDelivered(str(exc)) from exc
    return deliver


def deliver_conversation_commands(sessions: sessionmaker | Engine, settings: Settings,
                                  clock: Callable[[], datetime] = _utcnow, *,
                                  only_ids: Iterable[int] | None = None, timeout: float = 5.0) -> int:
    """Deliver due commands to Rasa (or only ``only_ids``); how many Rasa confirmed. Logs, never raises."""
    if isinstance(sessions, Engine):
        sessions = session_factory(sessions)
    try:
        return handback.deliver_due(sessions, rasa_delivery(settings, timeout), clock, only_ids=only_ids)
    except Exception:  # a database hiccup must not stop the sender or fail a staff request
        log.exception("delivering conversation commands to Rasa failed; they are tried again later")
        return 0
