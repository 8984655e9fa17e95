"""What patients and staff do to appointments: the use cases, each freeing time through one release path.

:mod:`bot.scheduling.booking` keeps the book (slots, claims, status changes);
this module is what callers use to cancel or move a visit, or to take a
waitlist offer. Whatever time a change frees is offered to the waitlist here,
once, after the change is complete (a move first books the new time, so a
start still covered by the moved visit is not offered). Call these, not the
booking functions, from actions, views and workers.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ACTIVE_STATUSES, Appointment, ChangedBy, WaitlistOffer
from bot.scheduling import booking, waitlist
from bot.scheduling.booking import Slot, book_appointment

__all__ = ["book_appointment", "cancel_appointment", "reschedule_appointment", "take_time",
           "accept_waitlist_offer", "offer_freed_time", "todays_appointment", "note_running_late"]


def offer_freed_time(session: Session, freed: Appointment, now: datetime) -> list[WaitlistOffer]:
    """Offer the start ``freed`` no longer holds to the waitlist (nothing if it is not bookable now)."""
    return waitlist.offer_freed_slot(session, provider_id=freed.provider_id,
                                     appointment_type_id=freed.appointment_type_id, start=freed.start, now=now)


def cancel_appointment(session: Session, appointment_id: int, *, now: datetime, changed_by: ChangedBy,
                       staff_user_id: int | None = None, note: str | None = None) -> Appointment:
    """Cancel and offer the freed time; cancelling again changes nothing and offers nothing."""
    before = session.get(Appointment, appointment_id)
    was_active = before is not None and before.status in ACTIVE_STATUSES
    appointment = booking.cancel_appointment(session, appointment_id, now=now, changed_by=changed_by,
                                             staff_user_id=staff_user_id, note=note)
    if was_active:
        offer_freed_time(session, appointment, now)
    return appointment


def reschedule_appointment(session: Session, appointment_id: int, new_slot: Slot, *, now: datetime,
                           changed_by: ChangedBy, staff_user_id: int | None = None) -> Appointment:
    """Move a visit to ``new_slot`` and offer its old time; a taken slot (SlotTaken) changes and offers nothing."""
    old = session.get(Appointment, appointment_id)
    new = booking.reschedule_appointment(session, appointment_id, new_slot, now=now, changed_by=changed_by,
                                         staff_user_id=staff_user_id)
    offer_freed_time(session, old, now)
    return new


def take_time(session: Session, slot: Slot, *, patient_id: int | None, moving_appointment_id: int | None,
              now: datetime, changed_by: ChangedBy) -> Appointment:
    """The patient chose ``slot``: book it, or move the visit being rescheduled there (SlotTaken if gone)."""
    if moving_appointment_id is not None:
        return reschedule_appointment(session, moving_appointment_id, slot, now=now, changed_by=changed_by)
    return book_appointment(session, patient_id=patient_id, slot=slot, now=now, changed_by=changed_by)


def accept_waitlist_offer(session: Session, phone: str, now: datetime) -> waitlist.OfferAnswer:
    """A yes to a waitlist text; when it moved a visit up, that visit's old time is offered in turn."""
    answer = waitlist.accept_offer(session, phone, now)
    if answer.moved_from is not None:
        offer_freed_time(session, answer.moved_from, now)
    return answer


def todays_appointment(session: Session, patient_ids: Sequence[int], now: datetime, zone: ZoneInfo) -> Appointment | None:
    """The visit a patient running late means: the next active one today (local day) that has not ended."""
    if not patient_ids:
        return None
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight, even across DST
    return session.execute(
        select(Appointment).where(Appointment.patient_id.in_(list(patient_ids)),
                                  Appointment.status.in_(ACTIVE_STATUSES),
                                  Appointment.end > now, Appointment.start < tomorrow)
        .order_by(Appointment.start, Appointment.id).limit(1)
    ).scalar_one_or_none()


def note_running_late(session: Session, appointment: Appointment, now: datetime, text: str) -> None:
    """Note on the appointment's history that the patient texted they are running late."""
    booking.record_note(session, appointment, now, ChangedBy.PATIENT_SMS, f"running late: {text}")
