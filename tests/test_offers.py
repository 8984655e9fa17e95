"""The domain's use cases for the appointment conversations: which times to offer, which appointment a text means."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.language.answers import asks_for_waitlist
from bot.language.dates import When
from bot.language.dates.parts import PARTS, in_part
from bot.scheduling.booking import find_open_slots
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


NEXT_WEEK = When(at(2027, 3, 8), at(2027, 3, 15))  # now is Monday, March 1


def test_a_span_of_days_with_a_time_of_day_is_offered_only_at_that_time_of_day(engine, now):
    with Session(engine) as session:
        for text, fits in (("next week after 3", lambda t: t.hour >= 15),
                           ("any morning next week", lambda t: 8 <= t.hour < 12)):
            wish = wanted_time(text, now, ZONE)
            assert (wish.start, wish.end) == (NEXT_WEEK.start, NEXT_WEEK.end) and wish.each_day, text
            offered = offer_times(session, appointment_type_id=kind(session, "annual_physical").id, now=now,
                                  wish=wish)
            assert len(offered.slots) == 3 and not offered.nearest, text
            for slot in offered.slots:
                local = slot.start.astimezone(ZONE)
                assert NEXT_WEEK.start <= local < NEXT_WEEK.end and fits(local.time()), (text, local)


def test_the_end_of_a_time_of_day_is_exclusive():
    """A start at 12:00 is no morning and one at 3:00 is not "before 3"; the minute before is."""
    assert in_part(11 * 60 + 45, PARTS["morning"]) and not in_part(12 * 60, PARTS["morning"])
    assert in_part(14 * 60 + 45, (0, 15 * 60)) and not in_part(15 * 60, (0, 15 * 60))
    assert in_part(15 * 60, (15 * 60, 15 * 60)) and not in_part(15 * 60 + 15, (15 * 60, 15 * 60))


def test_open_slots_in_a_time_of_day_stop_before_its_end(engine, now):
    with Session(engine) as session:
        follow_up = kind(session, "follow_up").id
        for each_day, last in (((8 * 60, 12 * 60), (11, 45)), ((0, 15 * 60), (14, 45))):
            slots = find_open_slots(session, appointment_type_id=follow_up, now=now, window_start=NEXT_WEEK.start,
                                    window_end=NEXT_WEEK.end, each_day=each_day, limit=500, spread=False)
            clocks = {(s.start.astimezone(ZONE).hour, s.start.astimezone(ZONE).minute) for s in slots}
            assert last in clocks and max(clocks) == last, each_day


def test_nothing_at_that_time_of_day_in_the_span_widens_at_that_time_of_day_and_says_nearest(engine, now):
    with Session(engine) as session:
        weekend_after_3 = When(at(2027, 3, 6), at(2027, 3, 8), each_day=(15 * 60, 24 * 60))  # Sat 9-12, Sun shut
        offered = offer_times(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                              wish=weekend_after_3)
        assert offered.nearest and offered.slots
        assert all(s.start.astimezone(ZONE).hour >= 15 and s.start >= weekend_after_3.end for s in offered.slots)


def test_a_time_of_day_never_open_widens_to_any_time_and_says_nearest(engine, now):
    with Session(engine) as session:
        late_evenings = When(NEXT_WEEK.start, NEXT_WEEK.end, each_day=(20 * 60, 21 * 60))  # closed by 19:00
        offered = offer_times(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                              wish=late_evenings)
        assert offered.nearest and len(offered.slots) == 3
