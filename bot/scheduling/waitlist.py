"""The waitlist: patients who want a sooner time get a text when one frees up; the first yes gets it.

:func:`join_waitlist` records what they want (type, provider or any, a time
window, and optionally the booking they want to move up).
:func:`offer_freed_slot` is called (through the release path in
:mod:`bot.scheduling.appointments`) after every cancellation or move, by
patient or staff: the earliest-joined matching entries (at most ``max_offers``) get
"A sooner appointment opened: <when> with <provider>. Reply YES to take it."
under the automated-text rules (never to an opted-out phone, not over the
caps; in quiet hours the text waits in the outbox until they end).
:func:`accept_offer` books it through :func:`bot.scheduling.booking.book_appointment`
(or moves their booking with ``reschedule_appointment``): the slot claim in
the database decides who was first, the rest hear it is taken and stay on
the list.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot import wording
from bot.messaging import wrong_number
from bot.messaging.outbox import OutboundKind, enqueue_text
from bot.messaging.reminders import rules_for, why_not_now
from bot.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentType,
    ChangedBy,
    Patient,
    Provider,
    WaitlistEntry,
    WaitlistOffer,
)
from bot.patients import language_for_phone
from bot.practice import get_practice, practice_zone
from bot.scheduling.booking import (
    Slot,
    SlotTaken,
    book_appointment,
    find_open_slots,
    patient_visits_between,
    reschedule_appointment,
)
from bot.wording.texts import plain_text


class EntryStatus(str, enum.Enum):
    """A waitlist entry: still waiting, booked from an offer, or withdrawn."""

    WAITING = "waiting"
    BOOKED = "booked"
    WITHDRAWN = "withdrawn"


class OfferStatus(str, enum.Enum):
    """An offer texted from the list: open, accepted (booked), or taken by someone faster."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    TAKEN = "taken"
    EXPIRED = "expired"  # allowed by the column; nothing sets it yet (an offer simply ages out)


WAITING, BOOKED, WITHDRAWN = EntryStatus.WAITING, EntryStatus.BOOKED, EntryStatus.WITHDRAWN
OFFERED, ACCEPTED, TAKEN = OfferStatus.OFFERED, OfferStatus.ACCEPTED, OfferStatus.TAKEN
OFFER_VALID_FOR = timedelta(hours=24)


def join_waitlist(session: Session, *, patient_id: int, appointment_type_id: int, provider_id: int | None,
                  window_start: datetime, window_end: datetime, appointment_id: int | None = None,
                  now: datetime) -> WaitlistEntry:
    """Put a patient on the list for a sooner time in [window_start, window_end); joining twice is one entry."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("waitlist windows must be timezone-aware")
    if window_end <= window_start:
        raise ValueError("the waitlist window ends before it starts")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise LookupError(f"no patient {patient_id}")
    existing = session.execute(select(WaitlistEntry).where(
        WaitlistEntry.patient_id == patient_id, WaitlistEntry.appointment_type_id == appointment_type_id,
        WaitlistEntry.status == WAITING,
        WaitlistEntry.provider_id.is_(None) if provider_id is None else WaitlistEntry.provider_id == provider_id,
    )).scalars().first()
    entry = existing or WaitlistEntry(patient_id=patient_id, phone=patient.phone, created_at=now,
                                      appointment_type_id=appointment_type_id, provider_id=provider_id)
    entry.window_start, entry.window_end, entry.appointment_id = window_start, window_end, appointment_id
    session.add(entry)
    session.flush()
    return entry


def _slot_at(session: Session, provider_id: int, appointment_type_id: int, start: datetime) -> Slot:
    zone = practice_zone(get_practice(session))
    kind = session.get(AppointmentType, appointment_type_id)
    provider = session.get(Provider, provider_id)
    local = start.astimezone(zone)
    end = (start.astimezone(timezone.utc) + timedelta(minutes=kind.minutes)).astimezone(zone)
    return Slot(provider_id, provider.display_name, appointment_type_id, local, end)


def offer_text(practice_name: str, slot: Slot, zone, language: str | None = None) -> str:
    """The waitlist offer in the patient's language: the freed slot's date, time and provider."""
    return plain_text(wording.render("waitlist_offer", language, practice_name=practice_name,
                                     appointment=wording.describe_slot(slot, zone, language)))


def offer_freed_slot(session: Session, *, provider_id: int, appointment_type_id: int, start: datetime,
                     now: datetime, max_offers: int = 5) -> list[WaitlistOffer]:
    """Text the freed slot to matching waiting patients (earliest joined first); returns the offers made.

    Nothing is offered if the slot is not bookable any more (taken again,
    inside the minimum lead time, outside hours), or to a patient already
    offered this slot, whose current booking is not later than it, who opted
    out or who is over the daily or weekly cap of automated texts.
    """
    practice = get_practice(session)
    zone = practice_zone(practice)
    rules = rules_for(practice)
    start = start.astimezone(timezone.utc)
    open_now = find_open_slots(session, appointment_type_id=appointment_type_id, now=now, provider_id=provider_id,
                               window_start=start, window_end=start + timedelta(minutes=1), limit=1, spread=False)
    if not any(s.start == start and s.provider_id == provider_id for s in open_now):
        return []
    slot = _slot_at(session, provider_id, appointment_type_id, start)
    already = set(session.execute(select(WaitlistOffer.entry_id).where(
        WaitlistOffer.provider_id == provider_id, WaitlistOffer.start == start)).scalars())
    entries = session.execute(
        select(WaitlistEntry).where(
            WaitlistEntry.status == WAITING, WaitlistEntry.appointment_type_id == appointment_type_id,
            or_(WaitlistEntry.provider_id.is_(None), WaitlistEntry.provider_id == provider_id),
            WaitlistEntry.window_start <= start, WaitlistEntry.window_end > start,
        ).order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).scalars()
    offers: list[WaitlistOffer] = []
    for entry in entries:
        if len(offers) >= max_offers:
            break
        if entry.id in already:
            continue
        if entry.appointment_id is not None:
            current = session.get(Appointment, entry.appointment_id)
            if current is None or current.status not in ACTIVE_STATUSES:
                entry.appointment_id = None
            elif current.start <= start:
                continue
        if patient_visits_between(session, entry.patient_id, slot.start, slot.end, entry.appointment_id):
            continue  # they have another visit then: they could not take it
        if wrong_number.automated_texts_stopped(session, entry.phone, entry.patient_id):
            continue
        reason = why_not_now(session, entry.phone, now, rules)
        if reason not in (None, "quiet hours"):
            continue
        language = language_for_phone(session, entry.phone)
        text = enqueue_text(session, entry.phone, offer_text(practice.name, slot, zone, language),
                            OutboundKind.WAITLIST, now)
        if reason == "quiet hours":
            text.next_attempt_at = rules.next_allowed(now)
        offer = WaitlistOffer(entry_id=entry.id, provider_id=provider_id, appointment_type_id=appointment_type_id,
                              start=start, offered_at=now, status=OFFERED)
        session.add(offer)
        offers.append(offer)
    session.flush()
    return offers


def _latest_offer(session: Session, phone: str, now: datetime, statuses: tuple[str, ...]) -> WaitlistOffer | None:
    return session.execute(
        select(WaitlistOffer).join(WaitlistEntry, WaitlistEntry.id == WaitlistOffer.entry_id)
        .where(WaitlistEntry.phone == phone, WaitlistOffer.status.in_(statuses),
               WaitlistOffer.offered_at >= now - OFFER_VALID_FOR, WaitlistOffer.offered_at <= now,
               WaitlistOffer.start > now)
        .order_by(WaitlistOffer.offered_at.desc(), WaitlistOffer.id.desc()).limit(1)
    ).scalar_one_or_none()


def pending_offer_for(session: Session, phone: str, now: datetime) -> WaitlistOffer | None:
    """The newest open offer texted to ``phone`` (offered in the last 24 hours, slot still ahead)."""
    return _latest_offer(session, phone, now, (OFFERED,))


@dataclass(frozen=True)
class OfferAnswer:
    """What a YES to an offer came to: ``booked`` (appointment set), ``taken``, or ``none`` (no offer).

    ``moved_from`` is the visit a booking moved up: its old time is now free.
    """

    outcome: str
    offer: Optional[WaitlistOffer] = None
    appointment: Optional[Appointment] = None
    moved_from: Optional[Appointment] = None


def accept_offer(session: Session, phone: str, now: datetime) -> OfferAnswer:
    """Book the offered slot for the patient who said yes; the first yes wins.

    A booking the entry wanted to move up is rescheduled (the old time is
    freed in the same transaction). If someone else was faster the offer is
    marked ``taken`` and the patient stays on the list.
    """
    offer = _latest_offer(session, phone, now, (OFFERED, TAKEN))
    if offer is None:
        return OfferAnswer("none")
    if offer.status == TAKEN:
        return OfferAnswer("taken", offer)
    entry = session.get(WaitlistEntry, offer.entry_id)
    slot = _slot_at(session, offer.provider_id, offer.appointment_type_id, offer.start)
    moving = None
    if entry.appointment_id is not None:
        moving = session.get(Appointment, entry.appointment_id)
        if moving is not None and moving.status not in ACTIVE_STATUSES:
            moving = None
    try:
        if moving is not None:
            appointment = reschedule_appointment(session, moving.id, slot, now=now, changed_by=ChangedBy.PATIENT_SMS)
        else:
            appointment = book_appointment(session, patient_id=entry.patient_id, slot=slot, now=now,
                                           changed_by=ChangedBy.PATIENT_SMS, note="from the waitlist")
    except SlotTaken:
        offer.status = TAKEN
        session.flush()
        return OfferAnswer("taken", offer)
    offer.status, offer.appointment_id = ACCEPTED, appointment.id
    entry.status = BOOKED
    session.execute(
        update(WaitlistOffer)
        .where(WaitlistOffer.provider_id == offer.provider_id, WaitlistOffer.start == offer.start,
               WaitlistOffer.status == OFFERED, WaitlistOffer.id != offer.id)
        .values(status=TAKEN).execution_options(synchronize_session=False)
    )
    session.flush()
    return OfferAnswer("booked", offer, appointment, moving)


def wait_for_sooner(session: Session, appointment: Appointment, now: datetime) -> WaitlistEntry:
    """"Let me know if something sooner opens": the same provider and type, any time from now to the visit."""
    return join_waitlist(
        session, patient_id=appointment.patient_id, appointment_type_id=appointment.appointment_type_id,
        provider_id=appointment.provider_id, window_start=now, window_end=appointment.start,
        appointment_id=appointment.id, now=now)
