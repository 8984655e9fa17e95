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


# --- The send guard, templates, and staff starting a conversation ------------------------

def test_a_reply_with_a_money_amount_is_refused_until_confirmed_and_the_confirmation_is_audited(ticket, now):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        with pytest.raises(replies.ReplyRefused) as refused:
            replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="You owe $250", now=now)
        assert refused.value.reason == replies.NEEDS_CONFIRMATION
        assert [(f.kind, f.text) for f in refused.value.findings] == [("money amount", "$250")]
        assert session.execute(select(OutboundMessage)).first() is None
        sent = replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, body="You owe $250", now=now,
                                        confirmed=True)
        assert session.get(OutboundMessage, sent.outbound_id).body == "You owe $250"
        [entry] = session.execute(select(AuditEntry)).scalars()
        assert entry.detail == f"outbound {sent.outbound_id}; confirmed: money amount"


def test_a_reply_with_a_template_placeholder_left_in_is_refused_even_when_confirmed(ticket, now):
    engine, ticket_id, user_id = ticket
    with Session(engine) as session, session.begin():
        with pytest.raises(replies.ReplyRefused) as refused:
            replies.send_staff_reply(session, ticket_id, staff_user_id=user_id, confirmed=True, now=now,
                                     body="Your visit is {next_appointment}. Call {practice_phone}.")
        assert (refused.value.reason, refused.value.detail) == (replies.UNFILLED, "{next_appointment}, {practice_phone}")
        assert session.execute(select(OutboundMessage)).first() is None


def _patient(session, phone=PHONE, first="Dana", last="Reyes"):
    from bot.models import Patient
    patient = Patient(phone=phone, first_name=first, last_name=last)
    session.add(patient)
    session.flush()
    return patient


def test_template_values_fill_first_name_next_visit_practice_phone_and_staff_first_name(engine, now):
    from bot.models import StaffUser
    from bot.practice import get_practice
    from tests.web_helpers import add_appointment
    with Session(engine) as session, session.begin():
        patient = _patient(session)
        add_appointment(session, patient.id, "patel", "annual_physical", now + timedelta(days=3, hours=1))
        add_appointment(session, patient.id, "patel", "annual_physical", now + timedelta(days=9))
        user = StaffUser(username="maria", display_name="Maria Gomez", role="front_desk", password_hash="x",
                         created_at=now)
        values = replies.template_values(session, get_practice(session), [patient], user, now)
        body = replies.fill_placeholders(
            "Hi {first_name}, this is {staff_first_name}. See you {next_appointment}. {practice_phone} {unknown}",
            values)
        assert body == ("Hi Dana, this is Maria. See you Thu, Mar 4 at 10:00 AM with Dr. Patel. (503) 555-0100 "
                        "{unknown}")
        nobody_booked = replies.template_values(session, get_practice(session), [_patient(session, "+15035550177")],
                                                user, now)
        assert "next_appointment" not in nobody_booked


def test_staff_start_a_conversation_ticket_text_pause_and_audit(engine, now):
    with Session(engine) as session, session.begin():
        user = accounts.create_staff_user(session, "dana", "long enough", "front_desk", "Dana", now)
        patient = _patient(session)
        started = replies.start_conversation(session, patient.id, queue="front_desk", staff_user_id=user.id,
                                             role="front_desk", body="Hi Dana, please call us.", now=now)
        ticket = session.get(HandoffTicket, started.ticket_id)
        assert (ticket.queue, ticket.phone, ticket.patient_id, ticket.status, ticket.claimed_by,
                ticket.first_response_at) == ("front_desk", PHONE, patient.id, TicketStatus.CLAIMED, user.id, now)
        text = session.get(OutboundMessage, started.outbound_id)
        assert (text.phone, text.body, text.kind) == (PHONE, "Hi Dana, please call us.", "staff")
        assert (started.pause.kind, started.pause.phone) == (CommandKind.PAUSE, PHONE)
        assert [(e.action, e.detail) for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
                ] == [("start", f"patient {patient.id}"), ("reply", f"outbound {started.outbound_id}")]


def test_staff_cannot_start_a_conversation_with_an_opted_out_phone_and_the_refusal_is_audited(engine, now):
    with Session(engine) as session, session.begin():
        user = accounts.create_staff_user(session, "dana", "long enough", "front_desk", "Dana", now)
        patient = _patient(session)
        consent.record_opt_out(session, PHONE, "keyword", now)
        started = replies.start_conversation(session, patient.id, queue="front_desk", staff_user_id=user.id,
                                             role="front_desk", body="Hi", now=now)
        assert started.opted_out and started.ticket_id is None
        patient_id = patient.id
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
        assert session.execute(select(HandoffTicket)).first() is None
        assert [(e.action, e.detail) for e in session.execute(select(AuditEntry)).scalars()] == [
            ("start_refused", f"patient {patient_id}: opted out of texts")]


def test_staff_start_a_conversation_only_from_a_queue_their_role_answers(engine, now):
    with Session(engine) as session, session.begin():
        user = accounts.create_staff_user(session, "bea", "long enough", "billing", "Bea", now)
        patient = _patient(session)
        with pytest.raises(PermissionError):
            replies.start_conversation(session, patient.id, queue="clinical", staff_user_id=user.id,
                                       role="billing", body="Hi", now=now)


def test_find_patients_by_name_words_or_phone_digits(engine, now):
    with Session(engine) as session, session.begin():
        _patient(session)
        _patient(session, "+15035550177", "Sam", "Reyes")
        _patient(session, "+15035550188", "Lee", "Danaher")
        names = lambda text: [p.full_name for p in replies.find_patients(session, text)]  # noqa: E731
        assert names("dana") == ["Lee Danaher", "Dana Reyes"]
        assert names("dana rey") == ["Dana Reyes"]
        assert names("(503) 555-0177") == ["Sam Reyes"]
        assert names("0188") == ["Lee Danaher"]
        assert names("   ") == []
