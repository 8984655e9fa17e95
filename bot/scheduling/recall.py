"""Recall: asking patients who are due for a yearly visit (or any type with ``recall_months``) to book.

A patient is due when their newest fulfilled visit of such a type is at least
``recall_months`` old and they have no appointment ahead of them. They get
ONE text ("time to book your annual physical with Dr. Patel", never naming a
sensitive type) and, if they still have not booked two weeks later, ONE
follow-up. Both are ``Reminder`` rows (kinds ``recall`` and
``recall_followup``) keyed to that last visit, so the unique constraint makes
them once-only, and the reminder worker sends them under the same rules as
appointment reminders (consent, quiet hours, caps). Over a cap a recall is
deferred to the next day rather than skipped: it is not tied to a date.
The patient's reply starts the booking flow; :func:`pending_recall_for` tells
the actions which visit and provider the recall was about.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from bot import wording
from bot.messaging import wrong_number
from bot.messaging.outbox import enqueue_text
from bot.messaging.reminders import (
    Delivery,
    ReminderRules,
    _insert_ignoring_duplicates,
    defer,
    rules_for,
    skip,
    wall_time,
    why_not_now,
)
from bot.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Patient,
    Practice,
    Provider,
    Reminder,
    ReminderStatus,
)
from bot.patients import language_for_phone
from bot.practice import format_phone, get_practice
from bot.wording.texts import plain_text

RECALL = "recall"
FOLLOWUP = "recall_followup"
FOLLOWUP_AFTER = timedelta(days=14)
PENDING_FOR = timedelta(days=30)  # how long a reply still counts as an answer to the recall


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (Jan 31 + 1 month = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def plan_recalls(session: Session, now: datetime) -> int:
    """Create the recall rows of every patient now due; returns how many are new. Idempotent."""
    practice = get_practice(session)
    rules = rules_for(practice)
    types = list(session.execute(
        select(AppointmentType).where(AppointmentType.recall_months.is_not(None), AppointmentType.recall_months > 0)
    ).scalars())
    rows: list[dict] = []
    ahead = aliased(Appointment)
    for kind in types:
        newest = (select(Appointment.patient_id, func.max(Appointment.start).label("start"))
                  .where(Appointment.appointment_type_id == kind.id,
                         Appointment.status == AppointmentStatus.FULFILLED)
                  .group_by(Appointment.patient_id).subquery())
        # Coarse cut in SQL (recall_months * 28 days); the exact calendar check is below.
        latest = newest.c.start <= now - timedelta(days=28 * kind.recall_months)
        found = session.execute(
            select(Appointment.id, Appointment.patient_id, Appointment.start, Patient.phone)
            .join(newest, and_(newest.c.patient_id == Appointment.patient_id, newest.c.start == Appointment.start))
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.appointment_type_id == kind.id, Appointment.status == AppointmentStatus.FULFILLED,
                   latest,
                   ~exists().where(ahead.patient_id == Appointment.patient_id,
                                   ahead.status.in_(ACTIVE_STATUSES), ahead.start > now))
        ).all()
        for appt_id, patient_id, start, phone in found:
            due_day = add_months(start.astimezone(rules.zone).date(), kind.recall_months)
            due = wall_time(due_day, rules.window_start, rules.zone).astimezone(timezone.utc)
            if due > now:
                continue
            rows.append(dict(kind=RECALL, appointment_id=appt_id, patient_id=patient_id, phone=phone,
                             offset_key=RECALL, due_at=due, send_at=rules.next_allowed(now),
                             status=ReminderStatus.PLANNED.value))
    if not rows:
        return 0
    before = session.execute(select(func.count(Reminder.id)).where(Reminder.kind == RECALL)).scalar_one()
    _insert_ignoring_duplicates(session, rows)
    return session.execute(select(func.count(Reminder.id)).where(Reminder.kind == RECALL)).scalar_one() - before


def recall_provider(session: Session, last_visit: Appointment) -> Provider | None:
    """The provider of the last visit, if they still see patients for that type."""
    provider = last_visit.provider
    if provider is not None and provider.active and provider in last_visit.appointment_type.providers:
        return provider
    return None


def recall_text(practice: Practice, last_visit: Appointment, provider: Provider | None, followup: bool,
                language: str | None = None) -> str:
    """The recall text in ``language`` (by default the patient's record's): first name, the visit (a sensitive
    type is never named), provider."""
    patient, kind = last_visit.patient, last_visit.appointment_type
    language = language or patient.language
    say = wording.words(language)
    return plain_text(wording.render(
        "recall_followup" if followup else "recall", language, practice_name=practice.name,
        practice_phone=format_phone(practice.phone), first_name=patient.first_name,
        visit=say.visit(kind.name, kind.sensitive), with_provider=say.with_provider(provider and provider.display_name)))


def _booked_since(session: Session, last_visit: Appointment, now: datetime) -> str | None:
    """Why a recall is no longer needed, or None."""
    if session.execute(select(Appointment.id).where(
            Appointment.patient_id == last_visit.patient_id, Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start > now).limit(1)).first():
        return "booked"
    if session.execute(select(Appointment.id).where(
            Appointment.patient_id == last_visit.patient_id,
            Appointment.appointment_type_id == last_visit.appointment_type_id,
            Appointment.status == AppointmentStatus.FULFILLED,
            Appointment.start > last_visit.start).limit(1)).first():
        return "visited since"
    return None


def deliver_recalls(session: Session, phone: str, reminders: Sequence[Reminder], now: datetime,
                    rules: ReminderRules, practice: Practice | None = None) -> Delivery:
    """Send one phone's claimed recall rows, one text each, under the automated-text rules."""
    practice = practice or get_practice(session)
    outcome = Delivery()
    for reminder in sorted(reminders, key=lambda r: (r.send_at, r.id)):
        last_visit = session.get(Appointment, reminder.appointment_id)
        reason = "visit deleted" if last_visit is None else _booked_since(session, last_visit, now)
        if reason is None and wrong_number.automated_texts_stopped(session, phone, last_visit.patient_id):
            reason = wrong_number.WRONG_NUMBER
        if reason:
            skip(reminder, reason)
            outcome.skipped.append(reminder)
            continue
        reason = why_not_now(session, phone, now, rules)
        if reason == "opted out":
            skip(reminder, reason)
            outcome.skipped.append(reminder)
            continue
        if reason == "quiet hours":
            defer(reminder, rules.next_allowed(now))
            outcome.deferred.append(reminder)
            continue
        if reason is not None:  # a cap: try again tomorrow when texts are allowed
            tomorrow = rules.local_midnight(now).date() + timedelta(days=1)
            defer(reminder, wall_time(tomorrow, rules.window_start, rules.zone).astimezone(timezone.utc))
            reminder.reason = reason
            outcome.deferred.append(reminder)
            continue
        provider = recall_provider(session, last_visit)
        text = enqueue_text(session, phone, recall_text(practice, last_visit, provider, reminder.kind == FOLLOWUP,
                                                        language_for_phone(session, phone)),
                            "recall", now)
        reminder.status, reminder.sent_at, reminder.outbound_id, reminder.reason = \
            ReminderStatus.SENT, now, text.id, None
        outcome.sent.append(reminder)
        outcome.texts.append(text)
        if reminder.kind == RECALL:
            due = now + FOLLOWUP_AFTER
            session.add(Reminder(kind=FOLLOWUP, appointment_id=reminder.appointment_id,
                                 patient_id=reminder.patient_id, phone=phone, offset_key="recall+14d",
                                 due_at=due, send_at=rules.next_allowed(due), status=ReminderStatus.PLANNED))
    session.flush()
    return outcome


@dataclass(frozen=True)
class PendingRecall:
    """What a recall text asked a patient to book."""

    reminder_id: int
    patient: Patient
    appointment_type: AppointmentType
    provider: Provider | None  # None: the last provider no longer offers it; any provider will do
    sent_at: datetime


def pending_recall_for(session: Session, phone: str, now: datetime) -> PendingRecall | None:
    """The newest recall sent to ``phone`` in the last 30 days whose patient has not booked since."""
    rows = session.execute(
        select(Reminder).where(Reminder.phone == phone, Reminder.kind.in_((RECALL, FOLLOWUP)),
                               Reminder.status == ReminderStatus.SENT, Reminder.sent_at <= now,
                               Reminder.sent_at >= now - PENDING_FOR)
        .order_by(Reminder.sent_at.desc(), Reminder.id.desc())
    ).scalars()
    for reminder in rows:
        last_visit = session.get(Appointment, reminder.appointment_id)
        if last_visit is None or _booked_since(session, last_visit, now):
            continue
        return PendingRecall(reminder.id, last_visit.patient, last_visit.appointment_type,
                             recall_provider(session, last_visit), reminder.sent_at)
    return None
