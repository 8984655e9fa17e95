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


@pytest.mark.parametrize("text", ["sí", "Si", "sí, ahí estaré", "claro que si", "confirmo", "Confirmado 👍",
                                  "ok gracias", "muchas gracias", "de acuerdo", "está bien, nos vemos", "listo"])
def test_a_short_spanish_yes_is_an_acknowledgement(text):
    assert is_acknowledgement(text)


@pytest.mark.parametrize("text", ["sí pero puedo llegar tarde?", "no puedo", "cancelar", "mejor el jueves",
                                  "si me pueden cambiar la hora", "ahí estaré a las 5 o más tarde?"])
def test_a_spanish_yes_with_anything_more_is_not_an_acknowledgement(text):
    assert not is_acknowledgement(text)


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


# --- running late ---------------------------------------------------------------------

PHONE = "+15035550123"


def _tickets(engine, phone):
    from bot.models import HandoffTicket

    with Session(engine) as session:
        return session.execute(select(HandoffTicket).where(HandoffTicket.phone == phone)).scalars().all()


def _visit_today(engine, now, first="Ana", phone=PHONE, hours_ahead=1):
    from tests.reminder_factories import appointment, patient

    with Session(engine) as session, session.begin():
        who = patient(session, first, phone)
        return appointment(session, who, now + timedelta(hours=hours_ahead)).id


def test_running_late_thanks_notes_the_visit_tells_the_front_desk_and_says_the_policy(engine, now, converse):
    from bot.models import AppointmentChange

    visit_id = _visit_today(engine, now)
    chat = converse(PHONE, engine, now)
    reply = chat.say("running about 15 min late for my appt, sorry!!", "running_late")
    assert reply == ("Thanks for letting us know! I've told our front desk you're running late for "
                     "Mon, Mar 1 at 10:00 AM with Dr. Patel. If you will be more than 15 minutes late we may need to rebook.")
    [ticket] = _tickets(engine, PHONE)
    assert ticket.queue == "front_desk" and ticket.intent == "running_late" and "15 min late" in ticket.reason
    with Session(engine) as session:
        [note] = session.execute(select(AppointmentChange.note).where(AppointmentChange.appointment_id == visit_id,
                                                                      AppointmentChange.note.is_not(None))).scalars()
    assert note.startswith("running late: running about 15 min late")
    assert chat.paused


def test_running_late_says_the_practices_own_policy(engine, now, converse):
    from bot.models import Practice

    _visit_today(engine, now)
    with Session(engine) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "late_policy": "After 10 minutes we will have to rebook you."}
    reply = converse(PHONE, engine, now).say("omw, 10 min late", "running_late")
    assert reply.endswith("Dr. Patel. After 10 minutes we will have to rebook you.")


def test_running_late_with_no_visit_today_says_so_and_tells_nobody(engine, now, converse):
    _visit_today(engine, now, hours_ahead=26)  # tomorrow
    chat = converse(PHONE, engine, now)
    reply = chat.say("running late sorry", "running_late")
    assert "I don't see an appointment for you today" in reply and "(503) 555-0100" in reply
    assert _tickets(engine, PHONE) == [] and not chat.paused


def test_running_late_names_the_patient_when_the_phone_has_several(demo_engine, now, converse):
    from tests.reminder_factories import appointment

    with Session(demo_engine) as session, session.begin():
        [ellie, *_] = session.execute(select(Patient).where(Patient.phone == "+15035550113")
                                      .order_by(Patient.id)).scalars()
        appointment(session, ellie, now + timedelta(hours=2))
        first_name = ellie.first_name
    reply = converse("+15035550113", demo_engine, now).say("we're running late", "running_late")
    assert f"running late for {first_name}: Mon, Mar 1 at 11:00 AM" in reply


# --- wrong number ---------------------------------------------------------------------

def _reminders_sent(engine, phone):
    from bot.models import OutboundMessage

    with Session(engine) as session:
        return session.execute(select(OutboundMessage.body).where(OutboundMessage.phone == phone,
                                                                  OutboundMessage.kind == "reminder")).scalars().all()


def test_wrong_number_stops_reminders_opens_a_ticket_and_never_says_whose_number_it_was(engine, now, converse):
    from bot.models import Reminder, ReminderStatus

    with Session(engine) as session, session.begin():
        from tests.reminder_factories import appointment, patient
        maria = patient(session, "Maria", PHONE, last="Gonzalez")
        visit = appointment(session, maria, now + timedelta(days=3, hours=5))  # Thu 2 PM: both reminders in hours
        maria_id, visit_id, visit_start = maria.id, visit.id, visit.start
    chat = converse(PHONE, engine, now)
    reply = chat.say("this isn't Maria, you have the wrong number", "wrong_number")
    assert reply == "Sorry about that, and thanks for telling us. We'll stop these texts to this number and fix our records."
    assert "Maria" not in reply and "Gonzalez" not in reply
    [ticket] = _tickets(engine, PHONE)
    assert ticket.queue == "front_desk" and ticket.intent == "wrong_number" and ticket.patient_id == maria_id
    assert chat.paused

    for before in (timedelta(days=2), timedelta(hours=2)):  # the demo practice's two reminders
        send_reminders_at(engine, visit_start - before + timedelta(minutes=1))
    assert _reminders_sent(engine, PHONE) == []
    with Session(engine) as session:
        rows = session.execute(select(Reminder).where(Reminder.appointment_id == visit_id)).scalars().all()
        assert len(rows) == 2
        assert {(row.status, row.reason) for row in rows} == {(ReminderStatus.SKIPPED, "wrong number reported")}


def test_wrong_number_naming_one_patient_of_a_family_stops_only_that_patients_texts(engine, now, converse):
    from tests.reminder_factories import appointment, patient

    with Session(engine) as session, session.begin():
        maria, leo = patient(session, "Maria", PHONE), patient(session, "Leo", PHONE)
        appointment(session, maria, now + timedelta(days=3))
        leo_start = appointment(session, leo, now + timedelta(days=3, hours=1)).start
    converse(PHONE, engine, now).say("this isnt maria", "wrong_number")
    send_reminders_at(engine, leo_start - timedelta(days=2) + timedelta(minutes=1))
    [sent] = _reminders_sent(engine, PHONE)
    assert "Leo" in sent and "Maria" not in sent


def test_a_wrong_number_gets_no_recall_and_no_waitlist_offer(engine, now):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.messaging.wrong_number import report_wrong_number
    from bot.models import ChangedBy, OutboundMessage
    from bot.scheduling.booking import book_appointment, cancel_appointment, find_open_slots
    from bot.scheduling.waitlist import join_waitlist, offer_freed_slot
    from tests.reminder_factories import appointment, kind, patient, provider

    zone = ZoneInfo("America/Los_Angeles")
    with Session(engine) as session, session.begin():
        ana = patient(session, "Ana", PHONE)
        appointment(session, ana, datetime(2026, 2, 20, 10, 0, tzinfo=zone), provider_key="okafor",
                    type_key="annual_physical", status=FULFILLED)  # a yearly physical now due
        report_wrong_number(session, PHONE, "wrong number", now)
        cleo = patient(session, "Cleo", "+15035550105")
        freed = datetime(2027, 3, 2, 10, 0, tzinfo=zone)
        [slot] = find_open_slots(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                                 provider_id=provider(session, "patel").id, window_start=freed,
                                 window_end=freed + timedelta(minutes=1), limit=1, spread=False)
        visit_id = book_appointment(session, patient_id=cleo.id, slot=slot, now=now, changed_by=ChangedBy.STAFF).id
        ana_id = ana.id
    with Session(engine) as session, session.begin():  # the waitlist entry comes after the report: still stopped
        join_waitlist(session, patient_id=ana_id, appointment_type_id=kind(session, "follow_up").id, provider_id=None,
                      window_start=now, window_end=now + timedelta(days=5), now=now)
        cancelled = cancel_appointment(session, visit_id, now=now, changed_by=ChangedBy.PATIENT_SMS)
        assert offer_freed_slot(session, provider_id=cancelled.provider_id, appointment_type_id=cancelled.appointment_type_id,
                                start=cancelled.start, now=now) == []
    send_reminders_at(engine, now)
    send_reminders_at(engine, now + timedelta(hours=1))
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage).where(OutboundMessage.phone == PHONE)).scalars().all() == []


FULFILLED = __import__("bot.models", fromlist=["AppointmentStatus"]).AppointmentStatus.FULFILLED


# --- records and forms ----------------------------------------------------------------

def test_a_records_request_goes_to_the_front_desk_with_the_answer_time(demo_engine, now, converse):
    chat = converse(MARIA, demo_engine, now)
    reply = chat.say("need my daughters vaccine records for school", "records_request")
    assert reply.startswith("I've passed this to our front desk. They will reply by")
    [ticket] = _tickets(demo_engine, MARIA)
    assert ticket.queue == "front_desk" and ticket.reason.startswith("Records or forms request: need my daughters")
    assert chat.paused


def test_a_records_request_goes_where_the_practice_routes_it(demo_engine, now, converse):
    from bot.models import Practice

    with Session(demo_engine) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "routing": {**practice.config["routing"], "records_request": "clinical"}}
    reply = converse(MARIA, demo_engine, now).say("FMLA paperwork for my surgery", "records_request")
    assert "our clinical team" in reply
    [ticket] = _tickets(demo_engine, MARIA)
    assert ticket.queue == "clinical"


def test_a_late_policy_too_long_to_text_is_refused_when_the_practice_file_loads(tmp_path):
    import yaml

    from bot import wording
    from bot.practice import MAX_LATE_POLICY, PracticeFileError, load_practice_file
    from bot.settings import ROOT
    from bot.wording.texts import gsm7_length

    data = yaml.safe_load((ROOT / "bot" / "demo_practice.yml").read_text())
    longest = "x" * MAX_LATE_POLICY
    reply = wording.catalog("en")["utter_running_late"]
    filled = reply.format(team="our clinical team", appointment="Alexandria: Wed, Sep 29 at 12:45 PM with Maria Lopez, NP",
                          late_policy=longest)
    assert gsm7_length(filled) <= 320
    path = tmp_path / "practice.yml"
    path.write_text(yaml.safe_dump({**data, "late_policy": longest}))
    assert load_practice_file(path)["late_policy"] == longest
    path.write_text(yaml.safe_dump({**data, "late_policy": longest + "x"}))
    with pytest.raises(PracticeFileError, match="late_policy"):
        load_practice_file(path)
