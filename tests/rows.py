"""Columns that tie a row built by hand to its phone's SMS conversation (the domain functions fill them)."""
from __future__ import annotations

from bot.messaging.conversations import sms_conversation
from bot.models import Channel


def sms(session, phone: str, *, inbound: bool = False) -> dict:
    """``phone`` and its SMS conversation's id (and, for an inbound text, the channel): ``Row(**sms(...), ...)``."""
    fields = {"phone": phone, "conversation_id": sms_conversation(session, phone).id}
    return {**fields, "channel": Channel.SMS} if inbound else fields
