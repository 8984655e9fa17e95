"""Every time a change frees goes to the waitlist: a cancellation, a move by text, a waitlist yes that moves a visit."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Appointment, ChangedBy, OutboundMessage, Patient
from bot.patients import upcoming_appointments
from bot.scheduling import appointments
from bot.scheduling.booking import Slot, book_appointment, find_open_slots
from bot.scheduling.waitlist import join_waitlist, offer_freed_slot
from tests.reminder_factories import kind, patient, provider
from tools.demo import load_demo

ZONE = ZoneInfo("America/Los_Angeles")
MARIA, ROBERT = "+15035550111", "+15035550114"


def waitlist_texts(engine) -> dict[str, list[str]]:
    with Session(engine) as session:
        sent: dict[str, list[str]] = {}
        for text in session.execute(select(OutboundMessage).where(OutboundMessage.kind == "waitlist")
                                    .order_by(OutboundMessage.id)).scalars():
            sent.setdefault(text.phone, []).append(text.body)
        return sent


def wait_for(session, phone: str, type_key: str, start: datetime, end: datetime, now: datetime,
             appointment_id: int | None = None, provider_key: str | None = None):
    who = session.execute(select(Patient).where(Patient.phone == phone)).scalars().first()
    return join_waitlist(session, patient_id=who.id, appointment_type_id=kind(session, type_key).id,
                         provider_id=provider(session, provider_key).id if provider_key else None,
                         window_start=start, window_end=end, appointment_id=appointment_id, now=now)


@pytest.fixture
def demo(engine, now):
    """The demo practice; Robert waits for any follow-up this week (Maria's visit is one)."""
    with Session(engine) as session, session.begin():
        load_demo(session, now)
        wait_for(session, ROBERT, "follow_up", now, now + timedelta(days=7), now)
    return engine


def marias_visit(engine, now) -> Appointment:
    with Session(engine) as session:
        [visit] = upcoming_appointments(
            session, [p.id for p in session.execute(select(Patient).where(Patient.phone == MARIA)).scalars()], now)
        return visit


def test_a_reschedule_by_text_offers_the_freed_time_to_the_waitlist(demo, now, converse):
    old = marias_visit(demo, now)
    chat = converse(MARIA, demo, now)
    chat.say("can i move my appt to thursday afternoon", "reschedule_appointment")
    assert "moved to Thu, Mar 4" in chat.say("1", "inform")
    [offer] = waitlist_texts(demo)[ROBERT]
    with Session(demo) as session:
        old_time = session.get(Appointment, old.id)
        assert f"{old_time.start.astimezone(ZONE).day} at" in offer and "Reply YES to take it" in offer


def test_a_cancellation_by_text_offers_the_freed_time_to_the_waitlist(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("cancel my appointment", "cancel_appointment")
    assert "is cancelled" in chat.say("yes", "affirm")
    assert len(waitlist_texts(demo)[ROBERT]) == 1


def test_moving_a_visit_onto_part_of_its_own_time_offers_nothing_that_is_not_free(engine, now):
    with Session(engine) as session, session.begin():
        ana, ben = patient(session, "Ana", "+15035550101"), patient(session, "Ben", "+15035550102")
        follow_up, patel = kind(session, "follow_up").id, provider(session, "patel").id
        nine = datetime(2027, 3, 2, 9, 0, tzinfo=ZONE)
        [slot] = find_open_slots(session, appointment_type_id=follow_up, now=now, provider_id=patel,
                                 window_start=nine, window_end=nine + timedelta(minutes=1), limit=1, spread=False)
        visit = book_appointment(session, patient_id=ana.id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
        join_waitlist(session, patient_id=ben.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=now, window_end=now + timedelta(days=3), now=now)
        later = nine + timedelta(minutes=15)  # overlaps the old time, so it is built rather than offered
        overlapping = Slot(patel, "Dr. Patel", follow_up, later, later + timedelta(minutes=20))
        appointments.reschedule_appointment(session, visit.id, overlapping, now=now,
                                            changed_by=ChangedBy.PATIENT_SMS)
    assert waitlist_texts(engine) == {}  # 9:00 is still covered by the visit that now starts later


def test_a_waitlist_yes_that_moves_a_visit_offers_that_visits_old_time(engine, now):
    """Ana takes a freed Tuesday slot; her Wednesday time, now free, goes to Ben, who waits for Wednesday."""
    tuesday, wednesday = datetime(2027, 3, 2, 10, 0, tzinfo=ZONE), datetime(2027, 3, 3, 10, 0, tzinfo=ZONE)
    with Session(engine) as session, session.begin():
        ana, ben, cleo = (patient(session, "Ana", "+15035550101"), patient(session, "Ben", "+15035550102"),
                          patient(session, "Cleo", "+15035550105"))
        follow_up, patel = kind(session, "follow_up").id, provider(session, "patel").id

        def book(who, start):
            [slot] = find_open_slots(session, appointment_type_id=follow_up, now=now, provider_id=patel,
                                     window_start=start, window_end=start + timedelta(minutes=1), limit=1,
                                     spread=False)
            return book_appointment(session, patient_id=who.id, slot=slot, now=now, changed_by=ChangedBy.STAFF)

        ana_visit, cleo_visit = book(ana, wednesday), book(cleo, tuesday)
        join_waitlist(session, patient_id=ana.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=now, window_end=wednesday, appointment_id=ana_visit.id, now=now)
        join_waitlist(session, patient_id=ben.id, appointment_type_id=follow_up, provider_id=patel,
                      window_start=wednesday.replace(hour=0), window_end=wednesday.replace(hour=23),
                      now=now + timedelta(minutes=1))
        appointments.cancel_appointment(session, cleo_visit.id, now=now, changed_by=ChangedBy.PATIENT_SMS)
    assert list(waitlist_texts(engine)) == ["+15035550101"]
    with Session(engine) as session, session.begin():
        answer = appointments.accept_waitlist_offer(session, "+15035550101", now + timedelta(minutes=2))
        assert answer.outcome == "booked" and answer.appointment.start == tuesday
    [offer] = waitlist_texts(engine)["+15035550102"]
    assert "Wed, Mar 3 at 10:00 AM with Dr. Patel" in offer


def test_cancelling_twice_offers_once(engine, now):
    with Session(engine) as session, session.begin():
        ana, ben = patient(session, "Ana", "+15035550101"), patient(session, "Ben", "+15035550102")
        follow_up = kind(session, "follow_up").id
        tuesday = datetime(2027, 3, 2, 10, 0, tzinfo=ZONE)
        [slot] = find_open_slots(session, appointment_type_id=follow_up, now=now, window_start=tuesday,
                                 window_end=tuesday + timedelta(minutes=1), limit=1, spread=False)
        visit = book_appointment(session, patient_id=ana.id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
        join_waitlist(session, patient_id=ben.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=now, window_end=now + timedelta(days=3), now=now)
        appointments.cancel_appointment(session, visit.id, now=now, changed_by=ChangedBy.STAFF)
        appointments.cancel_appointment(session, visit.id, now=now, changed_by=ChangedBy.STAFF)
        assert offer_freed_slot(session, provider_id=visit.provider_id, appointment_type_id=follow_up,
                                start=visit.start, now=now) == []
    assert len(waitlist_texts(engine)["+15035550102"]) == 1
