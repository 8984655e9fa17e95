"""Web chat from the practice's website: anonymous chats, their messages, and what the widget is streamed.

A chat is a conversation on :attr:`Channel.WEB_CHAT` whose address is a random chat id; the visitor
holds a token (only its hash is stored) that proves the chat is theirs. Everything a server needs is in
the database (the chat, the counts behind the flood limits, which replies were streamed), so any server
of a group can serve any chat. The visitor's texts are stored like texts (:func:`inbound.store_message`)
and answered by the same turn machinery; the replies are outbox rows of the conversation that the
widget's event stream delivers (:func:`replies_after`, :func:`mark_streamed`).
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.messaging import consent, conversations, inbound, outbox
from bot.models import Channel, InboundMessage, OutboundMessage, OutboundStatus, RateHit, WebChat, WebChatCode
from bot.patients import normalize_phone
from bot.practice import get_practice
from bot.wording import texts

MAX_MESSAGE_CHARS = 1600           # as long as a text may be
IDLE_TIMEOUT = timedelta(minutes=30)  # a chat nobody used this long is over; the visitor starts a new one


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests per ``window`` under one key (a chat, a client address, a phone)."""

    name: str
    count: int
    window: timedelta

    def key(self, who: str) -> str:
        return f"{self.name}:{who}"[:120]


CHATS_PER_ADDRESS = Limit("chat-open", 10, timedelta(hours=1))
MESSAGES_PER_CHAT = Limit("chat-message", 12, timedelta(minutes=1))
MESSAGES_PER_ADDRESS = Limit("chat-address", 40, timedelta(minutes=1))


class ChatRefused(Exception):
    """A request the chat API refuses; ``reason`` names why (the adapter picks the HTTP status)."""

    reason = "refused"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail or self.reason


class ChatNotFound(ChatRefused):
    reason = "no_such_chat"


class WrongToken(ChatRefused):
    reason = "not_your_chat"


class ChatExpired(ChatRefused):
    reason = "chat_expired"


class TooLong(ChatRefused):
    reason = "message_too_long"


class Flooded(ChatRefused):
    reason = "too_many_requests"


class NotAPhone(ChatRefused):
    reason = "not_a_phone_number"


# --- Flood limits, counted in the database -------------------------------------------------

def count_hit(session: Session, limit: Limit, who: str, now: datetime) -> None:
    """Count one request of ``who`` under ``limit``; :class:`Flooded` when it is over (the refusal is not counted).

    Two servers counting at the same instant may both let the last allowed request through: a flood
    limit, not a quota.
    """
    key = limit.key(who)
    since = now - limit.window
    used = session.execute(select(func.count()).select_from(RateHit)
                           .where(RateHit.key == key, RateHit.at > since)).scalar_one()
    if used >= limit.count:
        raise Flooded(f"{limit.name}: at most {limit.count} per {int(limit.window.total_seconds())} s")
    session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at <= since))
    session.add(RateHit(key=key, at=now))
    session.flush()


# --- Chats ----------------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_chat(session: Session, *, client_address: str, origin: str | None, now: datetime) -> tuple[WebChat, str]:
    """A new anonymous chat and its token (the token is returned once and stored only hashed)."""
    count_hit(session, CHATS_PER_ADDRESS, client_address, now)
    chat_id, token = secrets.token_urlsafe(18), secrets.token_urlsafe(32)
    conversation = conversations.conversation_for(session, Channel.WEB_CHAT, chat_id, now)
    chat = WebChat(chat_id=chat_id, token_hash=_hash(token), conversation_id=conversation.id,
                   client_address=client_address[:64], origin=(origin or "")[:200] or None,
                   created_at=now, last_seen_at=now)
    session.add(chat)
    session.flush()
    return chat, token


def chat_for(session: Session, chat_id: str, token: str | None, now: datetime) -> WebChat:
    """The visitor's chat, if ``token`` is its token and it has not timed out; else a :class:`ChatRefused`."""
    chat = session.execute(select(WebChat).where(WebChat.chat_id == chat_id)).scalar_one_or_none()
    if chat is None:
        raise ChatNotFound()
    if not token or not hmac.compare_digest(chat.token_hash, _hash(token)):
        raise WrongToken()
    if now - chat.last_seen_at > IDLE_TIMEOUT:
        raise ChatExpired()
    return chat


def receive_message(session: Session, chat: WebChat, text: str, *, client_address: str, now: datetime,
                    client_message_id: str | None = None) -> tuple[InboundMessage, bool]:
    """Store the visitor's message (flood limits first); (message, is_new: False for a resend of the same id)."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise TooLong(f"at most {MAX_MESSAGE_CHARS} characters")
    count_hit(session, MESSAGES_PER_CHAT, chat.chat_id, now)
    count_hit(session, MESSAGES_PER_ADDRESS, client_address, now)
    chat.last_seen_at = now
    message_id = f"{chat.chat_id}:{(client_message_id or uuid.uuid4().hex)[:40]}"[:64]
    return inbound.store_message(session, chat.conversation, channel_message_id=message_id, body=text, media=[],
                                 now=now)


def touch(chat: WebChat, now: datetime) -> None:
    """The visitor is still there (their widget is listening): the chat does not time out."""
    chat.last_seen_at = now


# --- What the widget is streamed ------------------------------------------------------------

STREAMED = (OutboundStatus.PENDING, OutboundStatus.SENDING, OutboundStatus.DELIVERED)


def replies_after(session: Session, chat: WebChat, after_id: int, limit: int = 50) -> list[OutboundMessage]:
    """The chat's outbound texts (the bot's, staff's) after ``after_id``, oldest first.

    Delivered rows are included, so a second tab or a reconnect without a Last-Event-ID shows the
    whole transcript; a resume passes the last id it got and gets each later row once.
    """
    return list(session.execute(
        select(OutboundMessage)
        .where(OutboundMessage.conversation_id == chat.conversation_id, OutboundMessage.id > after_id,
               OutboundMessage.status.in_(STREAMED))
        .order_by(OutboundMessage.id).limit(limit)
    ).scalars())


def mark_streamed(session: Session, outbound_ids: list[int], now: datetime) -> int:
    """The widget got these rows: delivered (the web chat's "sender" is the stream). Returns how many changed."""
    if not outbound_ids:
        return 0
    return session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(outbound_ids),
               OutboundMessage.status.in_((OutboundStatus.PENDING, OutboundStatus.SENDING)))
        .values(status=OutboundStatus.DELIVERED, sent_at=now, status_at=now)
    ).rowcount


# --- Verifying the visitor's phone -----------------------------------------------------------
#
# Before verification a chat may hear office information, book a new-patient visit and ask general
# questions; the visits of a phone's patients are discussed only once the visitor typed the code
# texted to that phone (:func:`bot.messaging.conversations.patient_phone`).

CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 5
CODES_PER_PHONE = Limit("chat-code-phone", 3, timedelta(hours=1))
CODES_PER_ADDRESS = Limit("chat-code-address", 5, timedelta(hours=1))


class CodeCheck(str, enum.Enum):
    """What became of a code the visitor typed."""

    VERIFIED = "verified"
    WRONG = "wrong_code"        # tries left: type it again
    EXPIRED = "code_expired"    # ask for a new one
    LOCKED = "too_many_tries"   # 5 wrong tries: ask for a new one
    NO_CODE = "no_code"         # none was asked for


def _code_hash(chat: WebChat, code: str) -> str:
    return hmac.new(chat.token_hash.encode(), code.strip().encode(), hashlib.sha256).hexdigest()


def request_code(session: Session, chat: WebChat, phone_text: str, *, client_address: str, now: datetime,
                 code: str | None = None) -> str:
    """Text a 6-digit code to the phone the visitor gave; returns the phone (E.164).

    Limits per phone and per client address come first (:class:`Flooded`). An opted-out phone gets
    nothing, but the visitor is answered the same way, so the chat never tells who opted out. A new code
    replaces the chat's earlier ones. ``code`` is for tests; otherwise it is random.
    """
    phone = normalize_phone(phone_text or "")
    if phone is None:
        raise NotAPhone("a US phone number, like (503) 555-0123")
    count_hit(session, CODES_PER_PHONE, phone, now)
    count_hit(session, CODES_PER_ADDRESS, client_address, now)
    session.execute(update(WebChatCode).where(WebChatCode.web_chat_id == chat.id, WebChatCode.used_at.is_(None),
                                              WebChatCode.expires_at > now).values(expires_at=now))
    code = code or f"{secrets.randbelow(10**6):06d}"
    session.add(WebChatCode(web_chat_id=chat.id, phone=phone, code_hash=_code_hash(chat, code), created_at=now,
                            expires_at=now + CODE_LIFETIME, tries=0))
    chat.last_seen_at = now
    if not consent.is_opted_out(session, phone):
        practice = get_practice(session)
        body = texts.render("web_chat_code", practice_name=practice.name, practice_phone=practice.phone, code=code,
                            language=conversations.conversation_language(session, chat.conversation))
        outbox.enqueue_text(session, phone, body, outbox.OutboundKind.VERIFICATION, now)
    session.flush()
    return phone


def check_code(session: Session, chat: WebChat, code: str, now: datetime) -> tuple[CodeCheck, int]:
    """Check the code the visitor typed against the chat's newest one: (result, tries left).

    Right: the chat carries the phone from now on (its patients' visits may be discussed). Each wrong
    try counts (the caller commits it); after :data:`CODE_TRIES` the code is dead.
    """
    chat.last_seen_at = now
    current = session.execute(select(WebChatCode).where(WebChatCode.web_chat_id == chat.id,
                                                        WebChatCode.used_at.is_(None))
                              .order_by(WebChatCode.id.desc()).limit(1)).scalar_one_or_none()
    if current is None:
        return CodeCheck.NO_CODE, 0
    if current.tries >= CODE_TRIES:
        return CodeCheck.LOCKED, 0
    if now >= current.expires_at:
        return CodeCheck.EXPIRED, 0
    current.tries += 1
    if not hmac.compare_digest(current.code_hash, _code_hash(chat, code or "")):
        left = CODE_TRIES - current.tries
        return (CodeCheck.WRONG if left else CodeCheck.LOCKED), left
    current.used_at = now
    chat.verified_phone, chat.verified_at = current.phone, now
    return CodeCheck.VERIFIED, CODE_TRIES - current.tries
