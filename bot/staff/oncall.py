"""On-call cover for urgent tickets: who is paged, when the page escalates, what the patient is promised.

The practice file's ``on_call`` section (see the README, "The staff inbox")
names the queue whose new tickets page the on-call staff phone (``queue``),
the number (``number``, or a ``rota`` by weekday and hour, first match wins,
``number`` otherwise) and the ``escalation``: ``after_minutes`` without a
claim, the next of ``numbers`` is paged, the last one again and again, until
a person claims or answers the ticket or ``max_pages`` pages have gone out.

A page is an outbox text of kind ``on_call_page`` to a staff phone, not a text
to a patient: it carries only the inbox link, goes out at any hour, and no
patient consent applies (see :class:`bot.messaging.outbox.OutboundKind`).

Exactly once per step: each page is an :class:`~bot.models.OnCallPage` row,
unique per (ticket, step), written with its outbox text in one savepoint. A
second worker (or a worker restarted mid-pass) that tries the same step hits
the constraint and writes nothing; no process keeps state between passes.

A ticket the classifier alone called an emergency (no safety pattern matched,
confidence under ``classifier_min_confidence``) is paged only when the
practice sets ``page_classifier_emergencies: true``; the patient gets the
911/988 advice either way. Every page, and every decision not to page, is an
:class:`~bot.models.AuditEntry` (staff_user_id None: the assistant did it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messaging import outbox
from bot.models import AuditEntry, HandoffTicket, OnCallPage, Practice, TicketStatus
from bot.practice import WEEKDAYS, _hhmm, closed_days, office_hours_on, practice_zone
from bot.privacy import mask_phone
from bot.staff import routing
from bot.wording.on_call import render_page

DEFAULT_MAX_PAGES = 6
DEFAULT_CLASSIFIER_MIN_CONFIDENCE = 0.9

# Audit actions (AuditEntry.action)
PAGED = "on_call_page"
NOT_PAGED = "on_call_not_paged"


@dataclass(frozen=True)
class CallbackPromise:
    """What a patient is told outside office hours: who calls back (in the patient's language), within how many
    minutes."""

    team: str
    minutes: int


def on_call_config(practice: Practice) -> dict[str, Any]:
    """The practice's ``on_call`` section ({} when the practice has no on-call cover)."""
    return (practice.config or {}).get("on_call") or {}


def pages_queue(practice: Practice, queue: str) -> bool:
    """True when new tickets in ``queue`` page the on-call phone."""
    config = on_call_config(practice)
    return bool(config) and config.get("queue") == queue


def _in_span(local: datetime, day_offset: int, span: list[str]) -> bool:
    """Is ``local`` inside ``span`` of the day ``day_offset`` days before? A span ending by its start runs past midnight."""
    start, end = _hhmm(span[0]), _hhmm(span[1])
    clock = local.time()
    overnight = end <= start
    if day_offset == 0:
        return start <= clock and (overnight or clock < end)
    return overnight and clock < end


def on_call_number(practice: Practice, at: datetime) -> str | None:
    """The number to page at ``at``: the first rota entry covering it, else ``number`` (None: no cover)."""
    config = on_call_config(practice)
    local = at.astimezone(practice_zone(practice))
    for entry in config.get("rota") or []:
        hours = entry.get("hours") or {}
        for day_offset in (0, 1):  # today's spans, and yesterday's that run past midnight
            span = hours.get(WEEKDAYS[(local.weekday() - day_offset) % 7])
            if span and _in_span(local, day_offset, span):
                return entry["number"]
    return config.get("number")


def escalation_number(practice: Practice, step: int) -> str | None:
    """The number for escalation ``step`` (1: the first of ``escalation.numbers``; past the last: the last)."""
    numbers = list((on_call_config(practice).get("escalation") or {}).get("numbers") or [])
    if not numbers or step < 1:
        return None
    return numbers[min(step, len(numbers)) - 1]


def office_is_open(session: Session, practice: Practice, at: datetime) -> bool:
    local = at.astimezone(practice_zone(practice))
    hours = office_hours_on(practice, local.date(), closed_days(session, local.date(), local.date()))
    return hours is not None and hours.opens <= local < hours.closes


def ticket_link(inbox_url: str, ticket_id: int) -> str:
    return f"{inbox_url.rstrip('/')}/tickets/{ticket_id}"


def _inbox_url(inbox_url: str | None) -> str:
    if inbox_url is not None:
        return inbox_url
    from bot.settings import get_settings

    return get_settings().staff_inbox_url


def _audit(session: Session, action: str, ticket_id: int, now: datetime, detail: str) -> None:
    session.add(AuditEntry(at=now, staff_user_id=None, action=action, ticket_id=ticket_id, detail=detail[:300]))


def _page(session: Session, ticket: HandoffTicket, step: int, phone: str, now: datetime, inbox_url: str
          ) -> OnCallPage | None:
    """Write step ``step``'s page and its outbox text, or nothing if that step exists already."""
    try:
        with session.begin_nested():
            page = OnCallPage(ticket_id=ticket.id, step=step, phone=phone, paged_at=now)
            session.add(page)
            session.flush()  # the unique (ticket, step) refuses a second page of the same step here
            row = outbox.enqueue_text(session, phone, render_page(ticket_link(inbox_url, ticket.id)),
                                      outbox.OutboundKind.ON_CALL_PAGE, now)
            page.outbound_id = row.id
    except IntegrityError:
        return None
    who = "on-call number" if step == 0 else f"escalation {step}"
    _audit(session, PAGED, ticket.id, now, f"step {step}: paged the {who} {mask_phone(phone)}")
    return page


def page_for_new_ticket(session: Session, practice: Practice, ticket: HandoffTicket, now: datetime, *,
                        classifier_confidence: float | None = None, inbox_url: str | None = None
                        ) -> OnCallPage | None:
    """Page the on-call phone at once about a new ticket in the on-call queue (step 0); None when not paged.

    ``classifier_confidence`` is set when only the NLU classifier said
    "emergency" (no safety pattern matched): under the practice's
    ``classifier_min_confidence`` such a ticket pages only with
    ``page_classifier_emergencies: true``.
    """
    config = on_call_config(practice)
    if not pages_queue(practice, ticket.queue):
        return None
    threshold = float(config.get("classifier_min_confidence", DEFAULT_CLASSIFIER_MIN_CONFIDENCE))
    if (classifier_confidence is not None and classifier_confidence < threshold
            and not config.get("page_classifier_emergencies", False)):
        _audit(session, NOT_PAGED, ticket.id, now,
               f"classifier-only emergency at confidence {classifier_confidence:.2f} (< {threshold:.2f}); "
               "page_classifier_emergencies is off")
        return None
    number = on_call_number(practice, now)
    if number is None:
        _audit(session, NOT_PAGED, ticket.id, now, "no on-call number covers this time")
        return None
    return _page(session, ticket, 0, number, now, _inbox_url(inbox_url))


def escalate_due(session: Session, now: datetime, *, inbox_url: str | None = None) -> list[OnCallPage]:
    """Page the next number for every paged ticket nobody has claimed or answered within ``after_minutes``.

    One step per ticket per call (a worker back from a long stop pages once,
    not once per missed step); stops at ``max_pages`` pages in all. Safe to run
    from several workers at once.
    """
    from bot.practice import get_practice

    practice = get_practice(session)
    config = on_call_config(practice)
    escalation = config.get("escalation") or {}
    if not config or not escalation.get("numbers"):
        return []
    after = timedelta(minutes=int(escalation["after_minutes"]))
    max_pages = int(escalation.get("max_pages", DEFAULT_MAX_PAGES))
    last = (
        select(OnCallPage.ticket_id, func.max(OnCallPage.step).label("step"),
               func.max(OnCallPage.paged_at).label("paged_at"))
        .group_by(OnCallPage.ticket_id).subquery()
    )
    rows = session.execute(
        select(HandoffTicket, last.c.step, last.c.paged_at)
        .join(last, last.c.ticket_id == HandoffTicket.id)
        .where(HandoffTicket.status == TicketStatus.OPEN, HandoffTicket.first_response_at.is_(None),
               HandoffTicket.queue == config.get("queue"))
        .order_by(HandoffTicket.id)
    ).all()
    inbox_url = _inbox_url(inbox_url)
    pages = []
    for ticket, step, paged_at in rows:
        if step + 1 >= max_pages or paged_at + after > now:
            continue
        page = _page(session, ticket, step + 1, escalation_number(practice, step + 1), now, inbox_url)
        if page is not None:
            pages.append(page)
    return pages


def after_hours_callback(session: Session, practice: Practice, ticket: HandoffTicket, now: datetime,
                         language: str | None = None) -> CallbackPromise | None:
    """Who will call the patient back, and within how long, when the office is closed and on-call was paged.

    None during office hours (the staff in the office answer) and when nobody
    was paged (no promise the practice cannot keep).
    """
    if office_is_open(session, practice, now):
        return None
    paged = session.execute(
        select(func.count()).select_from(OnCallPage).where(OnCallPage.ticket_id == ticket.id)).scalar_one()
    if not paged:
        return None
    queue = (practice.config.get("queues") or {})[ticket.queue]
    minutes = int(on_call_config(practice).get("callback_minutes") or queue["goal_minutes"])
    return CallbackPromise(team=routing.team_name(practice, ticket.queue, language), minutes=minutes)
