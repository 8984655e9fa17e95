"""What a staff member does to a conversation from the inbox: reply, resolve, reopen; each one use case.

Each function is the whole chain in the caller's transaction (claim, text,
first-response time, audit; or resolve, hand-back command, audit), so the
inbox only checks access, calls one function and renders what it returns.
Refusals are :class:`ReplyRefused` with a ``reason`` the view words for staff.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.messaging.outbox import OutboundKind, enqueue
from bot.models import ConversationCommand, HandoffTicket, OutboundStatus, TicketStatus
from bot.staff import accounts, handback, handoff

MAX_REPLY = 1600  # characters: Twilio's limit for one message body

EMPTY, TOO_LONG, RESOLVED = "empty", "too long", "resolved"


class ReplyRefused(Exception):
    """Nothing was texted: ``reason`` is EMPTY, TOO_LONG or RESOLVED (reopen the ticket to reply)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StaffReply:
    """The reply as the outbox holds it; ``blocked`` when the phone opted out (call the patient instead)."""

    outbound_id: int
    blocked: bool


def send_staff_reply(session: Session, ticket_id: int, *, staff_user_id: int, body: str,
                     now: datetime) -> StaffReply:
    """Text the patient through the outbox; an open ticket becomes the sender's, the first reply sets the response time."""
    body = body.strip()
    if not body:
        raise ReplyRefused(EMPTY)
    if len(body) > MAX_REPLY:
        raise ReplyRefused(TOO_LONG)
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
    accounts.audit(session, "reply", now, staff_user_id=staff_user_id, ticket_id=ticket_id,
                   detail=f"outbound {row.id}")
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
