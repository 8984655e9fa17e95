"""Conversations: who the assistant talks with, on which channel, whatever the channel.

A conversation is a (channel, address) pair: SMS and a phone number today;
web chat and voice come as new :class:`~bot.models.Channel` members. Texts,
tickets and conversation commands belong to one. Rasa knows a conversation by
its sender id: for SMS the bare phone (so trackers kept before conversations
existed stay valid), for any other channel ``<channel>:<address>``.

:func:`conversation_for` is get-or-create and race-free: the unique
(channel, address) decides, and the loser of a race reads the winner's row.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Channel, Conversation

SEPARATOR = ":"


def find_conversation(session: Session, channel: Channel, address: str) -> Conversation | None:
    return session.execute(
        select(Conversation).where(Conversation.channel == channel, Conversation.address == address)
    ).scalar_one_or_none()


def conversation_for(session: Session, channel: Channel | str, address: str,
                     now: datetime | None = None) -> Conversation:
    """The conversation on ``channel`` with ``address``, created if there is none yet.

    The insert runs in a savepoint: when a concurrent transaction created the
    same conversation first, the unique constraint refuses ours and we read
    theirs (on PostgreSQL the insert waits for the other transaction to end;
    SQLite serialises writers with ``BEGIN IMMEDIATE``).
    """
    channel = Channel(channel)
    existing = find_conversation(session, channel, address)
    if existing is not None:
        return existing
    conversation = Conversation(channel=channel, address=address, created_at=now or datetime.now(timezone.utc))
    try:
        with session.begin_nested():
            session.add(conversation)
            session.flush()
    except IntegrityError:
        existing = find_conversation(session, channel, address)
        if existing is None:
            raise
        return existing
    return conversation


def sms_conversation(session: Session, phone: str, now: datetime | None = None) -> Conversation:
    """The SMS conversation with ``phone`` (E.164): what a text to or from a phone belongs to."""
    return conversation_for(session, Channel.SMS, phone, now)


def phone_of(conversation: Conversation) -> str | None:
    """The phone the conversation texts (consent, STOP and carrier rules are per phone); None off SMS."""
    return conversation.address if conversation.channel == Channel.SMS else None


# --- Rasa's sender id ---------------------------------------------------------------------

def sender_id_of(channel: Channel | str, address: str) -> str:
    """Rasa's sender id for a conversation: the bare phone on SMS, ``<channel>:<address>`` elsewhere."""
    channel = Channel(channel)
    return address if channel == Channel.SMS else f"{channel.value}{SEPARATOR}{address}"


def conversation_sender_id(conversation: Conversation) -> str:
    return sender_id_of(conversation.channel, conversation.address)


def parse_sender_id(sender_id: str) -> tuple[Channel, str]:
    """(channel, address) for a Rasa sender id: the inverse of :func:`sender_id_of`.

    A sender id with a known channel prefix is that channel's; anything else
    (a phone, with or without "+") is SMS.
    """
    prefix, separator, rest = sender_id.partition(SEPARATOR)
    if separator:
        try:
            channel = Channel(prefix)
        except ValueError:
            pass
        else:
            if channel != Channel.SMS:
                return channel, rest
    return Channel.SMS, sender_id


def conversation_for_sender(session: Session, sender_id: str, now: datetime | None = None) -> Conversation:
    """The conversation Rasa calls ``sender_id`` (created if new)."""
    return conversation_for(session, *parse_sender_id(sender_id), now)


def as_conversation(session: Session, who: Conversation | str, now: datetime | None = None) -> Conversation:
    """``who`` itself, or for a phone (str) its SMS conversation: for callers that know only the phone."""
    return who if isinstance(who, Conversation) else sms_conversation(session, who, now)


def existing_conversation(session: Session, who: Conversation | str) -> Conversation | None:
    """Like :func:`as_conversation` but never creates one: for lookups (a phone never texted has none)."""
    return who if isinstance(who, Conversation) else find_conversation(session, Channel.SMS, who)
