"""Handing the conversation to staff, emergencies, consent, help and office information."""
from __future__ import annotations

import re
from datetime import timedelta

from rasa_sdk.events import ActionExecuted, ConversationPaused

from actions.base import Turn
from bot import wording
from bot.language.safety import emergency_language
from bot.messaging import consent
from bot.messaging.wrong_number import report_wrong_number
from bot.patients import patients_for_phone
from bot.practice import closed_days, format_phone, late_policy, weekly_hours
from bot.scheduling import appointments
from bot.staff import handoff, oncall, routing
from bot.wording.on_call import render_callback

REASONS = {
    "billing_question": "Billing question",
    "provider_question": "Question for the provider",
    "prescription_refill": "Prescription refill request",
    "request_human": "Patient asked for a person",
    "records_request": "Records or forms request",
}


def pause(turn: Turn) -> None:
    """Pause the bot for this conversation until staff hand it back.

    A paused Rasa runs no ``action_listen`` after this action, so it is logged
    here: the patient's next turn after the resume then starts from a listen,
    as the rules expect (otherwise no rule matches and the bot stays silent).
    """
    turn.events.extend([ConversationPaused(), ActionExecuted("action_listen")])


def hand_off(turn: Turn, *, queue_intent: str, reason: str) -> None:
    """Open a ticket in the queue the practice routes ``queue_intent`` to, tell the patient when, pause."""
    queue = routing.queue_for(turn.practice, queue_intent)
    patients = patients_for_phone(turn.session, turn.phone)
    chosen = turn.slot("patient_id")
    patient_id = int(chosen) if chosen is not None else (patients[0].id if len(patients) == 1 else None)
    ticket = handoff.open_ticket(
        turn.session, conversation=turn.conversation, queue=queue, reason=reason, now=turn.now,
        intent=turn.intent or queue_intent, patient_id=patient_id,
    )
    turn.say(
        "utter_handoff",
        team=routing.team_name(turn.practice, queue, turn.language),
        answer_time=wording.answer_time_phrase(ticket.due_at, turn.now, turn.zone, turn.language),
    )
    turn.set(awaiting=None, flow=None)
    pause(turn)


def handoff_for_intent(turn: Turn) -> None:
    label = REASONS.get(turn.intent, "Patient needs staff")
    hand_off(turn, queue_intent=turn.intent, reason=f"{label}: {turn.text[:200]}")


def emergency(turn: Turn) -> None:
    """Say 911/988 first (in Spanish too when the text is Spanish), then alert the urgent queue (which pages
    on-call); staff take the conversation over.

    Outside office hours, when on-call was paged, the reply also says who calls back and within how long.
    """
    latest = turn.tracker.latest_message or {}
    safety_reason = latest.get("emergency_reason")
    confidence = None if safety_reason else float((latest.get("intent") or {}).get("confidence") or 0.0)
    ticket = handoff.open_ticket(
        turn.session, conversation=turn.conversation, queue=routing.queue_for(turn.practice, routing.EMERGENCY),
        reason=f"Possible emergency ({safety_reason or 'emergency intent'}): {turn.text[:200]}", now=turn.now,
        intent="emergency", classifier_confidence=confidence,
    )
    spanish = (latest.get("emergency_language") or emergency_language(turn.text)) == "es"
    advice, after_hours = (("utter_emergency_es", "utter_emergency_es_on_call") if spanish  # both languages
                           else ("utter_emergency", "utter_emergency_on_call"))
    promise = oncall.after_hours_callback(turn.session, turn.practice, ticket, turn.now, turn.language)
    if promise is None:
        turn.say(advice)
    else:
        turn.say(after_hours, callback=render_callback(promise.team, promise.minutes, turn.language))
    turn.set(awaiting=None, flow=None)
    pause(turn)


def running_late(turn: Turn) -> None:
    """Thank them, note it on today's visit, tell the front desk (a ticket), say the practice's late policy."""
    patients = patients_for_phone(turn.session, turn.phone)
    appointment = appointments.todays_appointment(turn.session, [p.id for p in patients], turn.now, turn.zone)
    if appointment is None:
        turn.say("utter_running_late_no_appointment")
        turn.set(awaiting=None, flow=None)
        return
    appointments.note_running_late(turn.session, appointment, turn.now, turn.text[:180])
    queue = routing.queue_for(turn.practice, "running_late")
    visit = wording.describe_slot(appointment, turn.zone, turn.language)
    handoff.open_ticket(turn.session, conversation=turn.conversation, queue=queue,
                        reason=f"Running late for {visit}: {turn.text[:200]}", now=turn.now, intent="running_late",
                        patient_id=appointment.patient_id)
    named = appointment.patient.first_name + ": " if len(patients) > 1 else ""
    turn.say("utter_running_late", team=routing.team_name(turn.practice, queue, turn.language),
             appointment=named + visit, late_policy=late_policy(turn.practice))
    turn.set(awaiting=None, flow=None)
    pause(turn)


def wrong_number(turn: Turn) -> None:
    """Stop automated texts to this phone for the patient, and ask the front desk to fix the record.

    The reply never says whose number it was, and the ticket carries the text, not a name.
    """
    queue = routing.queue_for(turn.practice, "wrong_number")
    ticket = handoff.open_ticket(
        turn.session, conversation=turn.conversation, queue=queue, now=turn.now, intent="wrong_number",
        reason=f"Wrong number reported; automated texts stopped, please fix the record: {turn.text[:200]}",
    )
    reports = report_wrong_number(turn.session, turn.phone, turn.text, turn.now, ticket_id=ticket.id)
    if len(reports) == 1:
        ticket.patient_id = reports[0].patient_id
    turn.say("utter_wrong_number")
    turn.set(awaiting=None, flow=None, patient_id=None, appointment_ids=None)
    pause(turn)


def opt_out(turn: Turn) -> None:
    consent.record_opt_out(turn.session, turn.phone, "nlu", turn.now, detail=turn.text[:200])
    turn.say("utter_opted_out")
    turn.set(awaiting=None, flow=None)


def opt_in(turn: Turn) -> None:
    consent.record_opt_in(turn.session, turn.phone, "nlu", turn.now, detail=turn.text[:200])
    turn.say("utter_opted_in")


TOPICS = [
    ("holidays", r"holiday|thanksgiving|christmas|new year|closed on|memorial|labor day|july"),
    ("contact", r"\bfax|phone|number|call you|call the office"),
    ("address", r"address|where|located|location|directions|get there|park|find you|suite|building"),
    ("hours", r"hour|open|close|when are you|saturday|sunday|weekend|today|tomorrow|lunch"),
]


def office_info(turn: Turn) -> None:
    """Answer from the practice config: the topic the text asks about, or an overview."""
    text = turn.text.lower()
    topic = next((name for name, pattern in TOPICS if re.search(pattern, text)), None)
    practice = turn.practice
    if topic == "hours":
        turn.say("utter_office_hours", hours=turn.words.office_hours(weekly_hours(practice)))
    elif topic == "address":
        turn.say("utter_office_address", parking=practice.parking or "")
    elif topic == "contact":
        turn.say("utter_office_contact", fax=format_phone(practice.fax) if practice.fax else turn.words.no_fax())
    elif topic == "holidays":
        today = turn.local_now.date()
        upcoming = closed_days(turn.session, today, today + timedelta(days=200))
        turn.say("utter_office_holidays", holidays=turn.words.holidays(sorted(upcoming.items())[:4]))
    else:
        turn.say("utter_office_overview", hours=turn.words.office_hours(weekly_hours(practice)))
