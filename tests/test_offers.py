"""The domain's use cases for the appointment conversations: which times to offer, which appointment a text means."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.language.answers import asks_for_waitlist
from bot.language.dates import When
from bot.scheduling.offers import offer_times, wanted_time
from bot.scheduling.which_appointment import appointment_meant
from tests.reminder_factories import appointment, kind, patient, provider

ZONE = ZoneInfo("America/Los_Angeles")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def test_a_wish_with_room_gets_times_in_it_not_marked_nearest(engine, now):
    with Session(engine) as session:
        wish = When(at(2027, 3, 4, 12), at(2027, 3, 4, 17))  # Thursday afternoon
        offered = offer_times(session, appointment_type_id=kind(session, "follow_up").id, now=now, wish=wish)
        assert 1 <= len(offered.slots) <= 3 and not offered.nearest
        assert all(wish.start <= s.start < wish.end for s in offered.slots)


def test_a_closed_day_widens_to_the_nearest_times_and_says_so(engine, now):
    with Session(engine) as session:
        sunday = When(at(2027, 3, 7), at(2027, 3, 8))
        offered = offer_times(session, appointment_type_id=kind(session, "follow_up").id, now=now, wish=sunday)
        assert offered.nearest and offered.slots and all(s.start >= sunday.end for s in offered.slots)


def test_an_exact_time_that_is_taken_widens_to_that_day(engine, now):
    with Session(engine) as session, session.begin():
        ten = at(2027, 3, 2, 10)
        follow_up = kind(session, "follow_up").id
        patel = provider(session, "patel").id
        for key in ("patel", "okafor", "lopez"):
            appointment(session, patient(session, key, f"+1503555{len(key):04d}"), ten, provider_key=key)
        offered = offer_times(session, appointment_type_id=follow_up, now=now, wish=When(ten, ten),
                              provider_id=patel)
        assert not offered.nearest and offered.slots
        assert {s.start.date() for s in offered.slots} == {ten.date()} and ten not in {s.start for s in offered.slots}


def test_the_day_of_the_visit_being_moved_names_that_visit_not_the_new_time(engine, now):
    with Session(engine) as session, session.begin():
        visit = appointment(session, patient(session), at(2027, 3, 2, 9))
        wish = wanted_time("move my tuesday appt to friday", now, ZONE, moving=visit)
        assert wish.start.date() == at(2027, 3, 5).date()


def test_which_appointment_a_text_means(engine, now):
    with Session(engine) as session, session.begin():
        ana = patient(session)
        assert appointment_meant(session, ana.id, phone=ana.phone, text="cancel", now=now).choices == []
        tuesday = appointment(session, ana, at(2027, 3, 2, 9))
        assert appointment_meant(session, ana.id, phone=ana.phone, text="cancel", now=now).appointment is tuesday
        thursday = appointment(session, ana, at(2027, 3, 4, 9))
        unclear = appointment_meant(session, ana.id, phone=ana.phone, text="cancel it", now=now)
        assert unclear.appointment is None and unclear.choices == [tuesday, thursday]
        assert appointment_meant(session, ana.id, phone=ana.phone, text="cancel thursday",
                                 now=now).appointment is thursday


def test_asking_for_the_waitlist():
    assert asks_for_waitlist("can you let me know if something sooner opens up")
    assert asks_for_waitlist("put me on the wait list")
    assert not asks_for_waitlist("move me to friday")
