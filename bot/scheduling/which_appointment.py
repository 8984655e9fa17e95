"""Which appointment a patient's text is about, when they confirm, cancel or move "my appointment".

The only upcoming one; else the one the newest reminder named; else the one
on the day the text names; else it is not clear and the patient is asked to
choose among the first few (:data:`MAX_LISTED`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.language.dates import parse_all_when
from bot.messaging.reminders import last_reminded_appointments
from bot.models import Appointment
from bot.patients import upcoming_appointments
from bot.scheduling.offers import within

MAX_LISTED = 3


@dataclass(frozen=True)
class AppointmentInQuestion:
    """``appointment`` when clear; else ``choices`` to ask about (both empty: no upcoming visit)."""

    appointment: Appointment | None = None
    choices: list[Appointment] = field(default_factory=list)


def appointment_meant(session: Session, patient_id: int, *, phone: str, text: str,
                      now: datetime, language: str = "en") -> AppointmentInQuestion:
    appointments = upcoming_appointments(session, [patient_id], now)
    if not appointments:
        return AppointmentInQuestion()
    if len(appointments) == 1:
        return AppointmentInQuestion(appointments[0])
    reminded = [a for a in last_reminded_appointments(session, phone, now) if a.patient_id == patient_id]
    if len(reminded) == 1:
        return AppointmentInQuestion(reminded[0])
    for when in parse_all_when(text, now, language):
        on_that_day = [a for a in appointments if within(a.start, when)]
        if len(on_that_day) == 1:
            return AppointmentInQuestion(on_that_day[0])
    return AppointmentInQuestion(choices=appointments[:MAX_LISTED])
