"""Handing a conversation to staff: tickets, queues and the answer time we promise.

A conversation (one phone) has at most one open ticket per queue; while any is
open the bot is paused for that phone. The answer time is the queue's goal
counted in office hours, so a billing question texted on Friday evening is
promised for Monday morning, not for Friday night.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    HandoffTicket,
    InboundMessage,
    OutboundMessage,
    Practice,
    StaffUser,
    TicketNote,
    TicketStatus,
)
from bot.practice import get_practice, iter_open_days, practice_zone, queue_config

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.CLAIMED)
SEARCH_DAYS = 60  # how far ahead we look for office hours (covers long closures)


def expected_answer_at(session: Session, practice: Practice, queue: str, now: datetime) -> datetime:
    """When the queue will have answered: its goal in minutes of office hours from ``now``."""
    remaining = timedelta(minutes=int(queue_config(practice, queue)["goal_minutes"]))
    zone = practice_zone(practice)
    local_now = now.astimezone(zone)
    for hours in iter_open_days(session, practice, local_now.date(), SEARCH_DAYS):
        start = max(hours.opens, local_now)
        if start >= hours.closes:
            continue
        # Compare in UTC: wall-clock subtraction would be wrong on a DST day.
        available = hours.closes.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))
        if remaining <= available:
            return (start.astimezone(ZoneInfo("UTC")) + remaining).astimezone(zone)
        remaining -= available
    raise LookupError(f"no office hours in the next {SEARCH_DAYS} days to answer the {queue} queue")


def answer_time_phrase(due_at: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'by 11:00 AM tomorrow', 'by 3:15 PM today', 'by 9:00 AM Monday', 'by 9:00 AM Mon, Jan 4'."""
    due = due_at.astimezone(zone)
    today = now.astimezone(zone).date()
    clock = due.strftime("%I:%M %p").lstrip("0")
    days = (due.date() - today).days
    if days == 0:
        day = "today"
    elif days == 1:
        day = "tomorrow"
    elif days < 7:
        day = due.strftime("%A")
    else:
        day = due.strftime("%a, %b ") + str(due.day)
    return f"by {clock} {day}"


def open_ticket_for(session: Session, phone: str) -> HandoffTicket | None:
    """The conversation's open ticket (the newest), if staff have it; None when the bot has it."""
    return session.execute(
        select(HandoffTicket)
        .where(HandoffTicket.phone == phone, HandoffTicket.status.in_(OPEN_STATUSES))
        .order_by(HandoffTicket.id.desc()).limit(1)
    ).scalar_one_or_none()


def open_ticket(
    session: Session,
    *,
    phone: str,
    queue: str,
    reason: str,
    now: datetime,
    intent: str | None = None,
    patient_id: int | None = None,
) -> HandoffTicket:
    """Open a ticket in ``queue`` for the conversation, or return its open one in that queue.

    The messages the patient sent since the last ticket are attached to it, so
    staff see what led here.
    """
    practice = get_practice(session)
    queue_config(practice, queue)  # unknown queue -> KeyError, before anything is written
    existing = session.execute(
        select(HandoffTicket).where(
            HandoffTicket.phone == phone,
            HandoffTicket.queue == queue,
            HandoffTicket.status.in_(OPEN_STATUSES),
        )
    ).scalars().first()
    if existing is not None:
        existing.last_activity_at = now
        return existing
    ticket = HandoffTicket(
        queue=queue,
        reason=reason[:300],
        status=TicketStatus.OPEN,
        phone=phone,
        patient_id=patient_id,
        intent=intent,
        created_at=now,
        due_at=expected_answer_at(session, practice, queue, now),
        last_activity_at=now,
    )
    session.add(ticket)
    session.flush()
    for message in session.execute(
        select(InboundMessage).where(InboundMessage.phone == phone, InboundMessage.ticket_id.is_(None))
    ).scalars():
        message.ticket_id = ticket.id
    return ticket


def _ticket(session: Session, ticket_id: int) -> HandoffTicket:
    ticket = session.get(HandoffTicket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    return ticket


def claim_ticket(session: Session, ticket_id: int, staff_user_id: int, now: datetime) -> HandoffTicket:
    """Assign the ticket to a staff member (claiming it oneself, or assigning it to another)."""
    ticket = _ticket(session, ticket_id)
    if ticket.status == TicketStatus.RESOLVED:
        raise ValueError("a resolved ticket must be reopened before it is claimed")
    ticket.status = TicketStatus.CLAIMED
    ticket.claimed_by = staff_user_id
    ticket.claimed_at = now
    ticket.last_activity_at = now
    return ticket


def record_staff_reply(session: Session, ticket_id: int, now: datetime) -> HandoffTicket:
    """Note that staff answered: the first answer sets the first-response time."""
    ticket = _ticket(session, ticket_id)
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.last_activity_at = now
    return ticket


def resolve_ticket(session: Session, ticket_id: int, staff_user_id: int, now: datetime) -> HandoffTicket:
    """Close the ticket; the caller hands the conversation back to the bot (Rasa resume)."""
    ticket = _ticket(session, ticket_id)
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now
    ticket.resolved_by = staff_user_id
    ticket.last_activity_at = now
    return ticket


def reopen_ticket(session: Session, ticket_id: int, staff_user_id: int, now: datetime) -> HandoffTicket:
    ticket = _ticket(session, ticket_id)
    ticket.status = TicketStatus.CLAIMED
    ticket.claimed_by = staff_user_id
    ticket.claimed_at = now
    ticket.resolved_at = None
    ticket.resolved_by = None
    ticket.last_activity_at = now
    return ticket


def add_note(session: Session, ticket_id: int, staff_user_id: int, body: str, now: datetime) -> TicketNote:
    """An internal note: staff only, never texted."""
    note = TicketNote(ticket_id=_ticket(session, ticket_id).id, staff_user_id=staff_user_id, body=body, created_at=now)
    session.add(note)
    session.flush()
    return note


@dataclass(frozen=True)
class TranscriptEntry:
    at: datetime
    who: str          # patient, bot, staff, reminder, system, note
    body: str
    status: str | None = None   # delivery status of an outbound text
    ref: str = ""                # "in-12", "out-7", "note-3": stable ids for live updates
    author: str | None = None    # the staff member who wrote a staff text or a note


_OUTBOUND_WHO = {"reply": "bot", "staff": "staff", "reminder": "reminder", "recall": "reminder", "waitlist": "reminder"}


def transcript(session: Session, ticket: HandoffTicket, limit: int = 200) -> list[TranscriptEntry]:
    """The conversation of the ticket's phone: patient, bot and staff texts and notes, oldest first."""
    inbound = session.execute(
        select(InboundMessage).where(InboundMessage.phone == ticket.phone)
        .order_by(InboundMessage.id.desc()).limit(limit)
    ).scalars()
    outbound = session.execute(
        select(OutboundMessage).where(OutboundMessage.phone == ticket.phone)
        .order_by(OutboundMessage.id.desc()).limit(limit)
    ).scalars()
    entries = [TranscriptEntry(m.received_at, "patient", m.body or "(picture)", None, f"in-{m.id}") for m in inbound]
    outbound = list(outbound)
    notes = list(ticket.notes)
    author_ids = {m.staff_user_id for m in outbound} | {n.staff_user_id for n in notes}
    authors = dict(session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(author_ids - {None}))).all())
    entries += [
        TranscriptEntry(m.created_at, _OUTBOUND_WHO.get(m.kind, "system"), m.body, m.status.value, f"out-{m.id}",
                        authors.get(m.staff_user_id))
        for m in outbound
    ]
    entries += [TranscriptEntry(n.created_at, "note", n.body, None, f"note-{n.id}", authors.get(n.staff_user_id))
                for n in notes]
    entries.sort(key=lambda e: (e.at, e.ref))
    return entries[-limit:]
