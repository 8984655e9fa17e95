"""The waitlist: a freed slot is offered to matching patients; the first yes books it, later ones hear it is taken."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.models import Appointment, AppointmentStatus, ChangedBy, OutboundMessage, WaitlistEntry
from bot.scheduling.booking import book_appointment, cancel_appointment, find_open_slots
from bot.scheduling.waitlist import accept_offer, join_waitlist, offer_freed_slot, pending_offer_for
from tests.reminder_factories import kind, patient, provider

ZONE = ZoneInfo("America/Los_Angeles")
FREED = datetime(2027, 3, 2, 10, 0, tzinfo=ZONE)  # Tuesday, Dr. Patel works 8-17


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def book(session, who, start, now, provider_key="patel"):
    [slot] = find_open_slots(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                             provider_id=provider(session, provider_key).id, window_start=start,
                             window_end=start + timedelta(minutes=1), limit=1, spread=False)
    return book_appointment(session, patient_id=who.id, slot=slot, now=now, changed_by=ChangedBy.STAFF)


@pytest.fixture
def world(any_engine, now):
    """Ana (wants to move her Mar 20 visit up, any provider), Ben (Dr. Patel, this week), and three who must not hear."""
    ids = {}
    with Session(any_engine) as session, session.begin():
        follow_up = kind(session, "follow_up").id
        patel = provider(session, "patel").id
        ana, ben = patient(session, "Ana", "+15035550101"), patient(session, "Ben", "+15035550102")
        late, stopped, cleo = (patient(session, "Dee", "+15035550103"), patient(session, "Eve", "+15035550104"),
                               patient(session, "Cleo", "+15035550105"))
        ana_visit = book(session, ana, local(2027, 3, 20, 10, 0) - timedelta(days=3), now)  # Wed Mar 17
        ids["ana_visit"] = ana_visit.id
        join_waitlist(session, patient_id=ana.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=now, window_end=local(2027, 3, 17, 0, 0), appointment_id=ana_visit.id, now=now)
        join_waitlist(session, patient_id=ben.id, appointment_type_id=follow_up, provider_id=patel,
                      window_start=local(2027, 3, 2, 0, 0), window_end=local(2027, 3, 6, 0, 0),
                      now=now + timedelta(minutes=1))
        join_waitlist(session, patient_id=late.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=local(2027, 3, 10, 0, 0), window_end=local(2027, 3, 15, 0, 0), now=now)
        join_waitlist(session, patient_id=stopped.id, appointment_type_id=follow_up, provider_id=None,
                      window_start=now, window_end=local(2027, 3, 15, 0, 0), now=now)
        consent.record_opt_out(session, stopped.phone, "keyword", now)
        ids["cleo_visit"] = book(session, cleo, FREED, now).id
    return any_engine, ids


def cancel_and_offer(engine, ids, now):
    with Session(engine) as session, session.begin():
        visit = cancel_appointment(session, ids["cleo_visit"], now=now, changed_by=ChangedBy.PATIENT_SMS)
        return [(o.entry_id, o.start) for o in offer_freed_slot(
            session, provider_id=visit.provider_id, appointment_type_id=visit.appointment_type_id,
            start=visit.start, now=now)]


def outbox(engine):
    with Session(engine) as session:
        return {t.phone: t for t in session.execute(
            select(OutboundMessage).where(OutboundMessage.kind == "waitlist")).scalars()}


def test_a_freed_slot_is_offered_to_matching_waiting_patients_only(world, now):
    engine, ids = world
    offers = cancel_and_offer(engine, ids, now)
    assert len(offers) == 2
    sent = outbox(engine)
    assert set(sent) == {"+15035550101", "+15035550102"}
    assert sent["+15035550102"].body == ("Riverside Family Medicine: A sooner appointment opened: Tue, Mar 2 at "
                                         "10:00 AM with Dr. Patel. Reply YES to take it. Reply STOP to opt out.")
    assert cancel_and_offer(engine, ids, now + timedelta(minutes=5)) == []  # offered once per slot


def test_a_waiting_patient_with_another_visit_at_that_time_is_not_offered_it(world, now):
    engine, ids = world
    with Session(engine) as session, session.begin():  # Ben already sees NP Lopez at the freed time
        ben = session.execute(select(WaitlistEntry).where(WaitlistEntry.phone == "+15035550102")).scalar_one()
        [slot] = find_open_slots(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                                 provider_id=provider(session, "lopez").id, window_start=FREED,
                                 window_end=FREED + timedelta(minutes=1), limit=1, spread=False)
        book_appointment(session, patient_id=ben.patient_id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
    cancel_and_offer(engine, ids, now)
    assert set(outbox(engine)) == {"+15035550101"}


def test_the_first_yes_books_it_and_a_later_yes_hears_it_is_taken(world, now):
    engine, ids = world
    cancel_and_offer(engine, ids, now)
    with Session(engine) as session, session.begin():
        assert pending_offer_for(session, "+15035550102", now).start == FREED
        answer = accept_offer(session, "+15035550102", now + timedelta(minutes=2))
        assert answer.outcome == "booked" and answer.appointment.start == FREED
    with Session(engine) as session, session.begin():
        assert pending_offer_for(session, "+15035550101", now + timedelta(minutes=3)) is None
        assert accept_offer(session, "+15035550101", now + timedelta(minutes=3)).outcome == "taken"
    with Session(engine) as session:
        ana_entry = session.execute(select(WaitlistEntry).where(WaitlistEntry.phone == "+15035550101")).scalar_one()
        assert ana_entry.status == "waiting"
        assert session.get(Appointment, ids["ana_visit"]).status == AppointmentStatus.BOOKED
        assert accept_offer(session, "+15035550109", now).outcome == "none"


def test_accepting_moves_the_booking_the_patient_wanted_sooner(world, now):
    engine, ids = world
    cancel_and_offer(engine, ids, now)
    with Session(engine) as session, session.begin():
        answer = accept_offer(session, "+15035550101", now + timedelta(minutes=2))
        assert answer.outcome == "booked"
        new_id = answer.appointment.id
    with Session(engine) as session:
        assert session.get(Appointment, ids["ana_visit"]).status == AppointmentStatus.CANCELLED
        assert session.get(Appointment, new_id).start == FREED


def test_two_patients_racing_to_say_yes_get_one_booking(world, now):
    engine, ids = world
    cancel_and_offer(engine, ids, now)
    barrier = threading.Barrier(2)
    answers, errors = {}, []

    def say_yes(phone):
        try:
            with Session(engine) as session, session.begin():
                barrier.wait(timeout=10)
                answers[phone] = accept_offer(session, phone, now + timedelta(minutes=2)).outcome
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=say_yes, args=(p,)) for p in ("+15035550101", "+15035550102")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(answers.values()) == ["booked", "taken"]
    with Session(engine) as session:
        at_freed = session.execute(select(Appointment).where(
            Appointment.start == FREED, Appointment.status == AppointmentStatus.BOOKED)).scalars().all()
        assert len(at_freed) == 1


def test_an_offer_made_in_quiet_hours_waits_in_the_outbox_until_morning(world, now):
    engine, ids = world
    evening = local(2027, 3, 1, 22, 30)
    cancel_and_offer(engine, ids, evening)
    assert {t.next_attempt_at for t in outbox(engine).values()} == {local(2027, 3, 2, 8, 0)}
