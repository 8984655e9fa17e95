"""The appointment conversations: who the patient is, which appointment, which time.

Each ``start_*`` function begins (or continues) a flow; when it has to ask, it
says so through a domain response and records in the ``awaiting`` slot what
the answer will be, so :mod:`actions.answers` can pick the flow up again.
The decisions are the domain's (:mod:`bot.scheduling.offers`,
:mod:`bot.scheduling.which_appointment`, :mod:`bot.scheduling.catalog`,
:mod:`bot.scheduling.appointments`); this module reads the tracker, calls
them, and speaks.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from actions.base import Turn
from actions.state import Awaiting, Flow
from bot import wording
from bot.language.answers import asks_for_waitlist
from bot.language.dates import When
from bot.messaging import broadcasts, reminders
from bot.models import Appointment, AppointmentType, ChangedBy, Patient, Provider
from bot.patients import patient_meant, patients_for_phone, upcoming_appointments
from bot.scheduling import appointments, catalog, offers, recall, waitlist
from bot.scheduling import booking as scheduling
from bot.scheduling.which_appointment import MAX_LISTED, appointment_meant

SEARCH_DAYS = offers.SEARCH_DAYS


# --- Telling things apart ---------------------------------------------------------

def numbered(turn: Turn, lines: list[str]) -> str:
    return turn.words.numbered(lines)


def describe(turn: Turn, item, with_name: Patient | None = None) -> str:
    """A slot or a visit as the patient reads it. On a phone several patients share, a visit always carries
    its patient's first name, so "your visit" is never read as someone else's."""
    if with_name is None and isinstance(item, Appointment) and len(patients_for_phone(turn.session, turn.phone)) > 1:
        with_name = item.patient
    text = wording.describe_slot(item, turn.zone, turn.language)
    return turn.words.for_patient(with_name.first_name, text) if with_name else text


def describe_appointments(turn: Turn, appointments: list[Appointment]) -> str:
    several_patients = len({a.patient_id for a in appointments}) > 1
    return turn.words.listing(
        describe(turn, a, a.patient if several_patients else None) for a in appointments[:MAX_LISTED]
    )


def slot_to_dict(slot: scheduling.Slot) -> dict:
    return {
        "provider_id": slot.provider_id,
        "provider_name": slot.provider_name,
        "appointment_type_id": slot.appointment_type_id,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
    }


def slot_from_dict(data: dict) -> scheduling.Slot:
    return scheduling.Slot(
        provider_id=int(data["provider_id"]),
        provider_name=data["provider_name"],
        appointment_type_id=int(data["appointment_type_id"]),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
    )


def provider_named(turn: Turn, text: str) -> Provider | None:
    return catalog.provider_named(turn.session, text)


def appointment_type_named(turn: Turn, text: str) -> AppointmentType | None:
    return catalog.appointment_type_named(turn.session, turn.practice, text)


def appointment_type_by_key(turn: Turn, key: str | None) -> AppointmentType | None:
    return catalog.appointment_type_by_key(turn.session, key)


# --- Who is texting ----------------------------------------------------------------

def find_patient(turn: Turn, flow: Flow, *, needs_appointments: bool) -> Patient | None:
    """The patient this turn is about (:func:`bot.patients.patient_meant`); asks (and returns None) when unclear.

    Unknown numbers are not answered here: callers check ``patients_for_phone``
    first, because what an unknown number may do depends on the flow.
    """
    chosen = turn.slot("patient_id") if turn.state.awaiting != Awaiting.PATIENT_CHOICE else None
    meant = patient_meant(turn.session, turn.phone, text=turn.text, chosen_id=chosen,
                          about_a_visit=needs_appointments, now=turn.now)
    if meant.someone_else:
        turn.say("utter_not_on_this_phone")
        turn.set(awaiting=None, flow=None)
        return None
    if meant.named:
        turn.set(patient_id=meant.patient.id)
    if meant.patient is not None:
        return meant.patient
    turn.say("utter_ask_which_patient", choices=numbered(turn, [p.first_name for p in meant.choices]))
    turn.set(awaiting=Awaiting.PATIENT_CHOICE, flow=flow)
    return None


def unknown_number(turn: Turn) -> bool:
    """True (and the patient told) when no patient has this phone."""
    if patients_for_phone(turn.session, turn.phone):
        return False
    turn.say("utter_unknown_number")
    turn.set(awaiting=Awaiting.STAFF_FOLLOWUP, flow=None)
    return True


def choose_appointment(turn: Turn, patient: Patient, flow: Flow) -> Appointment | None:
    """The appointment a confirm/cancel/reschedule is about; asks when it is not clear."""
    meant = appointment_meant(turn.session, patient.id, phone=turn.phone, text=turn.text, now=turn.now,
                              language=turn.language)
    if meant.appointment is not None:
        return meant.appointment
    if not meant.choices:
        turn.say("utter_no_upcoming", first_name=patient.first_name)
        turn.set(awaiting=None, flow=None)
        return None
    listed = meant.choices
    turn.say("utter_ask_which_appointment", choices=numbered(turn, [describe(turn, a) for a in listed]))
    turn.set(awaiting=Awaiting.WHICH_APPOINTMENT, flow=flow, patient_id=patient.id,
             appointment_ids=[a.id for a in listed])
    return None


def appointment_in_question(turn: Turn, flow: Flow, patient: Patient | None) -> Appointment | None:
    """The appointment a confirm, cancel or reschedule is about; asks who, then which, when unclear."""
    if patient is None:
        if unknown_number(turn):
            return None
        patient = find_patient(turn, flow, needs_appointments=True)
        if patient is None:
            return None
    return choose_appointment(turn, patient, flow)


def join_waitlist_for(turn: Turn, appointment: Appointment) -> None:
    """"Let me know if something sooner opens": wait for an earlier slot with the same provider and type."""
    waitlist.wait_for_sooner(turn.session, appointment, turn.now)
    turn.say("utter_waitlist_joined")
    turn.set(awaiting=None, flow=None)


# --- The flows ---------------------------------------------------------------------

def start_confirm(turn: Turn, patient: Patient | None = None, appointment: Appointment | None = None) -> None:
    if appointment is None and patient is None:
        reminded = reminders.last_reminded_appointments(turn.session, turn.phone, turn.now)
        if reminded:  # "C" after a reminder confirms what the reminder named (a family's too)
            _confirm(turn, reminded)
            return
    if appointment is None:
        appointment = appointment_in_question(turn, Flow.CONFIRM, patient)
        if appointment is None:
            return
    _confirm(turn, [appointment])


def _confirm(turn: Turn, appointments: list[Appointment]) -> None:
    for appointment in appointments:
        scheduling.confirm_appointment(turn.session, appointment.id, now=turn.now, changed_by=ChangedBy.PATIENT_SMS)
    turn.say("utter_confirmed", appointments=describe_appointments(turn, appointments))
    turn.set(awaiting=None, flow=None, appointment_ids=[a.id for a in appointments])


def start_check(turn: Turn, patient: Patient | None = None) -> None:
    if patient is None:
        if unknown_number(turn):
            return
        patient = find_patient(turn, Flow.CHECK, needs_appointments=True)
        if patient is None:
            return
    appointments = upcoming_appointments(turn.session, [patient.id], turn.now)
    if not appointments:
        turn.say("utter_no_upcoming", first_name=patient.first_name)
    else:
        turn.say("utter_appointment_details", appointments=describe_appointments(turn, appointments))
    turn.set(awaiting=None, flow=None)


def start_cancel(turn: Turn, patient: Patient | None = None, appointment: Appointment | None = None) -> None:
    if appointment is None:
        appointment = appointment_in_question(turn, Flow.CANCEL, patient)
        if appointment is None:
            return
    turn.say("utter_ask_cancel_confirm", appointment=describe(turn, appointment))
    turn.set(awaiting=Awaiting.CANCEL_CONFIRM, flow=Flow.CANCEL, appointment_ids=[appointment.id],
             patient_id=appointment.patient_id)


def start_reschedule(turn: Turn, patient: Patient | None = None, appointment: Appointment | None = None) -> None:
    if appointment is None:
        reminded = reminders.last_reminded_appointments(turn.session, turn.phone, turn.now)
        cancelled = _cancelled_by_broadcast(turn, patient) if not reminded else None
        if patient is None and len(reminded) == 1 and turn.state.awaiting is None:
            appointment = reminded[0]  # "R" after a reminder
        elif cancelled is not None:  # "R" after a broadcast cancelled the visit: book it again
            start_book(turn, cancelled.patient, kind=cancelled.appointment_type, provider=cancelled.provider)
            return
        else:
            appointment = appointment_in_question(turn, Flow.RESCHEDULE, patient)
            if appointment is None:
                return
    turn.set(flow=Flow.RESCHEDULE, appointment_ids=[appointment.id], patient_id=appointment.patient_id,
             appointment_type=appointment.appointment_type.key, provider_key=appointment.provider.key)
    if asks_for_waitlist(turn.text):
        join_waitlist_for(turn, appointment)
        return
    provider = provider_named(turn, turn.text)
    if provider:
        turn.set(provider_key=provider.key)
    preference = target_preference(turn, exclude_appointment=appointment)
    if preference is None:
        turn.say("utter_ask_time_preference")
        turn.set(awaiting=Awaiting.TIME_PREFERENCE)
        return
    offer_slots(turn, preference)


def _cancelled_by_broadcast(turn: Turn, patient: Patient | None) -> Appointment | None:
    """The visit a broadcast just cancelled, when the phone's patients have nothing else booked."""
    people = [patient] if patient is not None else patients_for_phone(turn.session, turn.phone)
    ids = [p.id for p in people]
    if not ids or upcoming_appointments(turn.session, ids, turn.now):
        return None
    return broadcasts.rebooking_for(turn.session, ids, turn.now)


def start_book(turn: Turn, patient: Patient | None = None, kind: AppointmentType | None = None,
               provider: Provider | None = None, text_is_preference: bool = True) -> None:
    if patient is None:
        if not patients_for_phone(turn.session, turn.phone):
            turn.say("utter_new_patient_welcome")
            turn.set(awaiting=Awaiting.NEW_PATIENT_NAME, flow=Flow.BOOK)
            return
        patient = find_patient(turn, Flow.BOOK, needs_appointments=False)
        if patient is None:
            return
    if kind is None and appointment_type_named(turn, turn.text) is None:
        due = recall.pending_recall_for(turn.session, turn.phone, turn.now)
        if due is not None and due.patient.id == patient.id:  # "BOOK" after a recall text
            kind, provider = due.appointment_type, provider or due.provider
    kind = kind or appointment_type_named(turn, turn.text) or appointment_type_by_key(
        turn, turn.slot("appointment_type") if turn.state.flow == Flow.BOOK else None
    ) or appointment_type_by_key(turn, turn.practice.config.get("default_appointment_type"))
    provider = provider or provider_named(turn, turn.text)
    turn.set(flow=Flow.BOOK, patient_id=patient.id, appointment_ids=[], appointment_type=kind.key,
             provider_key=provider.key if provider else None)
    preference = target_preference(turn) if text_is_preference else None
    if preference is None:
        turn.say("utter_ask_time_preference")
        turn.set(awaiting=Awaiting.TIME_PREFERENCE)
        return
    offer_slots(turn, preference)


def continue_flow(turn: Turn, flow: Flow, **known) -> None:
    """Pick a flow up again once the patient answered who (``patient=``) or which visit (``appointment=``)."""
    CONTINUATIONS[flow](turn, **known)


def wished_time(turn: Turn) -> When | None:
    return offers.wished_time(turn.text, turn.now, turn.zone, turn.language)


def target_preference(turn: Turn, exclude_appointment: Appointment | None = None) -> When | None:
    return offers.wanted_time(turn.text, turn.now, turn.zone, moving=exclude_appointment, language=turn.language)


# --- Offering and taking times -------------------------------------------------------

def describe_preference(turn: Turn, when: When) -> str:
    return turn.words.wish(when.start.astimezone(turn.zone), when.end.astimezone(turn.zone),
                           a_moment=when.start == when.end,
                           within_a_day=when.end - when.start <= timedelta(days=1, hours=1))


def offer_slots(turn: Turn, when: When | None, *, exclude: list[dict] | None = None) -> None:
    """Offer up to 3 open times for the flow's type and provider, near ``when``."""
    kind = catalog.appointment_type_by_key(turn.session, turn.slot("appointment_type"))
    provider = catalog.provider_by_key(turn.session, turn.slot("provider_key"))
    moving = (turn.slot("appointment_ids") or []) if turn.state.flow == Flow.RESCHEDULE else []
    offered = offers.offer_times(
        turn.session, appointment_type_id=kind.id, now=turn.now, wish=when,
        provider_id=provider.id if provider else None,
        exclude=[(int(s["provider_id"]), datetime.fromisoformat(s["start"])) for s in (exclude or [])],
        patient_id=int(turn.slot("patient_id")) if turn.slot("patient_id") else None,
        moving_appointment_id=int(moving[0]) if moving else None,
    )
    if not offered.slots:
        turn.say("utter_no_slots")
        turn.set(awaiting=None, flow=None, offered_slots=None)
        return
    choices = numbered(turn, [describe(turn, s) for s in offered.slots])
    if offered.nearest and when is not None:
        turn.say("utter_offer_slots_nearest", preference=describe_preference(turn, when), choices=choices)
    else:
        turn.say("utter_offer_slots", choices=choices)
    turn.set(awaiting=Awaiting.SLOT_CHOICE, offered_slots=[slot_to_dict(s) for s in offered.slots])


def take_slot(turn: Turn, slot: scheduling.Slot) -> None:
    """Book (or move to) the chosen time; a lost race offers fresh times."""
    moving = turn.slot("appointment_ids") if turn.state.flow == Flow.RESCHEDULE else None
    try:
        appointment = appointments.take_time(
            turn.session, slot, patient_id=int(turn.slot("patient_id")) if turn.slot("patient_id") else None,
            moving_appointment_id=int(moving[0]) if moving else None, now=turn.now,
            changed_by=ChangedBy.PATIENT_SMS)
    except scheduling.SlotTaken:
        turn.say("utter_slot_taken")
        offer_slots(turn, When(slot.start, slot.start + timedelta(days=1)))
        return
    turn.say("utter_rescheduled" if moving else "utter_booked", appointment=describe(turn, appointment))
    turn.set(awaiting=None, flow=None, offered_slots=None, appointment_ids=[appointment.id])


CONTINUATIONS = {
    Flow.CONFIRM: start_confirm,
    Flow.CANCEL: start_cancel,
    Flow.CHECK: start_check,
    Flow.RESCHEDULE: start_reschedule,
    Flow.BOOK: start_book,
}
