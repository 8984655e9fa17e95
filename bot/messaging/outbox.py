"""The outbox: every text to a patient is stored here before it is sent.

Adapters (the SMS channel, the staff inbox, the reminder worker) call
:func:`enqueue` (a conversation's text) or :func:`enqueue_text` (a text to a
phone, in its SMS conversation). Each channel's sender takes the rows of its
own channel (``due_ids(..., channel=)``; the registry is :mod:`channels.registry`):
:mod:`channels.sms_twilio.sender` hands SMS rows to Twilio. A row for a
phone without consent to the kind's purpose (opted out; billing without billing consent) is stored
as ``blocked`` and never sent. The first automated text to a phone is preceded by the one-time welcome.
"""
from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messaging import consent, conversations
from bot.models import Channel, ConsentPurpose, Conversation, OutboundMessage, OutboundStatus, WelcomeText


class OutboundKind(str, enum.Enum):
    """What a text to a patient is, with its rules; a new kind of text is one member here.

    ``automated``: the practice sends it unasked (caps and quiet hours apply).
    ``after_opt_out``: may still go to an opted-out phone (the opt-out's own
    confirmation, and the HELP answer carriers require whatever the consent).
    ``conversation``: the patient is waiting for it; staff hear at once when it
    cannot go out. ``label``: who the inbox transcript says wrote it.
    ``purpose``: the consent it needs (:mod:`bot.messaging.consent`); None for the
    few texts no patient consent governs (those allowed after an opt-out).
    ``capped``: counts against the daily and weekly caps (every automated text, unless it
    answers the patient's own action, like the text back to their missed call).
    The column stores the plain value.
    """

    def __new__(cls, value: str, automated: bool, after_opt_out: bool, conversation: bool, label: str,
                purpose: ConsentPurpose | None = ConsentPurpose.CARE, capped: bool | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.automated, member.after_opt_out, member.conversation, member.label, member.purpose = (
            automated, after_opt_out, conversation, label, purpose)
        member.capped = automated if capped is None else capped
        return member

    #                     automated after_opt_out conversation label  purpose (care unless named)
    REPLY = ("reply", False, False, True, "bot")
    STAFF = ("staff", False, False, True, "staff")
    REMINDER = ("reminder", True, False, False, "reminder")
    RECALL = ("recall", True, False, False, "reminder")
    WAITLIST = ("waitlist", True, False, False, "reminder")
    # The text back to an unanswered caller: it answers their own call, so it keeps quiet hours but never uses
    # up the day's reminder under the caps.
    MISSED_CALL = ("missed_call", True, False, False, "missed call", ConsentPurpose.CARE, False)
    # The code a web chat visitor asked for (bot.messaging.web_chat): they wait for it, unasked it never goes.
    VERIFICATION = ("verification", False, False, False, "system")
    CONSENT = ("consent", False, False, False, "system")  # the opt-in confirmation
    CONSENT_CONFIRMATION = ("consent_confirmation", False, True, False, "system", None)  # the opt-out's
    HELP_REPLY = ("help_reply", False, True, False, "system", None)
    # The carriers' one-time welcome before the first automated text to a phone (see enqueue): not automated
    # itself, so it never takes the place of the text it announces under the caps.
    WELCOME = ("welcome", False, False, False, "system")
    # A bill-ready notice: billing consent only (its import and wording are still to come, issue 13).
    BILL = ("bill", True, False, False, "billing", ConsentPurpose.BILLING)
    # A text staff send to a day's patients (bot.messaging.broadcasts: the office closed, a provider running late):
    # an operational care text, so it keeps quiet hours (and gets the welcome first) but never uses up the day's
    # reminder under the caps (the day's closure must reach a patient already reminded).
    BROADCAST = ("broadcast", True, False, False, "broadcast", ConsentPurpose.CARE, False)
    # A page to the practice's on-call staff number about an urgent ticket (bot.staff.oncall), not a text to
    # a patient: it must go at 3 AM, so it is not automated (quiet hours and caps are the patient's
    # protection), and a patient's consent records say nothing about a staff phone, so an opt-out stored
    # for that number does not hold it back (Twilio's own STOP block, error 21610, still does).
    ON_CALL_PAGE = ("on_call_page", False, True, False, "on call", None)


def transcript_label(kind: str) -> str:
    """Who wrote a stored text, as the transcript shows it ("system" for a kind no longer known)."""
    try:
        return OutboundKind(kind).label
    except ValueError:
        return "system"


CONSENT_CONFIRMATION = OutboundKind.CONSENT_CONFIRMATION
HELP_REPLY = OutboundKind.HELP_REPLY
ALLOWED_WHEN_OPTED_OUT = frozenset(k for k in OutboundKind if k.after_opt_out)
CONVERSATION_KINDS = frozenset(k for k in OutboundKind if k.conversation)
_KIND_VALUES = frozenset(k.value for k in OutboundKind)
CAPPED_KINDS = tuple(k.value for k in OutboundKind if k.capped)  # count against the daily and weekly caps

RETRY_FOR = timedelta(hours=24)          # 429, 5xx and network errors are retried this long
ALERT_AFTER = timedelta(minutes=10)      # a conversation text still not out by then: staff are told


def enqueue(
    session: Session,
    conversation: Conversation,
    body: str,
    kind: OutboundKind | str,
    now: datetime,
    *,
    ticket_id: int | None = None,
    staff_user_id: int | None = None,
    claimed_by: str | None = None,
) -> OutboundMessage:
    """Store a text in the conversation for sending; returns the row (``blocked`` without consent to its purpose).

    ``claimed_by`` stores it already claimed by that sender (status ``sending``), which
    then sends it at once: one transaction less on the way to the patient.
    """
    kind = OutboundKind(kind)
    phone = conversations.phone_of(conversation)
    blocked = not allowed_to(session, phone, kind)
    if kind.automated and not blocked and phone is not None:
        _welcome_first(session, conversation, phone, now)
    claimed = claimed_by is not None and not blocked
    row = OutboundMessage(
        conversation_id=conversation.id,
        phone=phone,
        body=body,
        kind=kind.value,
        status=OutboundStatus.BLOCKED if blocked else OutboundStatus.SENDING if claimed else OutboundStatus.PENDING,
        created_at=now,
        next_attempt_at=now,
        give_up_at=now + RETRY_FOR,
        claimed_at=now if claimed else None,
        claimed_by=claimed_by if claimed else None,
        attempts=1 if claimed else 0,
        ticket_id=ticket_id,
        staff_user_id=staff_user_id,
    )
    session.add(row)
    session.flush()
    return row


def allowed_to(session: Session, phone: str | None, kind: OutboundKind) -> bool:
    """May a text of ``kind`` go to ``phone`` now, as far as consent goes? (Off SMS: no phone, no rule.)"""
    if phone is None or kind.purpose is None:
        return True
    return consent.allows(session, phone, kind.purpose)


def _welcome_first(session: Session, conversation: Conversation, phone: str, now: datetime) -> None:
    """Store the carriers' one-time welcome before the first automated text to ``phone``.

    Once per phone ever: the unique ``welcome_text.phone`` decides between two
    concurrent first texts (the loser's savepoint is rolled back, without a welcome).
    A practice whose numbers had it from an earlier texting service sets
    ``texting: {welcome: false}`` in its practice file.
    """
    if session.execute(select(WelcomeText.id).where(WelcomeText.phone == phone)).first() is not None:
        return
    from bot import wording
    from bot.patients import language_for_phone
    from bot.practice import get_practice

    practice = get_practice(session)
    if not ((practice.config or {}).get("texting") or {}).get("welcome", True):
        return
    body = wording.render("welcome", language_for_phone(session, phone), practice_name=practice.name)
    try:
        with session.begin_nested():
            welcome = WelcomeText(phone=phone, sent_at=now)
            session.add(welcome)
            session.flush()
            welcome.outbound_id = enqueue(session, conversation, body, OutboundKind.WELCOME, now).id
    except IntegrityError:
        pass  # another text to this phone stored its welcome first


def enqueue_text(
    session: Session,
    phone: str,
    body: str,
    kind: OutboundKind | str,
    now: datetime,
    **options,
) -> OutboundMessage:
    """Store a text to ``phone`` (in its SMS conversation) for sending: :func:`enqueue` for callers with a phone."""
    return enqueue(session, conversations.sms_conversation(session, phone, now), body, kind, now, **options)


# --- The sending state machine --------------------------------------------------------
#
# pending -> sending (claimed) -> queued/sent (Twilio has it, with its SID)
#         -> delivered / undelivered / failed (status callbacks)
# A claim is one conditional UPDATE (... WHERE status='pending'), so two senders
# never take the same row; a retryable error puts the row back to pending later.

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0

# How far along a row is; a status callback never moves a row backwards.
_PROGRESS = {
    OutboundStatus.PENDING: 0,
    OutboundStatus.SENDING: 1,
    OutboundStatus.QUEUED: 2,
    OutboundStatus.SENT: 3,
    OutboundStatus.DELIVERED: 4,
    OutboundStatus.UNDELIVERED: 4,
    OutboundStatus.FAILED: 4,
    OutboundStatus.BLOCKED: 4,
}
_TWILIO_STATUS = {
    "accepted": OutboundStatus.QUEUED,
    "scheduled": OutboundStatus.QUEUED,
    "queued": OutboundStatus.QUEUED,
    "sending": OutboundStatus.QUEUED,
    "sent": OutboundStatus.SENT,
    "delivered": OutboundStatus.DELIVERED,
    "undelivered": OutboundStatus.UNDELIVERED,
    "failed": OutboundStatus.FAILED,
}


def outbound_status_for(twilio_status: str | None) -> OutboundStatus | None:
    """Our status for a Twilio message status (None for one we do not track)."""
    return _TWILIO_STATUS.get((twilio_status or "").lower())


def backoff_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to 2 s, 4 s, 8 s ... (capped at 10 min)."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


def _on_channel(statement, channel: Channel | None):
    """Only rows of conversations on ``channel`` (each channel's sender sends its own); all with None."""
    if channel is None:
        return statement
    return statement.join(Conversation, Conversation.id == OutboundMessage.conversation_id).where(
        Conversation.channel == channel)


_CONVERSATION_FIRST = case((OutboundMessage.kind.in_([k.value for k in CONVERSATION_KINDS]), 0), else_=1)


def due_ids(session: Session, now: datetime, limit: int = 50, *, channel: Channel | None = None) -> list[int]:
    """The rows due now, replies and staff texts first (a patient waits for those), then oldest first:
    a 500-text broadcast never makes a patient's reply wait behind it."""
    return list(session.execute(
        _on_channel(select(OutboundMessage.id), channel)
        .where(OutboundMessage.status == OutboundStatus.PENDING, OutboundMessage.next_attempt_at <= now)
        .order_by(_CONVERSATION_FIRST, OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)
    ).scalars())


def claim(session: Session, outbound_id: int, *, now: datetime, sender_id: str,
          channel: Channel | None = None) -> OutboundMessage | None:
    """Take one due row for sending, or None if another sender has it, it is not due, or (with
    ``channel``) it belongs to another channel's conversation.

    Consent is checked again here: the phone may have opted out since the row
    was stored, and then the row is blocked instead of claimed.
    """
    on_channel = (OutboundMessage.conversation_id.in_(select(Conversation.id).where(Conversation.channel == channel))
                  if channel is not None else True)
    taken = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.status == OutboundStatus.PENDING,
               OutboundMessage.next_attempt_at <= now, on_channel)
        .values(status=OutboundStatus.SENDING, claimed_at=now, claimed_by=sender_id,
                attempts=OutboundMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    kind = OutboundKind(row.kind) if row.kind in _KIND_VALUES else OutboundKind.REPLY  # an older release's: care
    if not allowed_to(session, row.phone, kind):
        row.status, row.status_at, row.error_message = OutboundStatus.BLOCKED, now, "opted out before sending"
        return None
    return row


def mark_sent(session: Session, outbound_id: int, *, sid: str, twilio_status: str | None, now: datetime) -> None:
    """Twilio accepted the text: store its SID (a status callback may have been quicker)."""
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    row.twilio_sid = sid
    row.sent_at = row.sent_at or now
    new = outbound_status_for(twilio_status) or OutboundStatus.QUEUED
    if _PROGRESS[new] > _PROGRESS[row.status]:
        row.status = new
        row.status_at = now


def mark_retry(session: Session, outbound_id: int, *, now: datetime, error_code: int | None,
               error_message: str, rng: random.Random | None = None) -> OutboundStatus:
    """A retryable failure (429, 5xx, network): pending again after a backoff, for 24 hours.

    Past ``give_up_at`` the row is failed; staff will have been told long before
    (:func:`texts_needing_staff`), and are told again that it was given up.
    """
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    row.error_code, row.error_message = error_code, error_message[:300]
    give_up_at = row.give_up_at or (row.created_at + RETRY_FOR)
    retry_at = now + backoff_delay(row.attempts, rng)
    if retry_at >= give_up_at:
        row.status, row.status_at = OutboundStatus.FAILED, now
    else:
        row.status = OutboundStatus.PENDING
        row.next_attempt_at = retry_at
    return row.status


def mark_failed(session: Session, outbound_id: int, *, now: datetime, error_code: int | None,
                error_message: str) -> None:
    """Twilio refused the text for good (a bad number, a too-long body...)."""
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    row.status, row.status_at = OutboundStatus.FAILED, now
    row.error_code, row.error_message = error_code, error_message[:300]


def mark_opted_out_by_carrier(session: Session, outbound_id: int, *, now: datetime) -> None:
    """Twilio's error 21610: the phone unsubscribed (it texted STOP to Twilio). Record it, block the row."""
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    row.status, row.status_at = OutboundStatus.BLOCKED, now
    row.error_code, row.error_message = 21610, "recipient unsubscribed (Twilio 21610)"
    if not consent.is_opted_out(session, row.phone):
        consent.record_opt_out(session, row.phone, "twilio_21610", now, detail=f"outbound {row.id}")


def texts_needing_staff(session: Session, now: datetime, limit: int = 100) -> list[OutboundMessage]:
    """Conversation texts staff have not yet been told about: failed, or still not out after ALERT_AFTER."""
    return list(session.execute(
        select(OutboundMessage)
        .where(OutboundMessage.kind.in_(CONVERSATION_KINDS), OutboundMessage.alerted_at.is_(None),
               or_(OutboundMessage.status == OutboundStatus.FAILED,
                   and_(OutboundMessage.status.in_((OutboundStatus.PENDING, OutboundStatus.SENDING)),
                        OutboundMessage.created_at < now - ALERT_AFTER)))
        .order_by(OutboundMessage.id).limit(limit)
    ).scalars())


def tell_staff_about_texts_not_sent(session: Session, now: datetime) -> list[OutboundMessage]:
    """A ticket for each conversation text that failed or is stuck, so a person calls the patient.

    Run by the outbox sender every pass: when Twilio is down, the patient who asked
    something is not left waiting in silence, and the sender keeps trying anyway.
    """
    from bot.practice import get_practice, practice_zone
    from bot.staff import handoff, routing

    rows = texts_needing_staff(session, now)
    if not rows:
        return []
    practice = get_practice(session)
    zone = practice_zone(practice)
    queue = routing.queue_for(practice, routing.STUCK_TEXT)
    for row in rows:
        error = f" ({row.error_message})" if row.error_message else ""
        if row.status == OutboundStatus.FAILED:
            reason = f"Our text to this patient could not be sent{error}. Please call the patient."
        else:
            until = (row.give_up_at or row.created_at + RETRY_FOR).astimezone(zone).strftime("%a %I:%M %p")
            reason = (f"Our text to this patient has not gone out for {int(ALERT_AFTER.total_seconds() // 60)} "
                      f"minutes{error}; it is retried until {until}. Call the patient if it cannot wait.")
        ticket = handoff.open_ticket(session, conversation=row.conversation, queue=queue, now=now, intent="system",
                                     reason=reason)
        row.alerted_at = now
        row.ticket_id = row.ticket_id or ticket.id
    return rows


@dataclass(frozen=True)
class OutboxHealth:
    """What the operator's health checks read: is anything stuck on its way to Twilio?"""

    waiting: int        # pending or sending, created more than two minutes ago
    retrying: int       # pending again after an error
    unsettled: int      # sending for longer than the lookup grace (Twilio may or may not have them)
    failed_last_day: int
    oldest_waiting_seconds: float

    @property
    def status(self) -> str:
        return "ok" if not (self.waiting or self.failed_last_day) else "degraded"

    def as_dict(self) -> dict:
        return {"status": self.status, "waiting": self.waiting, "retrying": self.retrying,
                "unsettled": self.unsettled, "failed_last_day": self.failed_last_day,
                "oldest_waiting_seconds": round(self.oldest_waiting_seconds)}


def outbox_health(session: Session, now: datetime, *, unsettled_after: timedelta = timedelta(minutes=2)
                  ) -> OutboxHealth:
    in_flight = (OutboundStatus.PENDING, OutboundStatus.SENDING)
    old = now - timedelta(minutes=2)
    waiting_rows = session.execute(
        select(func.count(OutboundMessage.id), func.min(OutboundMessage.created_at))
        .where(OutboundMessage.status.in_(in_flight), OutboundMessage.created_at < old,
               OutboundMessage.next_attempt_at <= now)
    ).one()
    retrying = session.execute(select(func.count(OutboundMessage.id)).where(
        OutboundMessage.status == OutboundStatus.PENDING, OutboundMessage.error_message.is_not(None))).scalar_one()
    unsettled = session.execute(select(func.count(OutboundMessage.id)).where(
        OutboundMessage.status == OutboundStatus.SENDING,
        OutboundMessage.claimed_at < now - unsettled_after)).scalar_one()
    failed = session.execute(select(func.count(OutboundMessage.id)).where(
        OutboundMessage.status == OutboundStatus.FAILED, OutboundMessage.status_at >= now - timedelta(days=1))
    ).scalar_one()
    oldest = waiting_rows[1]
    return OutboxHealth(waiting=waiting_rows[0], retrying=retrying, unsettled=unsettled, failed_last_day=failed,
                        oldest_waiting_seconds=(now - oldest).total_seconds() if oldest else 0.0)


def pending_for_ticket(session: Session, ticket_id: int) -> list[OutboundMessage]:
    """The ticket's texts still waiting to be sent (to send them right away)."""
    return list(session.execute(
        select(OutboundMessage)
        .where(OutboundMessage.ticket_id == ticket_id, OutboundMessage.status == OutboundStatus.PENDING)
        .order_by(OutboundMessage.id)
    ).scalars())


def postpone(session: Session, outbound_id: int, *, until: datetime) -> None:
    """A pending row waits for the sender loop (the immediate sender is over its rate)."""
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.status == OutboundStatus.PENDING)
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def note_unsettled(session: Session, outbound_id: int, *, error_message: str) -> None:
    """The create call timed out or broke: the row stays 'sending' (Twilio may have it) with the reason."""
    session.execute(
        update(OutboundMessage).where(OutboundMessage.id == outbound_id, OutboundMessage.status == OutboundStatus.SENDING)
        .values(error_message=error_message[:300])
        .execution_options(synchronize_session=False)
    )


def release(session: Session, outbound_id: int) -> None:
    """Put a claimed row back to pending, due now (reconciliation found Twilio never got it)."""
    row = session.get(OutboundMessage, outbound_id, populate_existing=True)
    if row.status == OutboundStatus.SENDING:
        row.status = OutboundStatus.PENDING
        row.next_attempt_at = row.claimed_at or row.next_attempt_at


def stale_sending(session: Session, *, claimed_before: datetime, channel: Channel | None = None
                  ) -> list[OutboundMessage]:
    """Rows a sender claimed before ``claimed_before`` and never settled (it crashed or timed out)."""
    return list(session.execute(
        _on_channel(select(OutboundMessage), channel)
        .where(OutboundMessage.status == OutboundStatus.SENDING, OutboundMessage.claimed_at < claimed_before)
        .order_by(OutboundMessage.id)
    ).scalars())


def known_sids(session: Session, sids: list[str]) -> set[str]:
    """Which of these Twilio SIDs are already stored on a row."""
    if not sids:
        return set()
    return set(session.execute(
        select(OutboundMessage.twilio_sid).where(OutboundMessage.twilio_sid.in_(sids))
    ).scalars())


def apply_status_callback(
    session: Session,
    *,
    sid: str,
    twilio_status: str,
    error_code: int | None,
    now: datetime,
    outbound_id: int | None = None,
) -> OutboundMessage | None:
    """Record a delivery status from Twilio; returns the row, or None if it is not ours.

    The row is found by SID, or by our own id (carried in the StatusCallback
    URL) when the callback beats the sender storing the SID. Callbacks arrive
    out of order: a row only moves forward, so a late "sent" never undoes
    "delivered".
    """
    row = session.execute(select(OutboundMessage).where(OutboundMessage.twilio_sid == sid)).scalar_one_or_none()
    if row is None and outbound_id is not None:
        row = session.get(OutboundMessage, outbound_id)
        if row is not None and row.twilio_sid not in (None, sid):
            return None
    if row is None:
        return None
    row.twilio_sid = sid
    new = outbound_status_for(twilio_status)
    if new is not None and _PROGRESS[new] > _PROGRESS[row.status]:
        row.status, row.status_at = new, now
        row.sent_at = row.sent_at or now
        if error_code is not None:
            row.error_code = error_code
    return row
