"""A wrong number: someone at a patient's phone says it is not theirs ("this isn't Maria", "wrong number").

No automated text (reminder, recall, waitlist offer) goes to that phone for
that patient any more: the report is stored, what is already planned is
skipped, and every sender checks :func:`automated_texts_stopped` at send time
(planning keeps planning; delivery skips). Texting a reassigned number is a
TCPA liability. The front desk fixes the record; nothing here tells the
person at the phone whose number it was.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Reminder, ReminderStatus, WaitlistEntry, WrongNumberReport
from bot.patients import match_patient_by_name, patients_for_phone

__all__ = ["WRONG_NUMBER", "report_wrong_number", "automated_texts_stopped", "stopped_patient_ids"]

WRONG_NUMBER = "wrong number reported"  # the reason skipped reminders carry


def report_wrong_number(session: Session, phone: str, text: str, now: datetime,
                        ticket_id: int | None = None) -> list[WrongNumberReport]:
    """Stop automated texts to ``phone`` for the patient the text names, or for every patient on it.

    "this isn't Maria" names Maria (when Maria is on this phone); "wrong
    number" names nobody, so no patient on the phone is texted automatically.
    Returns the reports (one per patient; an existing one is kept).
    """
    patients = patients_for_phone(session, phone)
    named = match_patient_by_name(patients, text)
    affected = [named] if named is not None else patients
    stopped = stopped_patient_ids(session, phone)
    reports = []
    for patient in affected:
        if patient.id in stopped:
            continue
        report = WrongNumberReport(phone=patient.phone, patient_id=patient.id, reported_at=now,
                                   detail=text[:200], ticket_id=ticket_id)
        session.add(report)
        reports.append(report)
    ids = [patient.id for patient in affected]
    if ids:
        planned = session.execute(select(Reminder).where(
            Reminder.patient_id.in_(ids), Reminder.phone == patients[0].phone, Reminder.status == ReminderStatus.PLANNED)
        ).scalars()
        for reminder in planned:
            reminder.status, reminder.reason = ReminderStatus.SKIPPED, WRONG_NUMBER
        for entry in session.execute(select(WaitlistEntry).where(
                WaitlistEntry.patient_id.in_(ids), WaitlistEntry.status == "waiting")).scalars():
            entry.status = "withdrawn"
    session.flush()
    return reports


def stopped_patient_ids(session: Session, phone: str) -> set[int]:
    """The patients no automated text may go to at ``phone``."""
    return set(session.execute(select(WrongNumberReport.patient_id).where(
        WrongNumberReport.phone == phone, WrongNumberReport.cleared_at.is_(None))).scalars())


def automated_texts_stopped(session: Session, phone: str, patient_id: int | None) -> bool:
    """True when someone at ``phone`` said it is not ``patient_id``'s number."""
    return patient_id is not None and patient_id in stopped_patient_ids(session, phone)
