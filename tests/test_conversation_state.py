"""The conversation's state: one enum of what the assistant awaits, one state object, the exact events of each step."""
from __future__ import annotations

import pytest
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import answers, flows
from actions.state import Awaiting, ConversationState, Flow, NewPatientName, slot_value
from bot.models import Patient
from bot.patients import upcoming_appointments
from tests.conversation import DOMAIN
from tools.demo import load_demo

MARIA, STRANGER = "+15035550111", "+15035550150"


@pytest.fixture
def demo(engine, now):
    with Session(engine) as session, session.begin():
        load_demo(session, now)
    return engine


def marias_visit(engine, now):
    with Session(engine) as session:
        [maria] = session.execute(select(Patient).where(Patient.phone == MARIA)).scalars()
        [visit] = upcoming_appointments(session, [maria.id], now)
        return maria.id, visit.id


def test_every_question_has_the_handler_of_its_answer_and_every_flow_a_continuation():
    assert set(answers.HANDLERS) == set(Awaiting)
    assert set(flows.CONTINUATIONS) == set(Flow) - {Flow.CANCELLED}  # a done cancel continues as a booking


def test_the_state_reads_slots_into_enums_and_writes_plain_values():
    slots = {"awaiting": "slot_choice", "flow": "reschedule", "fallback_count": 1.0, "new_patient_name": "Ana|Reyes"}
    state = ConversationState.from_slots(slots.get)
    assert state == ConversationState(Awaiting.SLOT_CHOICE, Flow.RESCHEDULE, 1, NewPatientName("Ana", "Reyes"))
    assert [slot_value(v) for v in (state.awaiting, state.flow, state.new_patient_name)] == [
        "slot_choice", "reschedule", "Ana|Reyes"]
    assert ConversationState.from_slots({}.get) == ConversationState()
    assert ConversationState.from_slots({"awaiting": "a question of an older release"}.get).awaiting is None


def test_the_slot_names_and_types_stay_as_domain_yml_declares_them():
    for name, kind in (("awaiting", "text"), ("flow", "text"), ("new_patient_name", "text"),
                       ("fallback_count", "float")):
        assert DOMAIN["slots"][name]["type"] == kind


def test_cancel_asks_then_cancels_with_exactly_these_events(demo, now, converse):
    patient_id, visit_id = marias_visit(demo, now)
    chat = converse(MARIA, demo, now)
    chat.say("cancel my appointment", "cancel_appointment")
    assert chat.events == [SlotSet("awaiting", "cancel_confirm"), SlotSet("flow", "cancel"),
                           SlotSet("appointment_ids", [visit_id]), SlotSet("patient_id", patient_id)]
    chat.say("yes", "affirm")
    assert chat.events == [SlotSet("awaiting", "offer_reschedule"), SlotSet("flow", "cancelled")]
    chat.say("no thanks", "deny")
    assert chat.events == [SlotSet("awaiting", None), SlotSet("flow", None)]


def test_a_new_patients_name_is_kept_between_turns_with_exactly_these_events(demo, now, converse):
    chat = converse(STRANGER, demo, now)
    chat.say("i want to book", "book_appointment")
    assert chat.events == [SlotSet("awaiting", "new_patient_name"), SlotSet("flow", "book")]
    chat.say("Ana Reyes", "inform")
    assert chat.events == [SlotSet("new_patient_name", "Ana|Reyes"), SlotSet("awaiting", "new_patient_dob")]
    chat.say("hmm", "inform")
    assert chat.events == []  # not a date of birth: asked again, nothing changes
    chat.say("5/19/1984", "inform")
    assert chat.events[:2] == [SlotSet("awaiting", None), SlotSet("new_patient_name", None)]
    assert SlotSet("awaiting", "time_preference") in chat.events


def test_two_misses_in_a_row_hand_off_with_exactly_these_events(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("blah", "nlu_fallback")
    assert chat.events == [SlotSet("fallback_count", 1)]
    chat.say("blah blah", "nlu_fallback")
    assert chat.events == [SlotSet("fallback_count", 0), SlotSet("awaiting", None), SlotSet("flow", None),
                           ConversationPaused(), ActionExecuted("action_listen")]


def test_an_answer_understood_after_a_miss_starts_counting_afresh_with_exactly_these_events(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("cancel my appointment", "cancel_appointment")
    chat.say("hmm what", "nlu_fallback")
    assert chat.events == [SlotSet("fallback_count", 1)]
    chat.say("no", "deny")  # the answer to "Reply Y to cancel"
    assert chat.events == [SlotSet("awaiting", None), SlotSet("flow", None), SlotSet("fallback_count", 0)]
    chat.say("blah", "nlu_fallback")
    assert chat.events == [SlotSet("fallback_count", 1)]  # one miss again, not the second in a row


def test_another_request_after_a_miss_starts_counting_afresh_with_exactly_these_events(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("blah", "nlu_fallback")
    chat.say("when is my appointment", "check_appointment")
    assert chat.events == [SlotSet("awaiting", None), SlotSet("flow", None), SlotSet("fallback_count", 0)]


def test_a_new_session_keeps_the_misses_in_a_row(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("blah", "nlu_fallback")
    chat.run_action("action_session_start", "", "")
    assert [e for e in chat.events if e.get("name") == "fallback_count"] == []
    chat.say("blah blah", "nlu_fallback")
    assert chat.events[0] == SlotSet("fallback_count", 0) and ConversationPaused() in chat.events
