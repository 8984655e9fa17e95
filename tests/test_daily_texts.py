"""The texts practices get every day: thumbs-up after a reminder, running late, wrong number, records.

Domain rules with a database and a clock; whole conversations through the
real rules, actions and responses (no NLU model: each turn names its intent,
as tests/test_conversations.py does).
"""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.language.answers import is_acknowledgement
from bot.models import Appointment, Patient
from bot.patients import upcoming_appointments

MARIA, DAVID, STRANGER = "+15035550111", "+15035550112", "+15035550150"


def upcoming(engine, phone, now):
    with Session(engine) as session:
        ids = [p.id for p in session.execute(select(Patient).where(Patient.phone == phone)).scalars()]
        return upcoming_appointments(session, ids, now)


def send_reminders_at(engine, when):
    from workers.reminder_worker import run_pass

    run_pass(engine, lambda: when, rate=0, notify_rasa=False)


# --- emoji and two-word replies after a reminder --------------------------------------

ACKNOWLEDGEMENTS = ["👍", "ok 👍", "c thx", "yes see you then", "✅", "k", "👍🏽", "Ok!", "kk thanks",
                    "sounds good, see you then", "see you tmrw 🙂", "yep will be there", "👌"]


@pytest.mark.parametrize("text", ACKNOWLEDGEMENTS)
def test_a_short_yes_or_a_thumbs_up_is_an_acknowledgement(text):
    assert is_acknowledgement(text)


@pytest.mark.parametrize("text", ["ok but can I come later", "no", "cancel", "🙁", "", "   ", "yes please move it",
                                  "wrong number", "stop", "k can we do thursday instead", "👎"])
def test_anything_more_than_a_yes_is_not_an_acknowledgement(text):
    assert not is_acknowledgement(text)


@pytest.mark.parametrize("text, intent", [
    ("👍", "nlu_fallback"), ("ok 👍", "affirm"), ("c thx", "confirm_appointment"), ("yes see you then", "affirm"),
    ("✅", "out_of_scope"), ("k", "nlu_fallback"), ("k", "inform"),
])
def test_a_thumbs_up_or_two_words_after_a_reminder_confirm_the_reminded_visit(demo_engine, now, converse, text, intent):
    first, second = upcoming(demo_engine, DAVID, now)
    reminder_due = first.start - timedelta(days=2) + timedelta(minutes=1)
    send_reminders_at(demo_engine, reminder_due)
    chat = converse(DAVID, demo_engine, reminder_due + timedelta(minutes=5))
    reply = chat.say(text, intent)
    assert "You're confirmed" in reply
    with Session(demo_engine) as session:
        assert session.get(Appointment, first.id).confirmed_at is not None
        assert session.get(Appointment, second.id).confirmed_at is None


def test_a_thumbs_up_with_no_reminder_confirms_nothing_and_is_not_a_misunderstanding(demo_engine, now, converse):
    chat = converse(DAVID, demo_engine, now)
    reply = chat.say("👍", "nlu_fallback")
    assert reply == "OK. Text us anytime if you need anything else."
    assert all(a.confirmed_at is None for a in upcoming(demo_engine, DAVID, now))
