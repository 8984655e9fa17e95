"""A patient's text arriving: stored first, cleaned, and triaged before the bot sees it.

A channel calls :func:`store_message` (SMS: :func:`store_inbound`) before it
answers its webhook, so a text is never lost, and a retry of the same channel
message id (SMS: Twilio's MessageSid) is recognised by the unique constraint,
not by a lookup that two concurrent retries could both pass.
:func:`triage_inbound` then settles what must not wait for (or must not reach)
the conversational bot: consent keywords, pictures, emergencies while staff
have the conversation. What is left goes to Rasa as :attr:`Triage.nlu_text`.
"""
from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import wording
from bot.language.detect import only_asks_for_language
from bot.language.safety import emergency_language, emergency_reason
from bot.messaging import consent, conversations, outbox
from bot.models import Conversation, HandoffTicket, InboundMessage, OutboundMessage, OutboundStatus
from bot.practice import get_practice, practice_zone
from bot.staff import handoff, oncall, routing
from bot.wording import texts
from bot.wording.on_call import render_callback

MAX_STORED_CHARS = 1600  # Twilio's limit for one text; we keep all of it
MAX_NLU_CHARS = 500      # what the classifier gets; longer texts are cut
WHOLE_TEXT_KEY = "whole_text"  # message metadata: the uncut text, for the NLU's emergency override
CANCEL_TICKET_REASON = "patient texted CANCEL: call to check whether they meant their appointment"


# --- Hygiene (pure) -----------------------------------------------------------------

def remove_control_characters(text: str) -> str:
    """Drop control and format characters; newlines and tabs become spaces.

    Emoji joiners (ZWJ) and variation selectors are kept so emoji survive.
    """
    kept = []
    for char in text:
        if char in "\n\r\t":
            kept.append(" ")
        elif unicodedata.category(char) == "Cc":
            continue
        elif unicodedata.category(char) == "Cf" and char not in "\u200d":
            continue
        else:
            kept.append(char)
    return "".join(kept)


_LEADING_SLASHES = re.compile(r"^[\s/]+")


def text_for_nlu(body: str) -> str:
    """What Rasa's NLU may read of a patient's text.

    Rasa treats a message starting with "/" as a raw intent ("/restart",
    "/affirm{...}"), which would let a patient leave the staff queue or set a
    slot; every leading slash (also after spaces) is removed. Control
    characters go, and the text is cut to :data:`MAX_NLU_CHARS`.
    """
    cleaned = _LEADING_SLASHES.sub("", remove_control_characters(body))
    cleaned = re.sub(r" {2,}", " ", cleaned).strip()
    return cleaned[:MAX_NLU_CHARS].rstrip()


def text_for_safety(body: str) -> str:
    """The whole text, cleaned, for the emergency safety net: never cut.

    An emergency at the end of a long letter must be caught like one at its
    start, so the safety net reads every stored character (up to 1,600), even
    though the classifier gets only the first :data:`MAX_NLU_CHARS`.
    """
    return re.sub(r" {2,}", " ", remove_control_characters(text_to_store(body))).strip()


def text_to_store(body: str) -> str:
    """The whole text as received, up to Twilio's 1,600 characters (NUL removed for PostgreSQL)."""
    return body.replace("\x00", "")[:MAX_STORED_CHARS]


def media_from_form(form: dict[str, str]) -> list[dict[str, str]]:
    """Twilio's ``NumMedia``/``MediaUrlN``/``MediaContentTypeN`` fields as a list."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = 0
    return [
        {"url": form.get(f"MediaUrl{i}", ""), "content_type": form.get(f"MediaContentType{i}", "")}
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    ]


# --- Storage ----------------------------------------------------------------------

def store_message(
    session: Session,
    conversation: Conversation,
    *,
    channel_message_id: str,
    body: str,
    media: list[dict[str, str]],
    now: datetime,
    to_number: str | None = None,
    opt_out_type: str | None = None,
) -> tuple[InboundMessage, bool]:
    """Store a patient's message keyed by its channel's own id; ``is_new`` is False for a retry.

    ``INSERT ... ON CONFLICT DO NOTHING`` makes concurrent retries safe: on
    PostgreSQL the second insert waits for the first transaction and then
    inserts nothing; on SQLite writers are serialised by ``BEGIN IMMEDIATE``.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(InboundMessage).values(
        conversation_id=conversation.id,
        channel=conversation.channel,
        channel_message_id=channel_message_id,
        phone=conversations.phone_of(conversation),
        to_number=to_number,
        body=text_to_store(body),
        media=media,
        received_at=now,
        status="received",
        opt_out_type=(opt_out_type or None) and opt_out_type[:10],
    ).on_conflict_do_nothing(index_elements=["channel", "channel_message_id"])
    is_new = session.execute(statement).rowcount == 1
    message = session.execute(
        select(InboundMessage).where(InboundMessage.channel == conversation.channel,
                                     InboundMessage.channel_message_id == channel_message_id)
    ).scalar_one()
    return message, is_new


def store_inbound(
    session: Session,
    *,
    message_sid: str,
    phone: str,
    to_number: str | None,
    body: str,
    media: list[dict[str, str]],
    now: datetime,
    opt_out_type: str | None = None,
) -> tuple[InboundMessage, bool]:
    """Store a text from ``phone`` in its SMS conversation, keyed by Twilio's MessageSid."""
    return store_message(session, conversations.sms_conversation(session, phone, now), channel_message_id=message_sid,
                         body=body, media=media, now=now, to_number=to_number, opt_out_type=opt_out_type)


# --- Taking a text, and what a crash leaves behind -------------------------------------
#
# Every stored text ends in exactly one outcome (InboundMessage.outcome): the bot
# answered it, staff have it (a ticket), or a recorded reason for silence. The
# status says how far along it is: received -> processing -> processed | failed.

UNCLAIMED_GRACE = timedelta(seconds=30)   # not taken by then: a server's sweep takes it
UNCLAIMED_GIVE_UP = timedelta(minutes=10)  # still not taken: no assistant is running; staff get it
PROCESSING_TIMEOUT = timedelta(seconds=90)  # a turn running this long died with its server

class InboundOutcome(str, enum.Enum):
    """Why a text ended the way it did (InboundMessage.outcome stores the plain value)."""

    REPLIED = "replied"                  # the bot (or a keyword) answered
    WITH_STAFF = "with_staff"            # attached to an open ticket: staff answer, the bot is silent
    HANDED_TO_STAFF = "handed_to_staff"  # the bot could not handle it; a ticket and a holding reply
    CONSENT_KEYWORD = "consent_keyword"  # STOP/START/HELP settled it (Twilio may confirm it)
    OPTED_OUT = "opted_out"              # the phone is opted out; any reply was blocked
    NOTHING_TO_SAY = "nothing_to_say"    # an empty text with nothing attached


REPLIED, WITH_STAFF, HANDED_TO_STAFF, CONSENT_KEYWORD, OPTED_OUT, NOTHING_TO_SAY = InboundOutcome

HOLDING_TICKET_REASON = "The assistant could not answer this text; please read the conversation and reply"


def claim_inbound(session: Session, inbound_id: int, now: datetime) -> bool:
    """Take a stored text for processing; False if another server (or an earlier run) has it.

    The conditional UPDATE is the claim, so several Rasa servers can sweep the
    same table without answering one text twice.
    """
    result = session.execute(
        update(InboundMessage).where(InboundMessage.id == inbound_id, InboundMessage.status == "received")
        .values(status="processing", claimed_at=now, attempts=InboundMessage.attempts + 1)
    )
    return result.rowcount == 1


def unclaimed_texts(session: Session, now: datetime, limit: int = 100) -> list[InboundMessage]:
    """Texts stored but never taken: the server that received them died before it began."""
    return list(session.execute(
        select(InboundMessage)
        .where(InboundMessage.status == "received", InboundMessage.received_at < now - UNCLAIMED_GRACE)
        .order_by(InboundMessage.id).limit(limit)
    ).scalars())


def hand_to_staff(session: Session, message: InboundMessage, now: datetime, reason: str = HOLDING_TICKET_REASON
                  ) -> HandoffTicket:
    """The bot could not settle this text: a ticket for the conversation and one holding reply.

    The patient is told when to expect an answer ("We got your text; our front
    desk will reply by 9:00 AM tomorrow"), so a failed turn is never silence.
    """
    practice = get_practice(session)
    queue = routing.queue_for(practice, routing.STUCK_TEXT)
    ticket = handoff.open_ticket(session, conversation=message.conversation, queue=queue, now=now, intent="system",
                                 reason=reason)
    message.ticket_id = ticket.id
    message.status, message.processed_at, message.outcome = "failed", now, HANDED_TO_STAFF
    language = conversations.language_of_text(session, message.conversation, text_for_nlu(message.body or ""))
    team = routing.team_name(practice, queue, language)
    body = texts.render("holding_reply", practice_name=practice.name, practice_phone=practice.phone, team=team,
                        language=language,
                        answer_time=wording.answer_time_phrase(ticket.due_at, now, practice_zone(practice), language))
    outbox.enqueue(session, message.conversation, body, outbox.OutboundKind.REPLY, now, ticket_id=ticket.id)
    return ticket


def hand_stuck_texts_to_staff(session: Session, now: datetime,
                              processing_timeout: timedelta = PROCESSING_TIMEOUT) -> list[InboundMessage]:
    """Texts whose turn died half-way, or that no assistant took for minutes: a person checks.

    Processing a half-done turn again could answer or book twice, so it goes to
    staff with a holding reply. Any process may run this (the outbox sender does,
    every few seconds), so a crashed assistant's texts reach staff within two minutes.
    """
    stuck = list(session.execute(
        select(InboundMessage)
        .where(or_(
            and_(InboundMessage.status == "processing", InboundMessage.claimed_at < now - processing_timeout),
            and_(InboundMessage.status == "received", InboundMessage.received_at < now - UNCLAIMED_GIVE_UP),
        ))
        .order_by(InboundMessage.id)
        .with_for_update(skip_locked=True)
    ).scalars())
    for message in stuck:
        hand_to_staff(session, message, now)
    return stuck


def mark_processed(session: Session, inbound_id: int, now: datetime, *, outcome: str,
                   intent: str | None = None, confidence: float | None = None) -> None:
    """The turn ended; ``outcome`` says how (one of the outcomes above)."""
    session.execute(
        update(InboundMessage).where(InboundMessage.id == inbound_id)
        .values(status="processed", processed_at=now, outcome=outcome, intent=intent, confidence=confidence)
    )


def finish_turn(session: Session, inbound_id: int, now: datetime, *, reply: str | None, was_opted_out: bool,
                intent: str | None = None, confidence: float | None = None, claimed_by: str | None = None
                ) -> tuple[OutboundMessage | None, str]:
    """The bot answered: store its reply (None while staff hold the conversation) and the text's outcome.

    If the turn itself opted the phone out ("please stop texting me"), the reply is
    that opt-out's one confirmation and may still go.
    """
    if reply is None:
        mark_processed(session, inbound_id, now, outcome=WITH_STAFF, intent=intent, confidence=confidence)
        return None, WITH_STAFF
    conversation = session.get(InboundMessage, inbound_id).conversation
    phone = conversations.phone_of(conversation)
    kind = outbox.OutboundKind.REPLY
    if not was_opted_out and phone is not None and consent.is_opted_out(session, phone):
        kind = outbox.CONSENT_CONFIRMATION
    row = outbox.enqueue(session, conversation, reply, kind, now, claimed_by=claimed_by)
    outcome = OPTED_OUT if row.status == OutboundStatus.BLOCKED else REPLIED
    mark_processed(session, inbound_id, now, outcome=outcome, intent=intent, confidence=confidence)
    return row, outcome


def record_attempt(session: Session, inbound_id: int, now: datetime) -> int:
    """One more try of the turn (Rasa or the action server failed); returns the count so far."""
    message = session.get(InboundMessage, inbound_id, populate_existing=True)
    message.attempts = (message.attempts or 0) + 1
    message.claimed_at = now  # a turn being retried is alive, not stuck
    return message.attempts


# --- Triage -----------------------------------------------------------------------

@dataclass
class Triage:
    """What the channel does next with a stored text."""

    pass_to_rasa: bool
    nlu_text: str
    whole_text: str = ""  # what the safety net reads (the NLU's emergency override gets it too)
    outbound_ids: list[int] = field(default_factory=list)  # to send right away
    keyword: str | None = None
    paused_ticket_id: int | None = None
    opened_ticket_id: int | None = None
    outcome: str | None = None  # set when triage itself ends the text (it does not go to Rasa)
    phone: str = ""      # the sender's phone ("" off SMS)
    sender_id: str = ""  # the conversation's Rasa sender id (SMS: the phone)
    message_sid: str = ""  # the channel's message id (SMS: Twilio's MessageSid)
    num_media: int = 0
    was_opted_out: bool = False  # before this text (a turn that opts out still sends its confirmation)


def consent_keyword(session: Session, phone: str, body: str, opt_out_type: str | None) -> str | None:
    """The consent keyword this text is: a STOP, START or HELP word, or None.

    Twilio's ``OptOutType`` (STOP/START/HELP) also counts, for keywords a
    practice configured in Advanced Opt-Out. YES only opts back in a phone
    that is opted out; otherwise it is an answer for the bot ("YES" to "shall
    I book it?").
    """
    word = consent.keyword_of(body)
    if word == "YES" or (word is None and opt_out_type == "START"):
        return "START" if consent.is_opted_out(session, phone) else None
    if word is None and opt_out_type in ("STOP", "HELP"):
        return opt_out_type
    return word


def triage_inbound(
    session: Session,
    message: InboundMessage,
    *,
    now: datetime,
    advanced_opt_out: bool,
    opt_out_type: str | None = None,
) -> Triage:
    """Settle consent keywords, pictures and (while staff have the chat) emergencies.

    Keywords always act first, whoever has the conversation. With Twilio's
    Advanced Opt-Out on, Twilio sends the confirmations and HELP answer, so we
    only record consent (but answer a Spanish keyword Twilio did not mark). A bare CANCEL opts out (Twilio does too) and also asks
    the front desk to call, since the patient may have meant an appointment.
    """
    practice = get_practice(session)
    conversation, body = message.conversation, message.body or ""
    phone = conversations.phone_of(conversation)
    # A keyword ("HELP") is answered in the conversation's language; any other text in the one it is written in.
    fill = {"practice_name": practice.name, "practice_phone": practice.phone,
            "language": conversations.conversation_language(session, conversation)}
    nlu_text = text_for_nlu(body)
    result = Triage(pass_to_rasa=False, nlu_text=nlu_text, whole_text=text_for_safety(body), phone=phone or "",
                    sender_id=conversations.conversation_sender_id(conversation),
                    message_sid=message.channel_message_id, num_media=len(message.media or []),
                    was_opted_out=phone is not None and consent.is_opted_out(session, phone))

    word = consent_keyword(session, phone, body, opt_out_type) if phone is not None else None  # STOP is per phone
    if word is not None:
        result.keyword = word
        detail = f"inbound {message.channel_message_id}: {word}"
        if consent.is_spanish_keyword(body):  # "AYUDA" is answered in Spanish whatever was stored
            fill["language"] = "es"
            detail += f" ({body.strip()[:20]})"
            # Twilio's Advanced Opt-Out answers only the keywords it knows, and then says so (OptOutType):
            # a Spanish one it did not mark is ours to confirm.
            advanced_opt_out = advanced_opt_out and opt_out_type is not None
        if word in consent.OPT_OUT_KEYWORDS:
            consent.record_opt_out(session, phone, "keyword", now, detail=detail)
            if not advanced_opt_out:
                row = outbox.enqueue(session, conversation, texts.render("opt_out_confirmation", **fill),
                                          outbox.CONSENT_CONFIRMATION, now)
                result.outbound_ids.append(row.id)
            if word == "CANCEL":
                ticket = handoff.open_ticket(session, conversation=conversation, queue=routing.queue_for(practice, routing.CANCEL_KEYWORD),
                                             reason=CANCEL_TICKET_REASON, now=now)
                result.opened_ticket_id = ticket.id
        elif word in consent.OPT_IN_KEYWORDS:
            consent.record_opt_in(session, phone, "keyword", now, detail=detail)
            if not advanced_opt_out:
                row = outbox.enqueue(session, conversation, texts.render("opt_in_confirmation", **fill),
                                          outbox.OutboundKind.CONSENT, now)
                result.outbound_ids.append(row.id)
        elif not advanced_opt_out:  # HELP, INFO
            row = outbox.enqueue(session, conversation, texts.render("help", **fill), outbox.HELP_REPLY, now)
            result.outbound_ids.append(row.id)
        result.outcome = CONSENT_KEYWORD
        return result

    fill["language"] = conversations.language_of_text(session, conversation, nlu_text) or fill["language"]
    paused = handoff.open_ticket_for(session, conversation)
    if paused is None and only_asks_for_language(nlu_text):  # "English please": stored above; nothing for Rasa
        row = outbox.enqueue(session, conversation, texts.render("language_switched", **fill), outbox.OutboundKind.REPLY,
                             now)
        result.outbound_ids.append(row.id)
        result.outcome = REPLIED if row.status != OutboundStatus.BLOCKED else OPTED_OUT
        return result
    if paused is not None:
        message.ticket_id = paused.id
        paused.last_activity_at = now
        result.paused_ticket_id = paused.id

    if message.media and not nlu_text:
        urls = ", ".join(item["url"] for item in message.media)
        ticket = handoff.open_ticket(session, conversation=conversation, queue=routing.queue_for(practice, routing.PICTURE),
                                     reason=f"patient sent a picture with no text: {urls}", now=now)
        message.ticket_id = ticket.id
        row = outbox.enqueue(session, conversation, texts.render("picture_reply", **fill), outbox.OutboundKind.REPLY, now,
                                  ticket_id=ticket.id)
        result.outbound_ids.append(row.id)
        result.opened_ticket_id = ticket.id
        result.outcome = HANDED_TO_STAFF
        return result

    if not nlu_text and not message.media:
        if paused is not None:
            result.outcome = WITH_STAFF
            return result
        row = outbox.enqueue(session, conversation, texts.render("empty_text_reply", **fill), outbox.OutboundKind.REPLY, now)
        result.outbound_ids.append(row.id)
        result.outcome = REPLIED if row.status != OutboundStatus.BLOCKED else OPTED_OUT
        return result

    if paused is not None:
        reason = emergency_reason(result.whole_text)
        if reason:
            ticket = handoff.open_ticket(session, conversation=conversation, queue=routing.queue_for(practice, routing.EMERGENCY),
                                         reason=f"emergency while with staff: {reason}", now=now,
                                         intent="emergency", patient_id=paused.patient_id)
            message.ticket_id = ticket.id  # the urgent team's to read, not the paused ticket's queue
            advice = "emergency_es" if emergency_language(result.whole_text) == "es" else "emergency"  # both languages
            body = texts.render(advice, **fill)
            promise = oncall.after_hours_callback(session, practice, ticket, now, fill["language"])
            if promise is not None:  # the office is closed and on-call was paged: say who calls back, by when
                body = f"{body} {render_callback(promise.team, promise.minutes, fill['language'])}"
            row = outbox.enqueue(session, conversation, body, outbox.OutboundKind.REPLY, now, ticket_id=ticket.id)
            result.outbound_ids.append(row.id)
            result.opened_ticket_id = ticket.id

    result.pass_to_rasa = True
    return result


def claim_and_triage(session: Session, inbound_id: int, *, now: datetime, advanced_opt_out: bool
                     ) -> Triage | None:
    """Take the stored text and triage it in one transaction; None if another server has it."""
    if not claim_inbound(session, inbound_id, now):
        return None
    message = session.get(InboundMessage, inbound_id)
    triage = triage_inbound(session, message, now=now, advanced_opt_out=advanced_opt_out,
                            opt_out_type=message.opt_out_type)
    if triage.outcome is not None:
        message.status, message.processed_at, message.outcome = "processed", now, triage.outcome
    return triage
