"""Handing a conversation back to the assistant (or taking it again), so that no patient is stranded.

Resolving a ticket must wake the bot for that conversation (Rasa's ``resume``), and
reopening one must silence it (``pause``). Calling Rasa from the request and
hoping is not enough: if Rasa is down, the ticket is resolved and the patient
paused with nobody answering. So the ticket change and a
:class:`~bot.models.ConversationCommand` are written in one transaction
(:func:`request_command`), and the command is delivered until Rasa confirms:

- :func:`deliver_due` claims one due command at a time (a conditional UPDATE
  with a short lease, so two deliverers never send the same one), calls the
  ``deliver`` function it is given *outside* any transaction, and settles it.
  The inbox runs it at once for its own command (best effort); the outbox
  sender runs it on every pass (``channels.rasa_commands``).
- A failure is retried with the outbox's exponential backoff. After
  :data:`MAX_ATTEMPTS` the command has failed: a resume puts the ticket back
  to open, with a note from the assistant, so staff see the patient again;
  a pause leaves a note that the assistant may still answer.
- Commands set a state, so only the newest per conversation matters: a new one
  supersedes a pending older one, and one conversation's commands are delivered
  one at a time, in order. A resume is dropped when an open ticket holds the
  conversation again by the time it is delivered.

This module imports no HTTP client: ``deliver(kind, sender_id)`` is the adapter's
(``sender_id``: the conversation's Rasa sender id, see :mod:`bot.messaging.conversations`)
and raises :class:`NotDelivered` when Rasa did not take the command.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.messaging import conversations
from bot.messaging.outbox import backoff_delay
from bot.models import (
    CommandKind,
    CommandStatus,
    Conversation,
    ConversationCommand,
    HandoffTicket,
    TicketNote,
    TicketStatus,
)
from bot.staff import handoff

log = logging.getLogger(__name__)

# 8 attempts with the outbox's backoff (1-2 s, 2-4 s, ... 64-128 s): about 2-4 minutes, longer
# than Rasa takes to restart and load its model, before staff are told.
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=30)  # longer than any delivery's HTTP timeout

FAILED_RESUME_NOTE = (
    "The assistant could not take this conversation back ({attempts} tries; last: {error}). "
    "The ticket is open again and the patient's texts come here: answer them, or resolve again "
    "once the assistant runs.")
FAILED_PAUSE_NOTE = (
    "The assistant could not be paused for this conversation ({attempts} tries; last: {error}), "
    "so it may answer the patient's texts. Resolve and reopen to try again, or tell IT.")


class NotDelivered(RuntimeError):
    """The assistant did not take the command; the message says why (shown to staff if it keeps failing)."""


Deliver = Callable[[str, str], None]  # (kind "resume"/"pause", Rasa sender id) -> None, or raises NotDelivered


# --- Writing commands (inside the ticket's transaction) --------------------------------------

def request_command(session: Session, kind: CommandKind, *, ticket_id: int, now: datetime,
                    conversation: Conversation | None = None, phone: str | None = None) -> ConversationCommand:
    """Store a command for the conversation (or a ``phone``'s SMS one), due now; a pending older one not being
    delivered is superseded."""
    if conversation is None:
        if phone is None:
            raise TypeError("request_command needs a conversation or a phone")
        conversation = conversations.sms_conversation(session, phone, now)
    session.execute(
        update(ConversationCommand)
        .where(ConversationCommand.conversation_id == conversation.id,
               ConversationCommand.status == CommandStatus.PENDING,
               _not_in_flight(now))
        .values(status=CommandStatus.SUPERSEDED, done_at=now)
        .execution_options(synchronize_session=False)
    )
    command = ConversationCommand(kind=kind, conversation_id=conversation.id,
                                  phone=conversations.phone_of(conversation), ticket_id=ticket_id,
                                  status=CommandStatus.PENDING,
                                  attempts=0, next_attempt_at=now, created_at=now)
    session.add(command)
    session.flush()
    return command


def resolve_and_hand_back(session: Session, ticket_id: int, staff_user_id: int | None,
                          now: datetime) -> ConversationCommand | None:
    """Resolve the ticket and, unless another open ticket still holds the conversation, request the resume.

    Returns the resume command, or None when the bot stays paused for the other ticket.
    """
    ticket = handoff.resolve_ticket(session, ticket_id, staff_user_id, now)
    if handoff.open_ticket_for(session, ticket.conversation) is not None:
        return None
    return request_command(session, CommandKind.RESUME, conversation=ticket.conversation, ticket_id=ticket.id, now=now)


def reopen_and_pause(session: Session, ticket_id: int, staff_user_id: int, now: datetime) -> ConversationCommand:
    """Take the conversation back from the bot: reopen the ticket and request the pause."""
    ticket = handoff.reopen_ticket(session, ticket_id, staff_user_id, now)
    return request_command(session, CommandKind.PAUSE, conversation=ticket.conversation, ticket_id=ticket.id, now=now)


def _not_in_flight(now: datetime):
    return or_(ConversationCommand.claimed_until.is_(None), ConversationCommand.claimed_until <= now)


# --- What the inbox shows ------------------------------------------------------------------

@dataclass(frozen=True)
class HandBack:
    """The newest unsettled or failed command of a ticket: what staff are told about it."""

    kind: str            # resume, pause
    status: str          # pending, failed
    attempts: int
    last_error: str | None


def hand_back_states(session: Session, ticket_ids: Iterable[int]) -> dict[int, HandBack]:
    """Per ticket, its newest command if still pending or failed (a delivered or moot one is not news)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    newest: dict[int, ConversationCommand] = {}
    for command in session.execute(
        select(ConversationCommand)
        .where(ConversationCommand.ticket_id.in_(ids), ConversationCommand.status != CommandStatus.SUPERSEDED)
        .order_by(ConversationCommand.id)
    ).scalars():
        newest[command.ticket_id] = command
    return {
        ticket_id: HandBack(c.kind.value, c.status.value, c.attempts, c.last_error)
        for ticket_id, c in newest.items() if c.status in (CommandStatus.PENDING, CommandStatus.FAILED)
    }


def tickets_handing_back():
    """A subquery of the tickets whose resume Rasa has not confirmed yet (they stay in the open queue)."""
    return select(ConversationCommand.ticket_id).where(
        ConversationCommand.kind == CommandKind.RESUME, ConversationCommand.status == CommandStatus.PENDING)


# --- Delivering -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    sender_id: str  # the conversation's, for Rasa


def due_ids(session: Session, now: datetime, limit: int = 50) -> list[int]:
    return list(session.execute(
        select(ConversationCommand.id)
        .where(ConversationCommand.status == CommandStatus.PENDING, ConversationCommand.next_attempt_at <= now,
               _not_in_flight(now))
        .order_by(ConversationCommand.id).limit(limit)
    ).scalars())


def claim(session: Session, command_id: int, now: datetime) -> _Claimed | None:
    """Take a due command for delivery (a lease of :data:`LEASE`), or None if it is not ours to send.

    Not while another command of the same conversation is being delivered (one
    conversation's commands go in order). A resume whose conversation an open
    ticket holds again is superseded instead: the bot must stay paused.
    """
    other = aliased(ConversationCommand)
    taken = session.execute(
        update(ConversationCommand)
        .where(ConversationCommand.id == command_id, ConversationCommand.status == CommandStatus.PENDING,
               ConversationCommand.next_attempt_at <= now, _not_in_flight(now),
               ~exists().where(other.conversation_id == ConversationCommand.conversation_id,
                               other.id != ConversationCommand.id,
                               other.claimed_until > now))
        .values(claimed_until=now + LEASE, attempts=ConversationCommand.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    command = session.get(ConversationCommand, command_id, populate_existing=True)
    if command.kind == CommandKind.RESUME and handoff.open_ticket_for(session, command.conversation) is not None:
        command.status, command.claimed_until, command.done_at = CommandStatus.SUPERSEDED, None, now
        return None
    return _Claimed(command.id, command.kind.value, conversations.conversation_sender_id(command.conversation))


def mark_delivered(session: Session, command_id: int, now: datetime) -> None:
    command = session.get(ConversationCommand, command_id, populate_existing=True)
    command.claimed_until = None
    if command.status == CommandStatus.PENDING:
        command.status, command.done_at = CommandStatus.DONE, now


def mark_not_delivered(session: Session, command_id: int, error: str, now: datetime, *,
                       max_attempts: int = MAX_ATTEMPTS, rng: random.Random | None = None) -> CommandStatus:
    """Retry later with backoff; after ``max_attempts`` give up and tell staff on the ticket."""
    command = session.get(ConversationCommand, command_id, populate_existing=True)
    command.claimed_until, command.last_error = None, error[:300]
    newer = session.execute(
        select(ConversationCommand.id).where(ConversationCommand.conversation_id == command.conversation_id,
                                             ConversationCommand.id > command.id,
                                             ConversationCommand.status == CommandStatus.PENDING)
    ).first()
    if newer is not None:
        command.status, command.done_at = CommandStatus.SUPERSEDED, now
    elif command.attempts >= max_attempts:
        command.status, command.done_at = CommandStatus.FAILED, now
        _tell_staff(session, command, now)
    else:
        command.next_attempt_at = now + backoff_delay(command.attempts, rng)
    return command.status


def _tell_staff(session: Session, command: ConversationCommand, now: datetime) -> None:
    """A failed resume puts the ticket back to open (nobody's yet), with a note; a failed pause leaves a note."""
    ticket = session.get(HandoffTicket, command.ticket_id)
    template = FAILED_RESUME_NOTE if command.kind == CommandKind.RESUME else FAILED_PAUSE_NOTE
    if command.kind == CommandKind.RESUME and ticket.status == TicketStatus.RESOLVED:
        ticket.status = TicketStatus.OPEN
        ticket.claimed_by = ticket.claimed_at = ticket.resolved_at = ticket.resolved_by = None
    ticket.last_activity_at = now
    session.add(TicketNote(ticket_id=ticket.id, staff_user_id=None, created_at=now,
                           body=template.format(attempts=command.attempts, error=command.last_error)))
    log.error("ticket %s: the %s for its conversation failed %s times (%s); staff are told on the ticket",
              ticket.id, command.kind.value, command.attempts, command.last_error)


def deliver_due(sessions: sessionmaker, deliver: Deliver, now: Callable[[], datetime], *,
                only_ids: Iterable[int] | None = None, limit: int = 50, max_attempts: int = MAX_ATTEMPTS,
                rng: random.Random | None = None) -> int:
    """Deliver the due commands (or just ``only_ids``, if due); returns how many Rasa confirmed.

    Each command is claimed, delivered and settled in transactions of its
    own; ``deliver`` runs outside them, so a slow Rasa holds no lock.
    """
    if only_ids is None:
        with sessions.begin() as session:
            ids = due_ids(session, now(), limit)
    else:
        ids = list(only_ids)
    delivered = 0
    for command_id in ids:
        with sessions.begin() as session:
            claimed = claim(session, command_id, now())
        if claimed is None:
            continue
        try:
            deliver(claimed.kind, claimed.sender_id)
        except NotDelivered as exc:
            with sessions.begin() as session:
                status = mark_not_delivered(session, claimed.id, str(exc), now(), max_attempts=max_attempts, rng=rng)
            log.warning("conversation command %s (%s): not delivered (%s); now %s",
                        claimed.id, claimed.kind, exc, status.value)
            continue
        with sessions.begin() as session:
            mark_delivered(session, claimed.id, now())
        delivered += 1
    return delivered
