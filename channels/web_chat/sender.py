"""The web chat's outbox "sender": nothing to push. A web chat row is delivered by the widget's event
stream (:mod:`channels.web_chat.rasa_channel`), which marks it delivered as it streams it; this module is
what :mod:`channels.registry` runs for the channel, and returns at once.
"""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def run_outbox(once: bool = False) -> None:
    """Nothing to send: the chat's event stream is its delivery (kept so every channel has a sender)."""
    logger.info("web chat: replies are delivered by the chat's event stream; no sender loop needed")
