"""Recall: one text when a yearly visit is due, one follow-up two weeks later, none once booked."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.models import AppointmentStatus, AppointmentType, OutboundMessage, Patient, Reminder, ReminderStatus
from bot.scheduling.recall import add_months, pending_recall_for, plan_recalls
from tests.reminder_factories import appointment, patient
from workers.reminder_worker import run_pass

ZONE = ZoneInfo("America/Los_Angeles")
PHONE = "+15035550123"
FULFILLED = AppointmentStatus.FULFILLED


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def texts(engine):
    with Session(engine) as session:
        return [t.body for t in session.execute(
            select(OutboundMessage).where(OutboundMessage.phone == PHONE).order_by(OutboundMessage.id)).scalars()]


def pass_at(engine, moment):
    return run_pass(engine, lambda: moment, rate=0, notify_rasa=False)


def last_physical(engine, start, type_key="annual_physical", provider_key="okafor"):
    with Session(engine) as session, session.begin():
        who = patient(session, "Ana", PHONE)
        appointment(session, who, start, provider_key=provider_key, type_key=type_key, status=FULFILLED)
        return who.id


def test_add_months_keeps_the_day_or_the_last_of_the_month():
    assert add_months(local(2026, 3, 1).date(), 12) == local(2027, 3, 1).date()
    assert add_months(local(2026, 1, 31).date(), 1) == local(2026, 2, 28).date()


def test_a_patient_due_for_a_physical_gets_one_recall_and_one_follow_up(engine, now):
    last_physical(engine, local(2026, 2, 20, 10, 0))
    pass_at(engine, now)
    pass_at(engine, now + timedelta(hours=1))
    [first] = texts(engine)
    assert first.startswith("Riverside Family Medicine: it's time to book Ana's annual physical with Dr. Okafor.")
    assert "Reply STOP to opt out." in first
    pass_at(engine, now + timedelta(days=13, hours=23))
    assert len(texts(engine)) == 1
    pass_at(engine, now + timedelta(days=14))
    assert len(texts(engine)) == 2 and "a reminder that it's time to book" in texts(engine)[1]
    for days in (15, 30, 60, 200):
        pass_at(engine, now + timedelta(days=days))
    assert len(texts(engine)) == 2
    with Session(engine) as session:
        pending = pending_recall_for(session, PHONE, now + timedelta(days=14, hours=1))
        assert pending.appointment_type.key == "annual_physical" and pending.provider.key == "okafor"
        assert pending.patient.first_name == "Ana"


def test_no_recall_before_it_is_due_or_with_a_visit_ahead(engine, now):
    last_physical(engine, local(2026, 4, 10, 10, 0))  # due Apr 10
    with Session(engine) as session, session.begin():
        assert plan_recalls(session, now) == 0
    with Session(engine) as session, session.begin():
        booked = patient(session, "Ben", "+15035550124")
        appointment(session, booked, local(2025, 1, 5, 10, 0), type_key="annual_physical", status=FULFILLED)
        appointment(session, booked, local(2027, 3, 20, 10, 0))
    with Session(engine) as session, session.begin():
        assert plan_recalls(session, now) == 0


def test_booking_after_the_recall_stops_the_follow_up(engine, now):
    patient_id = last_physical(engine, local(2026, 2, 20, 10, 0))
    pass_at(engine, now)
    with Session(engine) as session, session.begin():
        who = session.get(Patient, patient_id)
        appointment(session, who, local(2027, 4, 20, 10, 0), type_key="annual_physical", provider_key="okafor")
    pass_at(engine, now + timedelta(days=14))
    assert len(texts(engine)) == 1
    with Session(engine) as session:
        followup = session.execute(select(Reminder).where(Reminder.kind == "recall_followup")).scalar_one()
        assert followup.status == ReminderStatus.SKIPPED and followup.reason == "booked"
        assert pending_recall_for(session, PHONE, now + timedelta(hours=1)) is None


def test_a_recall_never_names_a_sensitive_visit_and_never_reaches_an_opted_out_phone(engine, now):
    with Session(engine) as session, session.begin():
        kind = session.execute(select(AppointmentType).where(
            AppointmentType.key == "womens_health")).scalar_one()
        kind.recall_months = 12
    last_physical(engine, local(2026, 1, 10, 10, 0), type_key="womens_health", provider_key="lopez")
    pass_at(engine, now)
    [body] = texts(engine)
    assert "time to book Ana's next visit with Maria Lopez, NP" in body
    assert "omen" not in body
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
    pass_at(engine, now + timedelta(days=14))
    assert len(texts(engine)) == 1


def test_a_recall_over_the_daily_cap_waits_for_the_next_day(engine, now):
    last_physical(engine, local(2026, 2, 20, 10, 0))
    with Session(engine) as session, session.begin():
        from bot.messaging.outbox import enqueue_text
        enqueue_text(session, PHONE, "reminder", "reminder", now - timedelta(minutes=30))
    pass_at(engine, now)
    assert len(texts(engine)) == 1
    with Session(engine) as session:
        recall = session.execute(select(Reminder).where(Reminder.kind == "recall")).scalar_one()
        assert recall.status == ReminderStatus.PLANNED and recall.send_at == local(2027, 3, 2, 8, 0)
    pass_at(engine, local(2027, 3, 2, 8, 0))
    assert len(texts(engine)) == 2
