"""The custom actions Rasa calls: one small class per action, each a call into a flow."""
from __future__ import annotations

from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted

from actions import answers, flows
from actions import handoff as staff
from actions.base import PracticeAction, Turn
from bot import wording
from bot.messaging.conversations import conversation_language
from bot.practice import format_phone
from bot.staff import handoff


class ActionSessionStart(PracticeAction):
    """A new session: the practice's name and the patient's language for the responses, still paused if staff have it.

    The language is the conversation's: the one stored on it, else the phone's first patient's (several share
    a phone), English for an unknown number.

    Rasa's SessionStarted un-pauses a conversation; the open ticket in the
    database decides whether the bot may speak again.
    """

    action_name = "action_session_start"
    resets_fallbacks = False

    def act(self, turn: Turn) -> None:
        turn.events.append(SessionStarted())
        turn.set(practice_name=turn.practice.name, practice_phone=format_phone(turn.practice.phone),
                 language=wording.language_or_default(conversation_language(turn.session, turn.conversation)))
        if handoff.open_ticket_for(turn.session, turn.conversation) is not None:
            turn.events.append(ConversationPaused())
        turn.events.append(ActionExecuted("action_listen"))


class ActionConfirmAppointment(PracticeAction):
    action_name = "action_confirm_appointment"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        flows.start_confirm(turn)


class ActionCancelAppointment(PracticeAction):
    action_name = "action_cancel_appointment"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        flows.start_cancel(turn)


class ActionCheckAppointment(PracticeAction):
    action_name = "action_check_appointment"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        flows.start_check(turn)


class ActionRescheduleAppointment(PracticeAction):
    action_name = "action_reschedule_appointment"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        flows.start_reschedule(turn)


class ActionBookAppointment(PracticeAction):
    action_name = "action_book_appointment"

    def act(self, turn: Turn) -> None:
        flows.start_book(turn)


class ActionHandleAnswer(PracticeAction):
    action_name = "action_handle_answer"

    def act(self, turn: Turn) -> None:
        answers.handle_answer(turn)


class ActionHandoff(PracticeAction):
    action_name = "action_handoff"

    def act(self, turn: Turn) -> None:
        staff.handoff_for_intent(turn)


class ActionEmergency(PracticeAction):
    action_name = "action_emergency"

    def act(self, turn: Turn) -> None:
        staff.emergency(turn)


class ActionRunningLate(PracticeAction):
    action_name = "action_running_late"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        staff.running_late(turn)


class ActionWrongNumber(PracticeAction):
    action_name = "action_wrong_number"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        staff.wrong_number(turn)


class ActionOptOut(PracticeAction):
    action_name = "action_opt_out"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        staff.opt_out(turn)


class ActionOptIn(PracticeAction):
    action_name = "action_opt_in"
    needs_patient_phone = True

    def act(self, turn: Turn) -> None:
        staff.opt_in(turn)


class ActionHelp(PracticeAction):
    action_name = "action_help"

    def act(self, turn: Turn) -> None:
        turn.say("utter_help")


class ActionOfficeInfo(PracticeAction):
    action_name = "action_office_info"

    def act(self, turn: Turn) -> None:
        staff.office_info(turn)
