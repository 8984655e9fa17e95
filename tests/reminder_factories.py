"""Small builders for the reminder, recall and waitlist tests: patients and appointments straight into the database."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Appointment, AppointmentStatus, AppointmentType, Patient, Provider


def provider(session: Session, key: str) -> Provider:
    return session.execute(select(Provider).where(Provider.key == key)).scalar_one()


def kind(session: Session, key: str) -> AppointmentType:
    return session.execute(select(AppointmentType).where(AppointmentType.key == key)).scalar_one()


def patient(session: Session, first: str = "Ana", phone: str = "+15035550123", last: str = "Reyes") -> Patient:
    row = Patient(first_name=first, last_name=last, phone=phone)
    session.add(row)
    session.flush()
    return row


def appointment(session: Session, who: Patient, start: datetime, *, provider_key: str = "patel",
                type_key: str = "follow_up", status: AppointmentStatus = AppointmentStatus.BOOKED,
                created_at: datetime | None = None) -> Appointment:
    """An appointment row as a booking would leave it (no slot claims: reminders do not look at them)."""
    t = kind(session, type_key)
    row = Appointment(patient_id=who.id, provider_id=provider(session, provider_key).id, appointment_type_id=t.id,
                      start=start, end=start + timedelta(minutes=t.minutes), status=status,
                      created_at=created_at or start - timedelta(days=30))
    session.add(row)
    session.flush()
    return row
