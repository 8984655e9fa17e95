"""What a staff member does to a conversation from the inbox: reply, resolve, reopen; each one use case.

Each function is the whole chain in the caller's transaction (claim, text,
first-response time, audit; or resolve, hand-back command, audit), so the
inbox only checks access, calls one function and renders what it returns.
Refusals are :class:`ReplyRefused` with a ``reason`` the view words for staff.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import patients as patient_records
from bot.messaging import consent
from bot.messaging.outbox import OutboundKind, enqueue
from bot.models import (
    CannedResponse,
    CommandKind,
    ConversationCommand,
    HandoffTicket,
    OutboundStatus,
    Patient,
    Practice,
    StaffUser,
    TicketStatus,
)
from bot.practice import format_phone, get_practice, practice_zone
from bot.staff import access, accounts, handback, handoff
from bot.staff.send_guard import Finding, sensitive_findings
from bot.wording import describe_slot, render

MAX_REPLY = 1600  # characters: Twilio's limit for one message body

EMPTY, TOO_LONG, RESOLVED = "empty", "too long", "resolved"
UNFILLED = "unfilled placeholder"        # a template's {placeholder} was left in the text
NEEDS_CONFIRMATION = "needs confirmation"  # the send guard found something: send again with confirmed=True

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class ReplyRefused(Exception):
    """Nothing was texted: ``reason`` is EMPTY, TOO_LONG, RESOLVED (reopen the ticket to reply), UNFILLED
    (``detail`` names the placeholders) or NEEDS_CONFIRMATION (``findings`` says what the send guard saw)."""

    def __init__(self, reason: str, *, findings: tuple[Finding, ...] = (), detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.findings = findings
        self.detail = detail


def check_staff_text(body: str, *, confirmed: bool = False) -> str:
    """The text as it will be sent (stripped), or :class:`ReplyRefused` before anything is written.

    The send guard's findings refuse it until the staff member confirms them.
    """
    body = body.strip()
    if not body:
        raise ReplyRefused(EMPTY)
    if len(body) > MAX_REPLY:
        raise ReplyRefused(TOO_LONG)
    left = PLACEHOLDER.findall(body)
    if left:
        raise ReplyRefused(UNFILLED, detail=", ".join(dict.fromkeys(left)))
    findings = tuple(sensitive_findings(body))
    if findings and not confirmed:
        raise ReplyRefused(NEEDS_CONFIRMATION, findings=findings)
    return body


@dataclass(frozen=True)
class StaffReply:
    """The reply as the outbox holds it; ``blocked`` when the phone opted out (call the patient instead)."""

    outbound_id: int
    blocked: bool


def send_staff_reply(session: Session, ticket_id: int, *, staff_user_id: int, body: str,
                     now: datetime, confirmed: bool = False) -> StaffReply:
    """Text the patient through the outbox; an open ticket becomes the sender's, the first reply sets the response time.

    ``confirmed``: the staff member saw what the send guard found and sends it anyway (audited).
    """
    body = check_staff_text(body, confirmed=confirmed)
    ticket = session.get(HandoffTicket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    if ticket.status == TicketStatus.RESOLVED:
        raise ReplyRefused(RESOLVED)
    if ticket.status == TicketStatus.OPEN:
        handoff.claim_ticket(session, ticket_id, staff_user_id, now)
    row = enqueue(session, ticket.conversation, body, OutboundKind.STAFF, now, ticket_id=ticket_id,
                  staff_user_id=staff_user_id)
    handoff.record_staff_reply(session, ticket_id, now)
    findings = sensitive_findings(body)
    confirmed_detail = f"; confirmed: {', '.join(sorted({f.kind for f in findings}))}" if findings else ""
    accounts.audit(session, "reply", now, staff_user_id=staff_user_id, ticket_id=ticket_id,
                   detail=f"outbound {row.id}{confirmed_detail}")
    return StaffReply(row.id, row.status == OutboundStatus.BLOCKED)


def resolve_conversation(session: Session, ticket_id: int, *, staff_user_id: int,
                         now: datetime) -> ConversationCommand | None:
    """Resolve and hand the conversation back; None when another open ticket keeps the bot paused."""
    command = handback.resolve_and_hand_back(session, ticket_id, staff_user_id, now)
    accounts.audit(session, "resolve", now, staff_user_id=staff_user_id, ticket_id=ticket_id)
    return command


def reopen_conversation(session: Session, ticket_id: int, *, staff_user_id: int,
                        now: datetime) -> ConversationCommand:
    """Take the conversation back from the bot: reopen, request the pause, audit."""
    command = handback.reopen_and_pause(session, ticket_id, staff_user_id, now)
    accounts.audit(session, "reopen", now, staff_user_id=staff_user_id, ticket_id=ticket_id)
    return command


# --- Templates (canned responses) ------------------------------------------------------

def template_values(session: Session, practice: Practice, people: list[Patient], staff_user: StaffUser,
                    now: datetime, language: str | None = None) -> dict[str, str]:
    """What a template's placeholders become for this conversation, filled on the server, in the
    template's ``language``.

    ``{first_name}`` is the patient's ("there", "familia" when the phone is shared: catalog
    ``template_shared_phone_name``), ``{next_appointment}`` the soonest booked visit of the phone's
    patients ("Thu, Mar 4 at 9:30 AM with Dr. Patel", "jue 4 de mar a las 9:30 AM con Dr. Patel": date,
    time and provider, never the visit type), ``{staff_first_name}`` the sender's first name. With no
    visit booked ``{next_appointment}`` stays as written, so the review shows it and the send is refused.
    """
    values = {
        "first_name": people[0].first_name if len(people) == 1 else render("template_shared_phone_name", language),
        "practice_phone": format_phone(practice.phone),
        "practice_name": practice.name,
        "staff_first_name": (staff_user.display_name or staff_user.username).split()[0],
    }
    upcoming = patient_records.upcoming_appointments(session, [p.id for p in people], now)
    if upcoming:
        values["next_appointment"] = describe_slot(upcoming[0], practice_zone(practice), language)
    return values


@dataclass(frozen=True)
class TemplateChoice:
    """A template as staff may insert it into this conversation: filled, in its language."""

    id: int
    title: str
    language: str
    body: str


def templates_for(session: Session, practice: Practice, people: list[Patient], staff_user: StaffUser,
                  now: datetime, conversation_language: str) -> list[TemplateChoice]:
    """Every template, filled in its own language; those in the conversation's language first (staff may
    still pick another: a patient who wrote in English once is not always an English reader)."""
    rows = session.execute(select(CannedResponse).order_by(CannedResponse.title)).scalars().all()
    values = {lang: template_values(session, practice, people, staff_user, now, lang)
              for lang in {row.language for row in rows}}
    choices = [TemplateChoice(row.id, row.title, row.language, fill_placeholders(row.body, values[row.language]))
               for row in rows]
    return sorted(choices, key=lambda c: c.language != conversation_language)


def fill_placeholders(body: str, values: dict[str, str]) -> str:
    """Replace each ``{name}`` of ``values``; other braces stay as written."""
    for key, value in values.items():
        body = body.replace("{" + key + "}", value)
    return body


# --- Staff start a conversation ---------------------------------------------------------

STARTED_BY_STAFF = "conversation started by staff"
OPTED_OUT = "opted out"


@dataclass(frozen=True)
class StartedConversation:
    """The conversation staff started; all None when the phone opted out (nothing sent, the refusal audited)."""

    ticket_id: int | None
    outbound_id: int | None
    pause: ConversationCommand | None  # deliver it to Rasa (the bot stays quiet while staff have the chat)

    @property
    def opted_out(self) -> bool:
        return self.ticket_id is None


def start_conversation(session: Session, patient_id: int, *, queue: str, staff_user_id: int, role: str,
                       body: str, now: datetime, confirmed: bool = False) -> StartedConversation:
    """Text a patient first: a ticket in ``queue`` claimed by the sender, the text, the bot paused, audited.

    An opted-out phone gets nothing: the refusal is audited and ``opted_out`` is True (returned, not
    raised, so the audit entry commits with the caller's transaction). The text is checked like any
    staff text (:class:`ReplyRefused`: empty, too long, unfilled, the send guard). A queue the role
    does not answer raises PermissionError. An open ticket of that queue on the phone is reused.
    """
    if not access.may_see_queue(role, queue, get_practice(session)):
        raise PermissionError(f"{role} may not write from the {queue} queue")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise LookupError(f"no patient {patient_id}")
    body = check_staff_text(body, confirmed=confirmed)
    if consent.is_opted_out(session, patient.phone):
        accounts.audit(session, "start_refused", now, staff_user_id=staff_user_id,
                       detail=f"patient {patient.id}: opted out of texts")
        return StartedConversation(None, None, None)
    ticket = handoff.open_ticket(session, phone=patient.phone, queue=queue, reason=STARTED_BY_STAFF, now=now,
                                 patient_id=patient.id)
    handoff.claim_ticket(session, ticket.id, staff_user_id, now)
    accounts.audit(session, "start", now, staff_user_id=staff_user_id, ticket_id=ticket.id,
                   detail=f"patient {patient.id}")
    sent = send_staff_reply(session, ticket.id, staff_user_id=staff_user_id, body=body, now=now, confirmed=confirmed)
    pause = handback.request_command(session, CommandKind.PAUSE, phone=patient.phone, ticket_id=ticket.id, now=now)
    return StartedConversation(ticket.id, sent.outbound_id, pause)


def find_patients(session: Session, text: str, limit: int = 20) -> list[Patient]:
    """Patients whose name or phone matches ``text`` (:func:`bot.patients.patient_matches`), by name."""
    return list(session.execute(
        select(Patient).where(patient_records.patient_matches(text)).order_by(Patient.last_name, Patient.first_name, Patient.id)
        .limit(limit)).scalars())
