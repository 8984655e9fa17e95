"""One registration per channel: the module whose ``run_outbox(once=...)`` sends that channel's outbox rows.

A new channel is a folder under ``channels/`` (its webhook or socket, its
sender), a :class:`bot.models.Channel` member, and one line here. Each sender
takes only the rows of its own channel's conversations
(``bot.messaging.outbox.due_ids(..., channel=)``).
"""
from __future__ import annotations

import importlib
import threading

from bot.models import Channel

OUTBOX_SENDERS: dict[Channel, str] = {
    Channel.SMS: "channels.sms_twilio.sender",
    Channel.WEB_CHAT: "channels.web_chat.sender",  # a no-op: the chat's event stream delivers its rows
}


def outbox_sender_module(channel: Channel):
    """The module that sends ``channel``'s texts (KeyError for a channel nobody registered)."""
    return importlib.import_module(OUTBOX_SENDERS[Channel(channel)])


def run_outbox_senders(once: bool = False) -> None:
    """Run every registered channel's sender: in this thread when there is one, else one thread each."""
    modules = [outbox_sender_module(channel) for channel in OUTBOX_SENDERS]
    if len(modules) == 1:
        modules[0].run_outbox(once=once)
        return
    threads = [threading.Thread(target=m.run_outbox, kwargs={"once": once}, name=m.__name__, daemon=True)
               for m in modules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
