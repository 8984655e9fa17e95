"""Which staff queue answers what: the practice's ``routing`` decides every queue, inbound texts' too.

``routing`` in the practice file maps what is handed to staff to one of its
``queues``: the assistant's intents (``billing_question``, ``emergency``,
``nlu_fallback``...) and the reasons the SMS pipeline opens tickets itself
(:data:`STUCK_TEXT`, :data:`CANCEL_KEYWORD`, :data:`PICTURE`, and
``emergency`` while staff have the chat). ``routing.default`` answers
anything not listed; a file without it falls back on its first queue. No
queue name is built into the code, so a practice may call its queues what
it likes.
"""
from __future__ import annotations

from typing import Any

from bot.models import Practice

__all__ = ["STUCK_TEXT", "CANCEL_KEYWORD", "PICTURE", "EMERGENCY", "DEFAULT", "queue_for", "queue_details", "urgent_queue"]

STUCK_TEXT = "system"  # a text the assistant could not answer, or one of ours that could not be sent
CANCEL_KEYWORD = "cancel_keyword"  # a bare CANCEL: opted out, and perhaps meant an appointment
PICTURE = "picture"  # a picture with no words
EMERGENCY = "emergency"
DEFAULT = "default"  # the routing entry for everything not listed


def _queues(practice: Practice) -> dict[str, Any]:
    return practice.config.get("queues") or {}


def queue_details(practice: Practice, queue: str) -> dict[str, Any]:
    """The queue's name, team and answer-time goal; KeyError for a queue the practice does not have."""
    queues = _queues(practice)
    if queue not in queues:
        raise KeyError(f"unknown staff queue {queue!r}; known: {sorted(queues)}")
    return queues[queue]


def queue_names(practice: Practice) -> dict[str, str]:
    """Each queue's name as staff read it (``name`` in the practice file; the key without one)."""
    return {key: cfg.get("name", key) for key, cfg in _queues(practice).items()}


def team_name(practice: Practice, queue: str, language: str | None = None) -> str:
    """Who answers the queue, as a patient reads it in ``language``: the queue's ``team_<language>`` if the
    practice file gives one ("team_es: nuestro equipo de facturación"), else its ``team``."""
    details = queue_details(practice, queue)
    return details.get(f"team_{language}") or details.get("team") or "our staff"


def queue_for(practice: Practice, handed_off: str) -> str:
    """The queue the practice routes ``handed_off`` (an intent or a pipeline reason) to."""
    routing = practice.config.get("routing") or {}
    queue = routing.get(handed_off) or routing.get(DEFAULT) or next(iter(_queues(practice)), None)
    if queue is None:
        raise KeyError(f"the practice routes {handed_off!r} to no queue and has no queues")
    return queue


def urgent_queue(practice: Practice) -> str:
    """The queue emergencies go to: pinned on top of the inbox, and its staff get a browser alert."""
    return queue_for(practice, EMERGENCY)
