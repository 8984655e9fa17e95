"""The inbox's queue: which tickets a staff member sees, in which order, and where each conversation stands.

Urgent tickets come first (pinned), then the rest oldest first. Filters narrow
the list: one queue, mine, unassigned, unanswered (the patient wrote last, or
nobody from staff answered yet), waiting over the goal (never answered and past
the answer time promised), and a search by name or phone.

"Mine" and "unassigned" read ``HandoffTicket.claimed_by``: who claimed the ticket,
or the queue's owner it was assigned to (:mod:`bot.staff.pointpeople`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from bot.models import HandoffTicket, InboundMessage, OutboundMessage, TicketStatus
from bot.patients import phones_matching
from bot.practice import get_practice
from bot.staff import handback, handoff, routing

_URL = re.compile(r"https?://\S+")
PREVIEW_CHARS = 120


@dataclass(frozen=True)
class QueueFilter:
    """What the viewer asked to see; every field narrows the list (all off: every open ticket)."""

    queue: str | None = None
    mine: bool = False
    unassigned: bool = False
    unanswered: bool = False
    over_goal: bool = False
    search: str = ""


@dataclass(frozen=True)
class ConversationPulse:
    """Where a ticket's conversation stands.

    ``last_text`` is the newest patient or staff text on the ticket (``last_from``: "patient" or
    "staff"); ``answered_at`` the newest staff text when it came after the patient's newest,
    else None; ``waiting_since`` when the patient started waiting for an answer (the ticket's
    opening, or the first patient text after the last staff text), None once answered.
    """

    last_text: str
    last_from: str | None
    answered_at: datetime | None
    waiting_since: datetime | None
    pictures: int = 0


def _assigned_to(viewer_id: int):
    return HandoffTicket.claimed_by == viewer_id


def queue_tickets(session: Session, queues: Iterable[str], viewer_id: int, now: datetime,
                  wanted: QueueFilter = QueueFilter(), resolved: bool = False) -> list[HandoffTicket]:
    """The tickets of ``queues`` the filter keeps: open ones (and those still handing back), urgent first
    (the queue the practice routes emergencies to), then oldest first; with ``resolved``, the 50 most
    recently resolved."""
    query = select(HandoffTicket).where(HandoffTicket.queue.in_(tuple(queues)))
    if resolved:
        query = query.where(HandoffTicket.status == TicketStatus.RESOLVED).order_by(
            HandoffTicket.resolved_at.desc()).limit(50)
    else:
        # A resolved ticket stays among the open ones until Rasa has the conversation again.
        query = query.where(HandoffTicket.status.in_(handoff.OPEN_STATUSES)
                            | HandoffTicket.id.in_(handback.tickets_handing_back())).order_by(
            case((HandoffTicket.queue == routing.urgent_queue(get_practice(session)), 0), else_=1), HandoffTicket.created_at, HandoffTicket.id)
    if wanted.queue:
        query = query.where(HandoffTicket.queue == wanted.queue)
    if wanted.mine:
        query = query.where(_assigned_to(viewer_id))
    if wanted.unassigned:
        query = query.where(HandoffTicket.claimed_by.is_(None))
    if wanted.over_goal:
        query = query.where(HandoffTicket.first_response_at.is_(None), HandoffTicket.due_at < now)
    if wanted.search.strip():
        query = query.where(phones_matching(wanted.search, HandoffTicket.phone))
    tickets = list(session.execute(query).scalars())
    if wanted.unanswered:
        pulses = conversation_pulses(session, tickets)
        tickets = [t for t in tickets if pulses[t.id].answered_at is None]
    return tickets


def conversation_pulses(session: Session, tickets: list[HandoffTicket]) -> dict[int, ConversationPulse]:
    """Each ticket's :class:`ConversationPulse`, from the patient's and the staff's texts of its conversation
    (the texts the conversation page shows as the ticket's own: :func:`bot.staff.handoff.span_owner`)."""
    wanted = {t.id for t in tickets}
    texts: dict[int, list[tuple[datetime, int, str, str, int]]] = {i: [] for i in wanted}
    for conversation_id in {t.conversation_id for t in tickets}:
        spans = handoff.conversation_spans(session, conversation_id)
        since = min(s.begins for s in spans)
        for m in session.execute(select(InboundMessage).where(
                InboundMessage.conversation_id == conversation_id,
                (InboundMessage.received_at >= since) | InboundMessage.ticket_id.in_(wanted))).scalars():
            owner = handoff.span_owner(spans, m.received_at, m.ticket_id)
            if owner in wanted:
                texts[owner].append((m.received_at, 0, "patient", m.body or "", len(m.media or [])))
        for m in session.execute(select(OutboundMessage).where(
                OutboundMessage.conversation_id == conversation_id, OutboundMessage.staff_user_id.is_not(None),
                (OutboundMessage.created_at >= since) | OutboundMessage.ticket_id.in_(wanted))).scalars():
            owner = handoff.span_owner(spans, m.created_at, m.ticket_id)
            if owner in wanted:
                texts[owner].append((m.created_at, 1, "staff", m.body, 0))
    pulses = {}
    for ticket in tickets:
        thread = sorted(texts[ticket.id], key=lambda item: (item[0], item[1]))
        last = thread[-1] if thread else None
        staff_times = [at for at, _, who, _, _ in thread if who == "staff"]
        last_staff = staff_times[-1] if staff_times else None
        since_staff = [at for at, _, who, _, _ in thread if who == "patient" and (last_staff is None or at > last_staff)]
        if last_staff is not None and not since_staff:
            answered, waiting = last_staff, None
        else:
            answered = None
            waiting = ticket.created_at if last_staff is None else since_staff[0]
        pulses[ticket.id] = ConversationPulse(
            last_text=preview(last[3]) if last else "",
            last_from=last[2] if last else None,
            answered_at=answered,
            waiting_since=waiting,
            pictures=last[4] if last else 0,
        )
    return pulses


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The text on one line, cut at a word before ``limit`` characters with an ellipsis (the full text is on
    the conversation page)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def reason_for_staff(reason: str) -> str:
    """The hand-over reason without links: a picture ticket's reason holds the media URL, which stays on
    the server (the conversation page shows the picture through the inbox's own route)."""
    return _URL.sub("(picture)", reason)
