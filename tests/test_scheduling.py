"""Open slots, booking, cancelling and moving appointments on a real database with the demo practice."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.models import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    AppointmentType,
    ChangedBy,
    Patient,
    Provider,
    SlotClaim,
)
from bot.scheduling.booking import (
    Slot,
    SlotTaken,
    book_appointment,
    cancel_appointment,
    confirm_appointment,
    find_open_slots,
    record_outcome,
    reschedule_appointment,
)
from bot.wording import describe_slot

ZONE = ZoneInfo("America/Los_Angeles")
PATEL_HOURS = {0: (8, 17), 1: (8, 17), 2: (8, 12), 3: (10, 19), 4: (8, 16)}


def at(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZONE)


def type_id(session, key: str) -> int:
    return session.execute(select(AppointmentType.id).where(AppointmentType.key == key)).scalar_one()


def provider_id(session, key: str) -> int:
    return session.execute(select(Provider.id).where(Provider.key == key)).scalar_one()


def new_patient(session, first="Pat", phone="+15035550160") -> int:
    patient = Patient(phone=phone, first_name=first, last_name="Test")
    session.add(patient)
    session.flush()
    return patient.id


def slot_at(session, provider_key: str, type_key: str, start: datetime, now: datetime) -> Slot:
    """The open slot starting exactly at ``start`` (fails the test if it is not offered)."""
    slots = find_open_slots(session, appointment_type_id=type_id(session, type_key), now=now,
                            provider_id=provider_id(session, provider_key), window_start=start,
                            window_end=start + timedelta(minutes=1), limit=1)
    assert slots, f"no {type_key} slot with {provider_key} at {start}"
    return slots[0]


@pytest.fixture
def db(engine):
    """One session in one transaction, rolled back afterwards."""
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        yield session


@pytest.fixture
def any_db(any_engine):
    with sessionmaker(bind=any_engine, future=True)() as session, session.begin():
        yield session


# --- finding slots ------------------------------------------------------------------

def test_offered_slots_lie_on_the_grid_inside_office_and_provider_hours(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "annual_physical"), now=now,
                            provider_id=provider_id(db, "patel"), limit=500, spread=False)
    assert len(slots) > 100
    for slot in slots:
        start, end = slot.start.astimezone(ZONE), slot.end.astimezone(ZONE)
        assert start.minute % 15 == 0 and start.second == 0
        assert end - start == timedelta(minutes=40)
        opens, closes = PATEL_HOURS[start.weekday()]
        assert time(opens) <= start.time() and end.time() <= time(closes), slot
        assert slot.provider_name == "Dr. Patel"


def test_no_slot_inside_the_minimum_lead_time(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now, spread=False, limit=3)
    assert slots[0].start == at(2027, 3, 1, 11, 0)  # now 9:00 + 120 minutes


def test_default_window_ends_thirty_days_ahead(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now, limit=10_000, spread=False)
    assert max(s.start for s in slots) == at(2027, 3, 31, 8, 45)  # the window ends 9:00 thirty days on


def test_closed_dates_and_closed_weekdays_get_no_slots(db):
    now = at(2026, 11, 23, 9)
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now,
                            window_end=at(2026, 11, 30), limit=10_000, spread=False)
    days = {s.start.astimezone(ZONE).date() for s in slots}
    assert date(2026, 11, 26) not in days  # Thanksgiving
    assert date(2026, 11, 29) not in days  # Sunday
    assert {date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 28)} <= days


def test_only_providers_offering_the_type_are_offered(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "flu_shot"), now=now, limit=200, spread=False)
    assert {s.provider_name for s in slots} == {"Maria Lopez, NP"}


def test_part_of_day_keeps_starts_inside_it(db, now):
    for part, (lo, hi) in {"morning": (8, 12), "afternoon": (12, 17), "evening": (17, 21)}.items():
        slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now,
                                part_of_day=part, limit=50, spread=False)
        assert slots and all(time(lo) <= s.start.astimezone(ZONE).time() < time(hi) for s in slots), part
    with pytest.raises(ValueError):
        find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now, part_of_day="night")


def test_excluded_slots_are_not_offered_again(db, now):
    kind = type_id(db, "follow_up")
    first = find_open_slots(db, appointment_type_id=kind, now=now, limit=3)
    second = find_open_slots(db, appointment_type_id=kind, now=now, limit=3,
                             exclude=[(s.provider_id, s.start) for s in first])
    assert len(second) == 3 and not {(s.provider_id, s.start) for s in first} & {(s.provider_id, s.start) for s in second}


def test_spread_offers_different_days_and_parts_of_day(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now,
                            provider_id=provider_id(db, "patel"))
    local = [s.start.astimezone(ZONE) for s in slots]
    assert len({t.date() for t in local}) == 3
    assert len({t.hour < 12 for t in local}) == 2  # mornings and afternoons both offered
    assert local == sorted(local)


def test_spread_within_one_day_keeps_two_hours_between_offers(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now,
                            window_start=at(2027, 3, 4), window_end=at(2027, 3, 5))
    assert len(slots) == 3
    starts = [s.start for s in slots]
    assert all(b - a >= timedelta(hours=2) for a, b in zip(starts, starts[1:]))


def test_without_spread_the_earliest_slots_come_back(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "follow_up"), now=now,
                            provider_id=provider_id(db, "patel"), spread=False)
    assert [s.start for s in slots] == [at(2027, 3, 1, 11, 0), at(2027, 3, 1, 11, 15), at(2027, 3, 1, 11, 30)]


def test_booked_time_and_overlapping_slots_are_not_offered(db, now):
    patel = provider_id(db, "patel")
    physical = slot_at(db, "patel", "annual_physical", at(2027, 3, 2, 9, 0), now)
    book_appointment(db, patient_id=new_patient(db), slot=physical, now=now, changed_by=ChangedBy.STAFF)
    starts = {s.start for s in find_open_slots(
        db, appointment_type_id=type_id(db, "follow_up"), now=now, provider_id=patel,
        window_start=at(2027, 3, 2, 8), window_end=at(2027, 3, 2, 11), limit=100, spread=False)}
    assert at(2027, 3, 2, 8, 30) in starts  # 8:30-8:50 ends before 9:00
    assert not starts & {at(2027, 3, 2, 8, 45), at(2027, 3, 2, 9, 0), at(2027, 3, 2, 9, 15), at(2027, 3, 2, 9, 30)}
    assert at(2027, 3, 2, 9, 45) in starts  # the physical ends 9:40


def test_a_patient_is_not_offered_a_time_that_overlaps_their_own_other_visit(db, now):
    """A patient cannot be in two rooms at once: another provider's free 9:00 is not offered to them."""
    patient = new_patient(db)
    book_appointment(db, patient_id=patient, slot=slot_at(db, "patel", "follow_up", at(2027, 3, 3, 9), now),
                     now=now, changed_by=ChangedBy.PATIENT_SMS)
    window = dict(appointment_type_id=type_id(db, "follow_up"), now=now, provider_id=provider_id(db, "okafor"),
                  window_start=at(2027, 3, 3, 8), window_end=at(2027, 3, 3, 11), limit=100, spread=False)
    for_anyone = {s.start for s in find_open_slots(db, **window)}
    for_patient = {s.start for s in find_open_slots(db, patient_id=patient, **window)}
    overlapping = {at(2027, 3, 3, 8, 45), at(2027, 3, 3, 9, 0), at(2027, 3, 3, 9, 15)}
    assert overlapping <= for_anyone
    assert not overlapping & for_patient and for_anyone - overlapping == for_patient


def test_booking_a_patient_twice_at_the_same_time_is_refused(db, now):
    patient = new_patient(db)
    book_appointment(db, patient_id=patient, slot=slot_at(db, "patel", "follow_up", at(2027, 3, 3, 9), now),
                     now=now, changed_by=ChangedBy.PATIENT_SMS)
    other_room = slot_at(db, "okafor", "follow_up", at(2027, 3, 3, 9, 15), now)
    with pytest.raises(SlotTaken, match="already has another appointment"):
        book_appointment(db, patient_id=patient, slot=other_room, now=now, changed_by=ChangedBy.PATIENT_SMS)
    book_appointment(db, patient_id=new_patient(db, phone="+15035550161"), slot=other_room, now=now,
                     changed_by=ChangedBy.PATIENT_SMS)  # free for anyone else


def test_the_visit_being_moved_does_not_block_times_near_it(db, now):
    patient = new_patient(db)
    visit = book_appointment(db, patient_id=patient, slot=slot_at(db, "patel", "follow_up", at(2027, 3, 3, 9), now),
                             now=now, changed_by=ChangedBy.PATIENT_SMS)
    starts = {s.start for s in find_open_slots(
        db, appointment_type_id=type_id(db, "follow_up"), now=now, provider_id=provider_id(db, "okafor"),
        window_start=at(2027, 3, 3, 8), window_end=at(2027, 3, 3, 11), limit=100, spread=False,
        patient_id=patient, moving_appointment_id=visit.id)}
    assert at(2027, 3, 3, 9, 0) in starts


# --- daylight-saving changes ---------------------------------------------------------

def test_monday_nine_after_the_november_change_is_nine_local(db):
    now = at(2026, 10, 30, 9)  # Friday; clocks fall back Sunday Nov 1
    slot = slot_at(db, "patel", "follow_up", at(2026, 11, 2, 9), now)
    assert slot.start.astimezone(ZONE).hour == 9
    assert slot.start.utcoffset() == timedelta(hours=-8)
    assert slot.start.astimezone(timezone.utc) == datetime(2026, 11, 2, 17, 0, tzinfo=timezone.utc)
    friday = slot_at(db, "patel", "follow_up", at(2026, 10, 30, 14), now)
    assert friday.start.utcoffset() == timedelta(hours=-7)


def test_monday_nine_after_the_march_change_is_nine_local(db):
    now = at(2027, 3, 12, 9)  # Friday; clocks spring forward Sunday Mar 14
    slot = slot_at(db, "patel", "follow_up", at(2027, 3, 15, 9), now)
    assert slot.start.astimezone(ZONE).hour == 9
    assert slot.start.astimezone(timezone.utc) == datetime(2027, 3, 15, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("now", [at(2026, 10, 29, 9), at(2027, 3, 11, 9)])
def test_slots_across_a_clock_change_keep_local_hours(db, now):
    slots = find_open_slots(db, appointment_type_id=type_id(db, "annual_physical"), now=now,
                            provider_id=provider_id(db, "patel"), window_end=now + timedelta(days=7),
                            limit=1000, spread=False)
    by_day = {}
    for slot in slots:
        local = slot.start.astimezone(ZONE)
        by_day.setdefault(local.date(), []).append(local)
        assert local.minute % 15 == 0
        assert slot.end - slot.start == timedelta(minutes=40)
    for day, starts in by_day.items():
        opens, closes = PATEL_HOURS[day.weekday()]
        if day > now.date() + timedelta(days=1):  # full days: the grid runs from opening to closing
            assert min(starts).time() == time(opens)
            last = (closes * 60 - 40) // 15 * 15  # the last grid start that still ends by closing
            assert max(starts).time() == time(last // 60, last % 60)


def test_booking_after_the_change_claims_the_right_instant(db):
    now = at(2026, 10, 30, 9)
    slot = slot_at(db, "patel", "follow_up", at(2026, 11, 2, 9), now)
    appointment = book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.SYSTEM)
    claims = db.execute(select(SlotClaim.step_start).where(SlotClaim.appointment_id == appointment.id)
                        .order_by(SlotClaim.step_start)).scalars().all()
    assert claims == [datetime(2026, 11, 2, 17, 0, tzinfo=timezone.utc), datetime(2026, 11, 2, 17, 15, tzinfo=timezone.utc)]
    assert describe_slot(appointment, ZONE) == "Mon, Nov 2 at 9:00 AM with Dr. Patel"


# --- booking -----------------------------------------------------------------------

def test_second_booking_of_same_slot_is_refused(any_db, now):
    slot = slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 9), now)
    first = book_appointment(any_db, patient_id=new_patient(any_db), slot=slot, now=now, changed_by=ChangedBy.PATIENT_SMS)
    with pytest.raises(SlotTaken):
        book_appointment(any_db, patient_id=new_patient(any_db, "Other"), slot=slot, now=now, changed_by=ChangedBy.PATIENT_SMS)
    assert first.status == AppointmentStatus.BOOKED
    assert any_db.execute(select(func.count(Appointment.id))).scalar_one() == 1
    change = any_db.execute(select(AppointmentChange)).scalar_one()
    assert (change.status, change.changed_by, change.changed_at) == (AppointmentStatus.BOOKED, ChangedBy.PATIENT_SMS, now)


def test_overlapping_booking_is_refused_and_transaction_stays_usable(any_db, now):
    physical = slot_at(any_db, "patel", "annual_physical", at(2027, 3, 2, 9), now)
    visit = slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 9, 15), now)
    later = slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 10), now)
    patient = new_patient(any_db)
    book_appointment(any_db, patient_id=patient, slot=physical, now=now, changed_by=ChangedBy.STAFF)
    with pytest.raises(SlotTaken):
        book_appointment(any_db, patient_id=patient, slot=visit, now=now, changed_by=ChangedBy.STAFF)
    book_appointment(any_db, patient_id=patient, slot=later, now=now, changed_by=ChangedBy.STAFF)
    any_db.flush()
    assert any_db.execute(select(func.count(Appointment.id))).scalar_one() == 2
    assert any_db.execute(select(func.count()).select_from(SlotClaim)).scalar_one() == 3 + 2


def test_booking_refuses_a_slot_that_became_too_soon(db, now):
    slot = slot_at(db, "patel", "follow_up", at(2027, 3, 1, 11, 0), now)
    with pytest.raises(SlotTaken, match="lead time"):
        book_appointment(db, patient_id=new_patient(db), slot=slot, now=now + timedelta(minutes=5),
                         changed_by=ChangedBy.PATIENT_SMS)


@pytest.mark.parametrize("start, provider, kind, reason", [
    (at(2027, 3, 3, 13), "patel", "follow_up", "outside the hours"),      # Patel stops Wed at 12
    (at(2027, 3, 3, 11, 45), "patel", "follow_up", "outside the hours"),  # would end 12:05
    (at(2027, 3, 7, 10), "okafor", "follow_up", "outside the hours"),     # Sunday
    (at(2027, 5, 31, 10), "patel", "follow_up", "outside the hours"),     # Memorial Day
    (at(2027, 3, 2, 9, 10), "patel", "follow_up", "grid"),
    (at(2027, 3, 2, 9), "patel", "flu_shot", "does not offer"),
])
def test_booking_refuses_invalid_slots(db, now, start, provider, kind, reason):
    minutes = db.execute(select(AppointmentType.minutes).where(AppointmentType.key == kind)).scalar_one()
    slot = Slot(provider_id(db, provider), "x", type_id(db, kind), start, start + timedelta(minutes=minutes))
    with pytest.raises(SlotTaken, match=reason):
        book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.STAFF)
    assert db.execute(select(func.count(Appointment.id))).scalar_one() == 0


# --- cancelling, moving, confirming, outcomes ---------------------------------------------

def test_cancelling_frees_the_slot_for_another_patient(any_db, now):
    slot = slot_at(any_db, "okafor", "follow_up", at(2027, 3, 3, 10), now)
    first = book_appointment(any_db, patient_id=new_patient(any_db), slot=slot, now=now, changed_by=ChangedBy.PATIENT_SMS)
    cancel_appointment(any_db, first.id, now=now, changed_by=ChangedBy.PATIENT_SMS, note="by text")
    assert first.status == AppointmentStatus.CANCELLED
    assert slot in find_open_slots(any_db, appointment_type_id=slot.appointment_type_id, now=now,
                                   window_start=slot.start, window_end=slot.end, limit=5)
    second = book_appointment(any_db, patient_id=new_patient(any_db, "Next"), slot=slot, now=now, changed_by=ChangedBy.STAFF)
    assert second.status == AppointmentStatus.BOOKED
    assert [(c.status, c.note) for c in first.changes] == [(AppointmentStatus.BOOKED, None),
                                                          (AppointmentStatus.CANCELLED, "by text")]


def test_cancelling_twice_records_one_cancellation_and_outcomes_cannot_be_cancelled(db, now):
    slot = slot_at(db, "okafor", "follow_up", at(2027, 3, 3, 10), now)
    appointment = book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.STAFF)
    cancel_appointment(db, appointment.id, now=now, changed_by=ChangedBy.STAFF)
    cancel_appointment(db, appointment.id, now=now, changed_by=ChangedBy.STAFF)
    assert len(appointment.changes) == 2
    other = book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.STAFF)
    record_outcome(db, other.id, AppointmentStatus.FULFILLED, now=slot.end, changed_by=ChangedBy.STAFF)
    with pytest.raises(ValueError):
        cancel_appointment(db, other.id, now=slot.end, changed_by=ChangedBy.STAFF)


def test_rescheduling_moves_the_booking_in_one_step(any_db, now):
    patient = new_patient(any_db)
    old = book_appointment(any_db, patient_id=patient, slot=slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 9), now),
                           now=now, changed_by=ChangedBy.PATIENT_SMS)
    start = at(2027, 3, 2, 9, 15)  # overlaps the old time, so it is built rather than offered
    target = Slot(old.provider_id, "Dr. Patel", old.appointment_type_id, start, start + timedelta(minutes=20))
    new = reschedule_appointment(any_db, old.id, target, now=now, changed_by=ChangedBy.PATIENT_SMS)
    assert (old.status, new.status) == (AppointmentStatus.CANCELLED, AppointmentStatus.BOOKED)
    assert new.patient_id == patient and new.start == target.start
    claims = any_db.execute(select(SlotClaim.appointment_id)).scalars().all()
    assert claims == [new.id, new.id]
    assert new.changes[0].note == f"rescheduled from appointment {old.id}"


def test_rescheduling_to_a_taken_slot_leaves_the_old_booking_untouched(any_db, now):
    old = book_appointment(any_db, patient_id=new_patient(any_db),
                           slot=slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 9), now),
                           now=now, changed_by=ChangedBy.PATIENT_SMS)
    taken = slot_at(any_db, "patel", "follow_up", at(2027, 3, 2, 10), now)
    book_appointment(any_db, patient_id=new_patient(any_db, "Else"), slot=taken, now=now, changed_by=ChangedBy.STAFF)
    with pytest.raises(SlotTaken):
        reschedule_appointment(any_db, old.id, taken, now=now, changed_by=ChangedBy.PATIENT_SMS)
    any_db.expire_all()
    assert any_db.get(Appointment, old.id).status == AppointmentStatus.BOOKED
    assert len(any_db.get(Appointment, old.id).changes) == 1
    assert any_db.execute(select(func.count()).select_from(SlotClaim)
                          .where(SlotClaim.appointment_id == old.id)).scalar_one() == 2
    assert any_db.execute(select(func.count(Appointment.id))).scalar_one() == 2


def test_confirming_sets_confirmed_at_once(db, now):
    slot = slot_at(db, "lopez", "flu_shot", at(2027, 3, 2, 9), now)
    appointment = book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.SYSTEM)
    confirm_appointment(db, appointment.id, now=now + timedelta(hours=1), changed_by=ChangedBy.PATIENT_SMS)
    confirm_appointment(db, appointment.id, now=now + timedelta(hours=2), changed_by=ChangedBy.PATIENT_SMS)
    assert appointment.confirmed_at == now + timedelta(hours=1)
    assert [(c.changed_by, c.note) for c in appointment.changes] == [
        (ChangedBy.SYSTEM, None), (ChangedBy.PATIENT_SMS, "confirmed")]


def test_outcomes_wait_for_the_start_time(db, now):
    slot = slot_at(db, "lopez", "flu_shot", at(2027, 3, 2, 9), now)
    appointment = book_appointment(db, patient_id=new_patient(db), slot=slot, now=now, changed_by=ChangedBy.SYSTEM)
    with pytest.raises(ValueError, match="not started"):
        record_outcome(db, appointment.id, AppointmentStatus.NOSHOW, now=slot.start - timedelta(minutes=1),
                       changed_by=ChangedBy.STAFF)
    with pytest.raises(ValueError, match="not an outcome"):
        record_outcome(db, appointment.id, AppointmentStatus.BOOKED, now=slot.end, changed_by=ChangedBy.STAFF)
    record_outcome(db, appointment.id, AppointmentStatus.ARRIVED, now=slot.start - timedelta(minutes=10),
                   changed_by=ChangedBy.STAFF, staff_user_id=None)
    record_outcome(db, appointment.id, AppointmentStatus.FULFILLED, now=slot.end, changed_by=ChangedBy.STAFF)
    assert [c.status for c in appointment.changes] == [
        AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED]


# --- words --------------------------------------------------------------------------

def test_describe_slot_says_day_time_and_provider_only(db, now):
    morning = slot_at(db, "patel", "behavioral_health", at(2027, 3, 4, 10, 30), now)
    assert describe_slot(morning, ZONE) == "Thu, Mar 4 at 10:30 AM with Dr. Patel"
    noon = slot_at(db, "lopez", "flu_shot", at(2027, 3, 2, 12), now)
    assert describe_slot(noon, "America/Los_Angeles") == "Tue, Mar 2 at 12:00 PM with Maria Lopez, NP"
    evening = slot_at(db, "lopez", "flu_shot", at(2027, 3, 4, 18, 45), now)
    assert describe_slot(evening, ZONE) == "Thu, Mar 4 at 6:45 PM with Maria Lopez, NP"
