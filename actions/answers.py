"""Answers to the bot's own questions, and texts the bot did not understand.

``awaiting`` (a slot) says what the bot last asked; the patient's reply is read
accordingly. Anything that is not an answer gets one clarifying reply; a
second miss in a row goes to the front desk.
"""
from __future__ import annotations

from datetime import datetime

from actions import flows
from actions.base import Turn
from actions.handoff import hand_off
from actions.state import Awaiting, Flow, NewPatientName
from bot.language.answers import (
    bare_yes_or_no,
    is_acknowledgement,
    parse_date_of_birth,
    parse_full_name,
    pick_choice,
    pick_numbered,
    says_none_of_those,
)
from bot.language.dates import When, parse_when
from bot.messaging import bills, reminders
from bot.models import Appointment, ChangedBy
from bot.patients import match_patient_by_name, patients_for_phone, register_new_patient
from bot.scheduling import appointments, offers, recall

YES, NO = "affirm", "deny"
OUT_OF_SCOPE = "out_of_scope"


def handle_answer(turn: Turn) -> None:
    awaiting = turn.state.awaiting
    handler = HANDLERS.get(awaiting)
    if handler is not None and handler(turn):
        return
    acknowledged = turn.intent == YES or is_acknowledgement(turn.text)  # "yes", "👍", "k", "c thx"
    if awaiting is None and acknowledged and _answer_to_an_automated_text(turn):
        return
    if (turn.intent in (YES, NO, "inform") or acknowledged) and awaiting is None:
        turn.say("utter_anything_else")
        return
    clarify(turn)


def clarify(turn: Turn) -> None:
    """A text the bot cannot act on: say so once (a request not for the practice gets
    "not something I can help with here" and what it can do), and hand a second miss in a row
    to the front desk. Nothing is booked, changed or unsubscribed. Shortly after a bill text, such a text
    ("why so much", "I already paid") goes to the billing team at once."""
    if bills.replying_to_a_bill(turn.session, turn.practice, turn.phone, turn.now):
        hand_off(turn, queue_intent="billing_question", reason=f"Reply to a bill text: {turn.text[:200]}")
        return
    if turn.missed():
        hand_off(turn, queue_intent="nlu_fallback", reason="The assistant did not understand twice")
        return
    turn.say("utter_out_of_scope" if turn.intent == OUT_OF_SCOPE else "utter_clarify")


def _answer_to_an_automated_text(turn: Turn) -> bool:
    """A bare yes to a waitlist offer, a recall text or a reminder, which were sent outside the conversation.

    After a reminder, "yes see you then", "👍" or "k" confirm what the reminder named, as "C" does.
    """
    answer = appointments.accept_waitlist_offer(turn.session, turn.phone, turn.now)
    if answer.outcome == "booked":
        turn.say("utter_booked", appointment=flows.describe(turn, answer.appointment))
        return True
    if answer.outcome == "taken":
        turn.say("utter_waitlist_taken")
        return True
    due = recall.pending_recall_for(turn.session, turn.phone, turn.now)
    if due is not None:
        flows.start_book(turn, patient=due.patient, kind=due.appointment_type, provider=due.provider)
        return True
    if reminders.last_reminded_appointments(turn.session, turn.phone, turn.now):
        flows.start_confirm(turn)
        return True
    return False


def _patient_choice(turn: Turn) -> bool:
    patients = patients_for_phone(turn.session, turn.phone)
    patient = match_patient_by_name(patients, turn.text)
    if patient is None:
        index = pick_numbered(turn.text, len(patients))
        patient = patients[index] if index is not None else None
    if patient is None:
        return False
    turn.set(patient_id=patient.id, awaiting=None)
    flows.continue_flow(turn, turn.state.flow, patient=patient)
    return True


def _which_appointment(turn: Turn) -> bool:
    ids = [int(i) for i in turn.slot("appointment_ids") or []]
    appointments = [turn.session.get(Appointment, i) for i in ids]
    index = pick_choice(turn.text, [a.start for a in appointments], turn.now.astimezone(turn.zone), turn.language)
    if index is None:
        return False
    appointment = appointments[index]
    turn.set(awaiting=None)
    flows.continue_flow(turn, turn.state.flow, appointment=appointment)
    return True


def _yes_or_no(turn: Turn) -> str:
    """The answer to a Y/N question: the NLU's affirm or deny, else a bare "sí", "claro", "N" or "no" read as
    one (the reply codes Y and N, and their Spanish, do not hang on the classifier), else the intent."""
    if turn.intent in (YES, NO):
        return turn.intent
    bare = bare_yes_or_no(turn.text)
    return turn.intent if bare is None else (YES if bare else NO)


def _cancel_confirm(turn: Turn) -> bool:
    appointment = turn.session.get(Appointment, int(turn.slot("appointment_ids")[0]))
    answer = _yes_or_no(turn)
    if answer == YES:
        appointments.cancel_appointment(turn.session, appointment.id, now=turn.now,
                                        changed_by=ChangedBy.PATIENT_SMS)
        turn.say("utter_cancelled", appointment=flows.describe(turn, appointment))
        turn.set(awaiting=Awaiting.OFFER_RESCHEDULE, flow=Flow.CANCELLED)
        return True
    if answer == NO:
        turn.say("utter_kept", appointment=flows.describe(turn, appointment))
        turn.set(awaiting=None, flow=None)
        return True
    return False


def _offer_reschedule(turn: Turn) -> bool:
    answer = _yes_or_no(turn)
    if answer == YES or (turn.intent == "inform" and parse_when(turn.text, turn.now.astimezone(turn.zone), turn.language)):
        cancelled = turn.session.get(Appointment, int(turn.slot("appointment_ids")[0]))
        turn.set(awaiting=None)
        flows.start_book(turn, patient=cancelled.patient, kind=cancelled.appointment_type,
                         provider=cancelled.provider)
        return True
    if answer == NO:
        turn.say("utter_anything_else")
        turn.set(awaiting=None, flow=None)
        return True
    return False


def _time_preference(turn: Turn) -> bool:
    provider = flows.provider_named(turn, turn.text)
    if provider is not None:
        turn.set(provider_key=provider.key)
    when = flows.wished_time(turn)
    if when is None and provider is None and turn.intent != YES:
        if turn.intent == NO:
            turn.say("utter_anything_else")
            turn.set(awaiting=None, flow=None)
            return True
        return False
    flows.offer_slots(turn, when)  # "yes"/"anytime"/a provider alone: the soonest times
    return True


def _slot_choice(turn: Turn) -> bool:
    offered = turn.slot("offered_slots") or []
    slots = [flows.slot_from_dict(s) for s in offered]
    index = pick_choice(turn.text, [s.start for s in slots], turn.now.astimezone(turn.zone), turn.language)
    if index is None and turn.intent == YES and len(slots) == 1:
        index = 0
    if index is not None:
        flows.take_slot(turn, slots[index])
        return True
    provider = flows.provider_named(turn, turn.text)
    if provider is not None:
        turn.set(provider_key=provider.key)
    when = flows.wished_time(turn)
    if when is not None or provider is not None:
        flows.offer_slots(turn, when)
        return True
    if turn.intent == NO or says_none_of_those(turn.text):
        last = max(s.start for s in slots) if slots else turn.now
        flows.offer_slots(turn, None if not slots else _after(last), exclude=offered)
        return True
    turn.say("utter_did_not_get_choice")
    return True


def _after(moment: datetime) -> When:
    return offers.times_after(moment)


def _new_patient_name(turn: Turn) -> bool:
    name = parse_full_name(turn.text)
    if name is None:
        turn.say("utter_invalid_name")
        return True
    turn.set(new_patient_name=NewPatientName(*name), awaiting=Awaiting.NEW_PATIENT_DOB)
    turn.say("utter_ask_date_of_birth", first_name=name[0])
    return True


def _new_patient_dob(turn: Turn) -> bool:
    born = parse_date_of_birth(turn.text, turn.local_now.date())
    if born is None:
        turn.say("utter_invalid_date_of_birth")
        return True
    if not turn.may_discuss_visits:  # a web chat: the practice texts a new patient, so their phone comes first
        turn.say("utter_verify_phone_first")  # still awaiting the date of birth: typed again once verified
        return True
    name = turn.state.new_patient_name or NewPatientName("", "")
    patient = register_new_patient(turn.session, phone=turn.phone, first_name=name.first, last_name=name.last,
                                   date_of_birth=born, now=turn.now)
    kind = flows.appointment_type_by_key(turn, turn.practice.config.get("new_patient_appointment_type"))
    turn.set(awaiting=None, new_patient_name=None)
    flows.start_book(turn, patient=patient, kind=kind, text_is_preference=False)
    return True


def _staff_followup(turn: Turn) -> bool:
    answer = _yes_or_no(turn)
    if answer == YES:
        turn.set(awaiting=None)
        hand_off(turn, queue_intent="unknown_patient", reason="Unknown number asked about an appointment")
        return True
    if answer == NO:
        turn.say("utter_anything_else")
        turn.set(awaiting=None)
        return True
    return False


HANDLERS = {
    Awaiting.PATIENT_CHOICE: _patient_choice,
    Awaiting.WHICH_APPOINTMENT: _which_appointment,
    Awaiting.CANCEL_CONFIRM: _cancel_confirm,
    Awaiting.OFFER_RESCHEDULE: _offer_reschedule,
    Awaiting.TIME_PREFERENCE: _time_preference,
    Awaiting.SLOT_CHOICE: _slot_choice,
    Awaiting.NEW_PATIENT_NAME: _new_patient_name,
    Awaiting.NEW_PATIENT_DOB: _new_patient_dob,
    Awaiting.STAFF_FOLLOWUP: _staff_followup,
}
assert set(HANDLERS) == set(Awaiting), "every question the assistant asks needs the handler of its answer"
