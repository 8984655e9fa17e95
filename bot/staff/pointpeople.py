"""Point people: each queue's owner and members, and who a new ticket is assigned to.

In the practice file a queue may name an ``owner`` and ``members`` (staff
usernames). A new ticket is assigned to the owner when the owner is on shift:
within the queue's ``owner_hours`` (weekday -> ["HH:MM", "HH:MM"], practice
time) or, without them, within office hours on a day the office is open.
An owner whose account is missing, inactive, or whose role does not answer
the queue gets nothing.

Assigned is not claimed: the ticket keeps status ``open`` with ``claimed_by``
set to the owner (as when staff assign a ticket to a colleague) until a
person claims or answers it, so the on-call escalation goes on until someone
does.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import HandoffTicket, Practice, StaffUser, TicketStatus
from bot.practice import WEEKDAYS, _hhmm, practice_zone
from bot.staff import access
from bot.staff.oncall import office_is_open

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.CLAIMED)


def _queue(practice: Practice, queue: str) -> dict[str, Any]:
    return ((practice.config or {}).get("queues") or {}).get(queue) or {}


def queue_owner(practice: Practice, queue: str) -> str | None:
    return _queue(practice, queue).get("owner")


def queue_members(practice: Practice, queue: str) -> list[str]:
    """The queue's point people: its owner first, then its members."""
    details = _queue(practice, queue)
    owner = details.get("owner")
    return ([owner] if owner else []) + [m for m in details.get("members", []) if m != owner]


def owner_on_shift(session: Session, practice: Practice, queue: str, at: datetime) -> bool:
    """Is the queue's owner working at ``at``? Their ``owner_hours``, else the office's hours."""
    hours = _queue(practice, queue).get("owner_hours")
    if hours is None:
        return office_is_open(session, practice, at)
    local = at.astimezone(practice_zone(practice))
    span = hours.get(WEEKDAYS[local.weekday()])
    return bool(span) and _hhmm(span[0]) <= local.time() < _hhmm(span[1])


def assign_to_owner(session: Session, practice: Practice, ticket: HandoffTicket, now: datetime) -> StaffUser | None:
    """Assign a new ticket to its queue's owner if they are on shift and may answer the queue; the owner or None."""
    username = queue_owner(practice, ticket.queue)
    if not username or not owner_on_shift(session, practice, ticket.queue, now):
        return None
    owner = session.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
    if owner is None or not owner.active or not access.may_see_queue(access.role_of(owner), ticket.queue, practice):
        return None
    ticket.claimed_by = owner.id
    ticket.claimed_at = now
    return owner


def unanswered_assigned_count(session: Session, staff_user_id: int) -> int:
    """How many open tickets assigned to (or claimed by) this user still have no staff answer."""
    return session.execute(
        select(func.count()).select_from(HandoffTicket).where(
            HandoffTicket.claimed_by == staff_user_id, HandoffTicket.status.in_(OPEN_STATUSES),
            HandoffTicket.first_response_at.is_(None))
    ).scalar_one()
