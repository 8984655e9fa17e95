"""Handing a conversation to staff: tickets, queues and the answer time we promise.

A conversation (:class:`~bot.models.Conversation`: SMS, one phone) has at most
one open ticket per queue; while any is open the bot is paused for it. The answer time is the queue's goal
counted in office hours, so a billing question texted on Friday evening is
promised for Monday morning, not for Friday night.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import conversations
from bot.messaging.outbox import transcript_label
from bot.models import (
    Conversation,
    HandoffTicket,
    InboundMessage,
    OutboundMessage,
    Practice,
    StaffUser,
    TicketNote,
    TicketStatus,
)
from bot.practice import get_practice, iter_open_days, practice_zone
from bot.staff import access, oncall, pointpeople
from bot.staff.routing import queue_details

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.CLAIMED)
SEARCH_DAYS = 60  # how far ahead we look for office hours (covers long closures)
WALL_CLOCK = "wall_clock"  # a queue's goal_counts: minutes round the clock, not office minutes


def expected_answer_at(session: Session, practice: Practice, queue: str, now: datetime) -> datetime:
    """When the queue will have answered: its goal in minutes of office hours from ``now``.

    A queue with ``goal_counts: wall_clock`` (the urgent queue: its on-call
    staff answer at night too) counts plain minutes instead.
    """
    details = queue_details(practice, queue)
    remaining = timedelta(minutes=int(details["goal_minutes"]))
    if counts_wall_clock(details):
        return (now.astimezone(ZoneInfo("UTC")) + remaining).astimezone(practice_zone(practice))
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


def counts_wall_clock(queue_details: dict) -> bool:
    """Does the queue's goal count wall-clock minutes (``goal_counts: wall_clock``) rather than office hours?"""
    return queue_details.get("goal_counts") == WALL_CLOCK


def open_ticket_for(session: Session, conversation: Conversation | str) -> HandoffTicket | None:
    """The conversation's open ticket (the newest), if staff have it; None when the bot has it.

    ``conversation`` may be a phone, meaning its SMS conversation.
    """
    conversation = conversations.existing_conversation(session, conversation)
    if conversation is None:
        return None
    return session.execute(
        select(HandoffTicket)
        .where(HandoffTicket.conversation_id == conversation.id, HandoffTicket.status.in_(OPEN_STATUSES))
        .order_by(HandoffTicket.id.desc()).limit(1)
    ).scalar_one_or_none()


def open_ticket(
    session: Session,
    *,
    queue: str,
    reason: str,
    now: datetime,
    conversation: Conversation | None = None,
    phone: str | None = None,
    intent: str | None = None,
    patient_id: int | None = None,
    classifier_confidence: float | None = None,
) -> HandoffTicket:
    """Open a ticket in ``queue`` for the conversation, or return its open one in that queue.

    Give the ``conversation``, or a ``phone`` for its SMS conversation. The
    messages the patient sent since the last ticket are attached to it, so
    staff see what led here. A new ticket goes to the queue's owner when on
    shift (:mod:`bot.staff.pointpeople`), and one in the on-call queue pages
    the on-call phone at once (:mod:`bot.staff.oncall`; ``classifier_confidence``:
    only the NLU classifier called it an emergency, at that confidence).
    """
    practice = get_practice(session)
    queue_details(practice, queue)  # unknown queue -> KeyError, before anything is written
    if conversation is None:
        if phone is None:
            raise TypeError("open_ticket needs a conversation or a phone")
        conversation = conversations.sms_conversation(session, phone, now)
    existing = session.execute(
        select(HandoffTicket).where(
            HandoffTicket.conversation_id == conversation.id,
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
        conversation_id=conversation.id,
        phone=conversations.phone_of(conversation),
        patient_id=patient_id,
        intent=intent,
        created_at=now,
        due_at=expected_answer_at(session, practice, queue, now),
        last_activity_at=now,
    )
    session.add(ticket)
    session.flush()
    for message in session.execute(
        select(InboundMessage).where(InboundMessage.conversation_id == conversation.id,
                                     InboundMessage.ticket_id.is_(None))
    ).scalars():
        message.ticket_id = ticket.id
    pointpeople.assign_to_owner(session, practice, ticket, now)
    oncall.page_for_new_ticket(session, practice, ticket, now, classifier_confidence=classifier_confidence)
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
    """Close the ticket. Staff resolve through :func:`bot.staff.handback.resolve_and_hand_back`, which also stores the resume."""
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
class ConversationSpan:
    """One ticket's part of a conversation: from the first text that led to it to its resolution.

    ``ends`` is None while the ticket is open (the span runs until now).
    """

    ticket_id: int
    queue: str
    begins: datetime
    ends: datetime | None

    def holds(self, at: datetime) -> bool:
        return self.begins <= at and (self.ends is None or at <= self.ends)


def conversation_spans(session: Session, conversation_id: int) -> list[ConversationSpan]:
    """Every ticket's span in this conversation, in the order the spans began.

    A span begins at the earliest of the ticket's creation and the texts
    attached to it (the texts that led to the hand-over), and ends when the
    ticket was resolved; a reopened ticket's span runs on until now.
    """
    first_text = dict(session.execute(
        select(InboundMessage.ticket_id, func.min(InboundMessage.received_at))
        .where(InboundMessage.conversation_id == conversation_id, InboundMessage.ticket_id.is_not(None))
        .group_by(InboundMessage.ticket_id)
    ).all())
    spans = []
    for ticket in session.execute(
            select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)).scalars():
        begins = min(filter(None, (ticket.created_at, first_text.get(ticket.id))))
        ends = ticket.resolved_at if ticket.status == TicketStatus.RESOLVED else None
        spans.append(ConversationSpan(ticket.id, ticket.queue, begins, ends))
    return sorted(spans, key=lambda s: (s.begins, s.ticket_id))


def span_owner(spans: list[ConversationSpan], at: datetime, ticket_id: int | None = None) -> int | None:
    """The ticket whose conversation a text (or note) at ``at`` belongs to, or None (the bot's own talk).

    A text that names its ticket belongs to it; otherwise the newest span
    holding its time wins, as a paused conversation's texts join the newest
    open ticket.
    """
    if ticket_id is not None and any(s.ticket_id == ticket_id for s in spans):
        return ticket_id
    holding = [s for s in spans if s.holds(at)]
    return holding[-1].ticket_id if holding else None


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of a ticket's conversation as one staff member may see it.

    ``who`` is patient, bot, staff, reminder, system or note for a text or a
    note; ``span`` marks where a ticket's conversation begins when several are
    shown; ``withheld`` stands for ``count`` conversations in ``queue`` the
    viewer may not see (``earlier``: before this ticket's began; else at the
    same time). Markers carry no body: the inbox words them.
    """

    at: datetime
    who: str
    body: str
    status: str | None = None   # delivery status of an outbound text
    ref: str = ""                # "in-12", "out-7", "note-3", "span-4", "withheld-5": stable ids for live updates
    author: str | None = None    # the staff member who wrote a staff text or a note
    ticket_id: int | None = None  # the ticket whose conversation it belongs to
    queue: str | None = None     # span and withheld markers: that ticket's queue
    count: int = 0               # withheld: how many conversations
    earlier: bool = False        # span and withheld markers: began before this ticket's conversation


MARKERS = ("span", "withheld")
def transcript(session: Session, ticket: HandoffTicket, *, role: str, limit: int = 200) -> list[TranscriptEntry]:
    """The ticket's conversation, oldest first, as a staff member of ``role`` may see it (minimum necessary).

    Shown: the ticket's own span, and the spans of other tickets in the conversation
    that began before this one ended, when ``role`` may see their queue. Every
    other span that began by then is one ``withheld`` line (consecutive ones of
    a queue merged). The bot's talk outside every span is not shown.
    """
    spans = conversation_spans(session, ticket.conversation_id)
    own = next(s for s in spans if s.ticket_id == ticket.id)
    relevant = [s for s in spans if own.ends is None or s.begins <= own.ends]
    practice = get_practice(session)
    visible = {s.ticket_id for s in relevant
               if s.ticket_id == ticket.id or access.may_see_queue(role, s.queue, practice)}
    since = relevant[0].begins

    def shown(at: datetime, owner: int | None) -> bool:
        if owner == ticket.id:
            return True
        return owner in visible and (own.ends is None or at <= own.ends)

    inbound = session.execute(
        select(InboundMessage).where(
            InboundMessage.conversation_id == ticket.conversation_id,
            (InboundMessage.received_at >= since) | (InboundMessage.ticket_id == ticket.id))
    ).scalars()
    outbound = session.execute(
        select(OutboundMessage).where(
            OutboundMessage.conversation_id == ticket.conversation_id,
            (OutboundMessage.created_at >= since) | (OutboundMessage.ticket_id == ticket.id))
    ).scalars()
    notes = session.execute(select(TicketNote).where(TicketNote.ticket_id.in_(visible))).scalars()
    inbound = [(m, span_owner(spans, m.received_at, m.ticket_id)) for m in inbound]
    outbound = [(m, span_owner(spans, m.created_at, m.ticket_id)) for m in outbound]
    inbound = [(m, owner) for m, owner in inbound if shown(m.received_at, owner)]
    outbound = [(m, owner) for m, owner in outbound if shown(m.created_at, owner)]
    notes = [n for n in notes if shown(n.created_at, n.ticket_id)]

    author_ids = {m.staff_user_id for m, _ in outbound} | {n.staff_user_id for n in notes}
    authors = dict(session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(author_ids - {None}))).all())
    entries = [TranscriptEntry(m.received_at, "patient", m.body or "(picture)", None, f"in-{m.id}", ticket_id=owner)
               for m, owner in inbound]
    entries += [
        TranscriptEntry(m.created_at, transcript_label(m.kind), m.body, m.status.value, f"out-{m.id}",
                        authors.get(m.staff_user_id), ticket_id=owner)
        for m, owner in outbound
    ]
    entries += [TranscriptEntry(n.created_at, "note", n.body, None, f"note-{n.id}", authors.get(n.staff_user_id),
                                ticket_id=n.ticket_id) for n in notes]
    markers = [
        TranscriptEntry(s.begins, "span" if s.ticket_id in visible else "withheld", "",
                        ref=f"{'span' if s.ticket_id in visible else 'withheld'}-{s.ticket_id}",
                        ticket_id=s.ticket_id, queue=s.queue, count=1, earlier=s.begins < own.begins
                        or (s.begins == own.begins and s.ticket_id < own.ticket_id))
        for s in relevant
    ]
    if len(markers) == 1:
        markers = []  # the ticket's conversation alone needs no marker
    entries.sort(key=lambda e: (e.at, e.ref))
    markers.sort(key=lambda e: (e.at, e.ticket_id))
    return _merge_withheld(_interleave(entries, markers))[-limit:]


def _interleave(entries: list[TranscriptEntry], markers: list[TranscriptEntry]) -> list[TranscriptEntry]:
    """Each marker just before the first entry at or after its time."""
    merged, remaining = [], list(markers)
    for entry in entries:
        while remaining and remaining[0].at <= entry.at:
            merged.append(remaining.pop(0))
        merged.append(entry)
    return merged + remaining


def _merge_withheld(entries: list[TranscriptEntry]) -> list[TranscriptEntry]:
    """Consecutive withheld lines of one queue (and side of this conversation) become one with a count."""
    merged: list[TranscriptEntry] = []
    for entry in entries:
        last = merged[-1] if merged else None
        if (entry.who == "withheld" and last is not None and last.who == "withheld"
                and (last.queue, last.earlier) == (entry.queue, entry.earlier)):
            merged[-1] = replace(last, count=last.count + 1)
        else:
            merged.append(entry)
    return merged
