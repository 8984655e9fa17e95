"""A tiny client for Rasa's HTTP API: the calls the staff inbox makes on a conversation.

When staff resolve a ticket the conversation goes back to the bot: Rasa paused
it at handoff, and a ``resume`` event appended to its tracker wakes it up.
Rasa's ``--auth-token`` travels as the ``token`` query parameter.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests


class RasaUnavailable(RuntimeError):
    """Rasa did not answer or refused the call; the message says which."""


def append_events(rasa_url: str, token: str, sender_id: str, events: list[dict[str, Any]],
                  timeout: float = 5.0) -> None:
    """Append ``events`` to the tracker of ``sender_id`` (a phone number, E.164)."""
    # "+" stays as it is: it is literal in a URL path, and Rasa (Sanic) does not
    # decode path parameters, so "%2B1503..." would be another conversation.
    url = f"{rasa_url.rstrip('/')}/conversations/{quote(sender_id, safe='+')}/tracker/events"
    params = {"token": token} if token else None
    try:
        response = requests.post(url, json=events if len(events) != 1 else events[0],
                                 params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise RasaUnavailable(f"Rasa at {rasa_url} did not answer: {exc.__class__.__name__}") from exc
    if response.status_code >= 300:
        raise RasaUnavailable(f"Rasa at {rasa_url} answered HTTP {response.status_code}")


def resume_conversation(rasa_url: str, token: str, sender_id: str, timeout: float = 5.0) -> None:
    """Hand a paused conversation back to the bot."""
    append_events(rasa_url, token, sender_id, [{"event": "resume"}], timeout=timeout)
