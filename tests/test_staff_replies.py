"""Sending a staff reply and resolving, as one domain call each: claim, text, response time, audit, hand-back."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.models import AuditEntry, CommandKind, HandoffTicket, OutboundMessage, TicketStatus
from bot.staff import accounts, handoff, replies

PHONE = "+15035550166"


@pytest.fixture
def ticket(engine, now):
    with Session(engine) as session, session.begin():
        user = accounts.create_staff_user(session, "dana", "long enough", "front_desk", "Dana", now)
        ticket = handoff.open_ticket(session, phone=PHONE, queue="front_desk", reason="question", now=now)
        return engine, ticket.id, user.id


def test_a_reply_claims_the_open_ticket_texts_sets_the_response_time_and_is_audited(ticket, now):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        sent = replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="  See you at 3  ",
                                        now=now + timedelta(minutes=5))
    assert not sent.blocked
    with Session(engine) as session:
        row = session.get(HandoffTicket, ticket_id)
        assert (row.status, row.claimed_by, row.first_response_at) == (
            TicketStatus.CLAIMED, user_id, now + timedelta(minutes=5))
        text = session.get(OutboundMessage, sent.outbound_id)
        assert (text.body, text.kind, text.ticket_id, text.staff_user_id) == ("See you at 3", "staff", ticket_id,
                                                                              user_id)
        [entry] = session.execute(select(AuditEntry)).scalars()
        assert (entry.action, entry.detail) == ("reply", f"outbound {sent.outbound_id}")


@pytest.mark.parametrize("body, reason", [("   ", replies.EMPTY), ("x" * (replies.MAX_REPLY + 1), replies.TOO_LONG)])
def test_an_empty_or_too_long_reply_is_refused_and_nothing_is_written(ticket, now, body, reason):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        with pytest.raises(replies.ReplyRefused) as refused:
            replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body=body, now=now)
        assert refused.value.reason == reason
        assert session.execute(select(OutboundMessage)).first() is None
        assert session.get(HandoffTicket, ticket_id).status == TicketStatus.OPEN


def test_a_resolved_conversation_takes_no_reply_until_reopened(ticket, now):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        command = replies.resolve_conversation(session, ticket_id, staff_user_id=user_id, now=now)
        assert command.kind == CommandKind.RESUME
        with pytest.raises(replies.ReplyRefused, match="resolved"):
            replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="hi", now=now)
        assert replies.reopen_conversation(session, ticket_id, staff_user_id=user_id, now=now).kind == CommandKind.PAUSE
        replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="hi", now=now)
        assert [e.action for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()] == [
            "resolve", "reopen", "reply"]


def test_a_reply_to_an_opted_out_phone_is_blocked_and_says_so(ticket, now):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
        assert replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="hi", now=now).blocked
