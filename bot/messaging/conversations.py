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

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.language.detect import reply_language, requested_language
from bot.models import Channel, Conversation, HandoffTicket, InboundMessage, WebChat
from bot.patients import language_for_phone

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


def patient_phone(session: Session, conversation: Conversation) -> str | None:
    """The phone whose patients this conversation may discuss: SMS, its own; a web chat, the phone its visitor
    verified with a texted code (None before: office information, new-patient booking and general questions
    only). What the actions use for "this patient's phone" (Rasa's sender id is not a phone off SMS)."""
    if conversation.channel == Channel.SMS:
        return conversation.address
    if conversation.channel == Channel.WEB_CHAT:
        return session.execute(select(WebChat.verified_phone)
                               .where(WebChat.conversation_id == conversation.id)).scalar_one_or_none()
    return None


# --- The conversation's language ----------------------------------------------------------

def conversation_language(session: Session, conversation: Conversation) -> str | None:
    """The language the conversation is held in: the one stored on it (the patient asked for it, or it was
    detected), else the patient's record (SMS: the phone's first patient's); None when nothing says."""
    if conversation.language:
        return conversation.language
    phone = patient_phone(session, conversation)
    return language_for_phone(session, phone) if phone is not None else None


def language_of_text(session: Session, conversation: Conversation, text: str) -> str | None:
    """The language to answer ``text`` in, storing the conversation's language when the text settles it.

    A request ("español", "English please") switches the conversation. Otherwise a text written in the other
    language is answered in it without switching; only a conversation nothing knew the language of (an
    unknown number) takes the detected one. Returns None when neither text nor conversation says.
    """
    stored = conversation_language(session, conversation)
    spoken = reply_language(stored, text)
    if requested_language(text) is not None or (stored is None and spoken is not None):
        conversation.language = spoken
    return spoken


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


# --- Counts per channel (the reports page) ------------------------------------------------

@dataclass(frozen=True)
class ChannelCount:
    channel: Channel
    conversations: int  # conversations with a patient's message in the period
    messages: int       # the patients' messages
    tickets: int        # handed to staff in the period


def counts_per_channel(session: Session, since: datetime, until: datetime) -> list[ChannelCount]:
    """For each channel, how many conversations, patient messages and tickets the period had (every channel
    listed, zeros included, so a practice sees the web chat next to SMS)."""
    messages = dict((channel, (conversations, count)) for channel, conversations, count in session.execute(
        select(InboundMessage.channel, func.count(func.distinct(InboundMessage.conversation_id)), func.count())
        .where(InboundMessage.received_at >= since, InboundMessage.received_at < until)
        .group_by(InboundMessage.channel)))
    tickets = dict(session.execute(
        select(Conversation.channel, func.count()).join(HandoffTicket, HandoffTicket.conversation_id == Conversation.id)
        .where(HandoffTicket.created_at >= since, HandoffTicket.created_at < until)
        .group_by(Conversation.channel)).all())
    return [ChannelCount(channel, *messages.get(channel, (0, 0)), tickets.get(channel, 0)) for channel in Channel]
