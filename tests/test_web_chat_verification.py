"""Verifying a web chat visitor's phone: a 6-digit code by SMS (hashed, 10 minutes, 5 tries, limited per
phone and per client address, never to an opted-out phone), and what the assistant may discuss before and
after (the real rules and actions, no NLU model)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent, conversations, web_chat
from bot.messaging.web_chat import CodeCheck
from bot.models import Appointment, AppointmentStatus, OutboundMessage, OutboundStatus, WebChatCode
from bot.patients import upcoming_appointments
from tests.test_conversations import MARIA, upcoming

SITE = "https://www.smile-dental.example"
ADDRESS = "198.51.100.4"


def open_chat(session, now, address: str = ADDRESS):
    chat, _ = web_chat.open_chat(session, client_address=address, origin=SITE, now=now)
    return chat


def code_texts(session, phone: str) -> list[OutboundMessage]:
    return list(session.execute(select(OutboundMessage).where(OutboundMessage.phone == phone,
                                                              OutboundMessage.kind == "verification")).scalars())


def test_a_code_is_texted_to_the_phone_stored_hashed_and_verifies_the_chat(engine, now):
    with Session(engine) as session, session.begin():
        chat = open_chat(session, now)
        assert web_chat.request_code(session, chat, "(503) 555-0111", client_address=ADDRESS, now=now,
                                     code="482913") == MARIA
        [text] = code_texts(session, MARIA)
        assert "482913" in text.body and "10 minutes" in text.body and text.status == OutboundStatus.PENDING
        assert text.conversation.channel == "sms"  # an SMS, sent by the SMS sender
        stored = session.execute(select(WebChatCode)).scalar_one()
        assert "482913" not in stored.code_hash
        assert conversations.patient_phone(session, chat.conversation) is None
        assert web_chat.check_code(session, chat, "482913", now + timedelta(minutes=9)) == (CodeCheck.VERIFIED, 4)
        assert conversations.patient_phone(session, chat.conversation) == MARIA
        assert web_chat.check_code(session, chat, "482913", now)[0] == CodeCheck.NO_CODE  # used once only


def test_a_code_expires_after_10_minutes(engine, now):
    with Session(engine) as session, session.begin():
        chat = open_chat(session, now)
        web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now, code="111111")
        assert web_chat.check_code(session, chat, "111111", now + timedelta(minutes=10))[0] == CodeCheck.EXPIRED
        assert conversations.patient_phone(session, chat.conversation) is None


def test_five_wrong_tries_kill_the_code(engine, now):
    with Session(engine) as session, session.begin():
        chat = open_chat(session, now)
        web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now, code="222222")
        results = [web_chat.check_code(session, chat, "999999", now) for _ in range(5)]
        assert results == [(CodeCheck.WRONG, 4), (CodeCheck.WRONG, 3), (CodeCheck.WRONG, 2), (CodeCheck.WRONG, 1),
                           (CodeCheck.LOCKED, 0)]
        assert web_chat.check_code(session, chat, "222222", now)[0] == CodeCheck.LOCKED  # even the right one
        assert conversations.patient_phone(session, chat.conversation) is None


def test_a_new_code_replaces_the_old_one(engine, now):
    with Session(engine) as session, session.begin():
        chat = open_chat(session, now)
        web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now, code="333333")
        web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now, code="444444")
        assert web_chat.check_code(session, chat, "333333", now)[0] == CodeCheck.WRONG
        assert web_chat.check_code(session, chat, "444444", now)[0] == CodeCheck.VERIFIED


def test_codes_are_limited_per_phone_and_per_client_address(engine, now):
    with Session(engine) as session, session.begin():
        chat = open_chat(session, now)
        for _ in range(3):
            web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now)
        with pytest.raises(web_chat.Flooded):  # a 4th code to the same phone within the hour, from anywhere
            web_chat.request_code(session, open_chat(session, now, "203.0.113.9"), MARIA,
                                  client_address="203.0.113.9", now=now)
        for n in range(2):
            web_chat.request_code(session, chat, f"+1503555020{n}", client_address=ADDRESS, now=now)
        with pytest.raises(web_chat.Flooded):  # a 6th code from one address within the hour, to any phone
            web_chat.request_code(session, chat, "+15035550209", client_address=ADDRESS, now=now)
        assert len(code_texts(session, MARIA)) == 3
        later = now + timedelta(hours=1, seconds=1)
        web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=later)


def test_an_opted_out_phone_gets_no_code_and_the_visitor_is_not_told_why(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, MARIA, "keyword", now)
        chat = open_chat(session, now)
        assert web_chat.request_code(session, chat, MARIA, client_address=ADDRESS, now=now) == MARIA
        assert [t.status for t in code_texts(session, MARIA)] == []


def test_not_a_phone_is_refused(engine, now):
    with Session(engine) as session, session.begin(), pytest.raises(web_chat.NotAPhone):
        web_chat.request_code(session, open_chat(session, now), "call me", client_address=ADDRESS, now=now)


# --- What the assistant discusses before and after verification ---------------------------

@pytest.fixture
def chat_in(demo_engine, now, converse):
    """A web chat conversation held with the real rules and actions: (chat, web chat row id)."""
    with Session(demo_engine) as session, session.begin():
        row = open_chat(session, now)
        sender_id = conversations.sender_id_of("web_chat", row.chat_id)
        chat_row_id = row.id
    return converse(sender_id, demo_engine, now), chat_row_id


def verify(engine, chat_row_id: int, phone: str, now) -> None:
    from bot.models import WebChat
    with Session(engine) as session, session.begin():
        chat = session.get(WebChat, chat_row_id)
        web_chat.request_code(session, chat, phone, client_address=ADDRESS, now=now, code="135790")
        assert web_chat.check_code(session, chat, "135790", now)[0] == CodeCheck.VERIFIED


@pytest.mark.parametrize("text, intent", [
    ("can i move my appt to thursday afternoon", "reschedule_appointment"),
    ("when is my appointment", "check_appointment"),
    ("cancel my appointment", "cancel_appointment"),
    ("confirm", "confirm_appointment"),
    ("i'm running late", "running_late"),
])
def test_before_verification_visits_are_not_discussed(chat_in, demo_engine, now, text, intent):
    chat, _ = chat_in
    reply = chat.say(text, intent)
    assert "please verify your phone first" in reply
    assert "Mar" not in reply and "Dr." not in reply
    assert chat.responses == ["utter_verify_phone_first"]


def test_before_verification_office_questions_are_answered(chat_in):
    chat, _ = chat_in
    reply = chat.say("what are your hours", "office_info")
    assert "verify" not in reply and reply


def test_after_verification_the_chat_reschedules_that_phones_patient(chat_in, demo_engine, now):
    chat, chat_row_id = chat_in
    verify(demo_engine, chat_row_id, MARIA, now)
    [old] = upcoming(demo_engine, MARIA, now)
    reply = chat.say("can i move my appt to thursday afternoon", "reschedule_appointment")
    assert "1. Thu, Mar 4" in reply
    reply = chat.say("1", "inform")
    assert "moved to Thu, Mar 4" in reply
    with Session(demo_engine) as session:
        assert session.get(Appointment, old.id).status == AppointmentStatus.CANCELLED
        ids = [old.patient_id]
        assert len(upcoming_appointments(session, ids, now)) == 1


def test_a_new_patient_books_only_once_the_phone_is_verified(chat_in, demo_engine, now):
    chat, chat_row_id = chat_in
    assert "new-patient visit" in chat.say("i'd like to book an appointment", "book_appointment")
    assert "date of birth" in chat.say("Jane Smith", "inform")
    assert "please verify your phone first" in chat.say("04/12/1985", "inform")
    verify(demo_engine, chat_row_id, "+15035550177", now)
    reply = chat.say("04/12/1985", "inform")
    assert "verify" not in reply
