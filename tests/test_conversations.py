"""Whole SMS conversations through the real rules, actions and database (no NLU model needed)."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Appointment,
    AppointmentStatus,
    ConsentRecord,
    ConsentStatus,
    HandoffTicket,
    Patient,
    TicketStatus,
)
from bot.patients import upcoming_appointments
from tests.conversation import RULES

MARIA, DAVID, FAMILY, ROBERT, ALEX, STRANGER = (
    "+15035550111", "+15035550112", "+15035550113", "+15035550114", "+15035550115", "+15035550150")


@pytest.fixture
def demo(demo_engine):
    return demo_engine


def upcoming(engine, phone, now):
    with Session(engine) as session:
        ids = [p.id for p in session.execute(select(Patient).where(Patient.phone == phone)).scalars()]
        return upcoming_appointments(session, ids, now)


def offered_lines(reply: str) -> list[str]:
    """The numbered times of an offer ("1. Tue, Mar 2 at 8:00 AM with Dr. Patel")."""
    return [line for line in reply.splitlines() if line[:2] in ("1.", "2.", "3.")]


def tickets(engine, phone):
    with Session(engine) as session:
        return session.execute(select(HandoffTicket).where(HandoffTicket.phone == phone)).scalars().all()


def test_confirm_marks_the_only_upcoming_appointment_confirmed(demo, now, converse):
    chat = converse(MARIA, demo, now)
    reply = chat.say("C", "confirm_appointment")
    assert "You're confirmed" in reply and "Dr. Patel" in reply
    [appointment] = upcoming(demo, MARIA, now)
    assert appointment.confirmed_at is not None


def test_check_tells_when_where_and_with_whom(demo, now, converse):
    chat = converse(MARIA, demo, now)
    reply = chat.say("when is my appt", "check_appointment")
    assert "Dr. Patel" in reply and "1200 River Road" in reply


def test_cancel_asks_first_then_cancels_and_offers_to_rebook(demo, now, converse):
    chat = converse(MARIA, demo, now)
    [before] = upcoming(demo, MARIA, now)
    assert "Reply Y to cancel" in chat.say("I can't make it", "cancel_appointment")
    reply = chat.say("yes", "affirm")
    assert "is cancelled" in reply and "find a new time" in reply
    assert upcoming(demo, MARIA, now) == []
    with Session(demo) as session:
        assert session.get(Appointment, before.id).status == AppointmentStatus.CANCELLED
    assert "What day and time" in chat.say("yes", "affirm")


def test_saying_no_to_the_cancel_question_keeps_the_appointment(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("cancel my appointment", "cancel_appointment")
    assert "stays as it is" in chat.say("no", "deny")
    assert len(upcoming(demo, MARIA, now)) == 1


def test_reschedule_with_a_preference_in_the_message_offers_times_and_moves_the_booking(demo, now, converse):
    chat = converse(MARIA, demo, now)
    [old] = upcoming(demo, MARIA, now)
    reply = chat.say("can i move my appt to thursday afternoon", "reschedule_appointment")
    assert "1. Thu, Mar 4" in reply and "PM" in reply
    offered = chat.slots["offered_slots"]
    assert 1 <= len(offered) <= 3
    reply = chat.say("2" if len(offered) > 1 else "1", "inform")
    assert "moved to Thu, Mar 4" in reply
    [new] = upcoming(demo, MARIA, now)
    assert new.id != old.id and new.start.isoformat() == offered[min(1, len(offered) - 1)]["start"].replace(
        "-08:00", "+00:00") or new.start == datetime.fromisoformat(offered[min(1, len(offered) - 1)]["start"])
    with Session(demo) as session:
        assert session.get(Appointment, old.id).status == AppointmentStatus.CANCELLED


def test_reschedule_without_a_preference_asks_for_one(demo, now, converse):
    chat = converse(MARIA, demo, now)
    assert "What day and time" in chat.say("i need to reschedule", "reschedule_appointment")
    reply = chat.say("next tues morning", "inform")  # on a Monday: tomorrow (the parse_when contract)
    assert "\n1. Tue, Mar 2 at" in reply and "AM" in reply and "PM" not in reply


def test_the_nine_thirty_picks_the_matching_offer(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("reschedule to friday", "reschedule_appointment")
    offered = chat.slots["offered_slots"]
    target = datetime.fromisoformat(offered[-1]["start"])
    clock = target.strftime("%I:%M").lstrip("0")
    reply = chat.say(f"the {clock} one", "inform")
    assert "moved to" in reply
    [new] = upcoming(demo, MARIA, now)
    assert new.start == target


def test_none_of_those_offers_other_times(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("move my appointment to thursday", "reschedule_appointment")
    first = {s["start"] for s in chat.slots["offered_slots"]}
    reply = chat.say("none of those work", "deny")
    assert "Reply with a number" in reply
    assert not first & {s["start"] for s in chat.slots["offered_slots"]}


def test_cancel_tuesday_and_put_me_in_thursday_targets_thursday(demo, now, converse):
    chat = converse(DAVID, demo, now)  # David has visits on Thu (+3 days) and in 10 days
    appointments = upcoming(demo, DAVID, now)
    first_day = appointments[0].start.astimezone(now.tzinfo).strftime("%A").lower()
    reply = chat.say(f"cancel {first_day} and put me in next friday", "reschedule_appointment")
    assert "Fri, Mar 5" in reply


def test_book_offers_times_and_books_for_the_patient(demo, now, converse):
    chat = converse(ROBERT, demo, now)
    reply = chat.say("I'd like to book a physical next week", "book_appointment")
    assert "1. " in reply
    assert "You're booked" in chat.say("1", "inform")
    with Session(demo) as session:
        [booked] = upcoming_appointments(session, [p.id for p in session.query(Patient).filter_by(phone=ROBERT)], now)
        assert booked.appointment_type.key == "annual_physical"
        assert booked.status == AppointmentStatus.BOOKED


def test_a_shared_phone_asks_which_patient(demo, now, converse):
    chat = converse(FAMILY, demo, now)
    reply = chat.say("I need to book an appointment", "book_appointment")
    assert "Which patient" in reply and "Emma" in reply and "Liam" in reply
    assert "What day and time" in chat.say("Emma", "inform")
    assert chat.slots["patient_id"] is not None


def test_a_parent_naming_the_child_skips_the_question(demo, now, converse):
    chat = converse(FAMILY, demo, now)
    reply = chat.say("need to cancel liam's appointment", "cancel_appointment")
    assert "Reply Y to cancel" in reply


def test_unknown_number_reveals_nothing_and_offers_staff_follow_up(demo, now, converse):
    chat = converse(STRANGER, demo, now)
    reply = chat.say("when is my appointment", "check_appointment")
    assert "couldn't find" in reply and "Dr." not in reply
    reply = chat.say("yes", "affirm")
    assert "front desk" in reply
    [ticket] = tickets(demo, STRANGER)
    assert ticket.queue == "front_desk" and chat.paused


def test_new_patient_gives_name_and_birth_date_and_books_a_new_patient_visit(demo, now, converse):
    chat = converse(STRANGER, demo, now)
    assert "new-patient visit" in chat.say("hi i want to book an appointment", "book_appointment")
    assert "date of birth" in chat.say("Jane Smith", "inform")
    assert "What day and time" in chat.say("04/12/1985", "inform")
    chat.say("next wednesday", "inform")
    assert "You're booked" in chat.say("1", "inform")
    with Session(demo) as session:
        [booked] = upcoming_appointments(session, [p.id for p in session.query(Patient).filter_by(phone=STRANGER)], now)
        assert booked.patient.is_new and booked.appointment_type.key == "new_patient"


@pytest.mark.parametrize("intent, queue", [
    ("billing_question", "billing"), ("provider_question", "clinical"),
    ("prescription_refill", "clinical"), ("request_human", "front_desk"),
])
def test_staff_intents_open_a_ticket_in_the_right_queue_and_pause(demo, now, intent, queue, converse):
    chat = converse(MARIA, demo, now)
    reply = chat.say("some question", intent)
    assert "They will reply by" in reply
    [ticket] = tickets(demo, MARIA)
    assert ticket.queue == queue and ticket.status == TicketStatus.OPEN
    assert chat.paused
    assert chat.say("hello?", "greet") == ""
    # Rasa runs no action_listen while paused: the action logs it, so rules match after the resume.
    assert chat.logged_actions[-1] == "action_listen"


def test_emergency_says_911_first_and_opens_an_urgent_ticket(demo, now, converse):
    chat = converse(MARIA, demo, now)
    reply = chat.say("my chest hurts and my arm is numb", "emergency", emergency_reason="chest pain")
    assert reply.startswith("If this is an emergency, call 911")
    [ticket] = tickets(demo, MARIA)
    assert ticket.queue == "urgent" and "chest pain" in ticket.reason


def test_a_request_not_for_the_practice_is_declined_politely_and_acts_on_nothing(demo, now, converse):
    chat = converse(MARIA, demo, now)
    with Session(demo) as session:
        booked_before = session.execute(select(Appointment.id, Appointment.start)).all()
    reply = chat.say("can you move my 3pm meeting with sarah to thursday", "out_of_scope")
    assert reply.startswith("Sorry, that's not something I can help with here.")
    assert "appointments" in reply and "talk to a person" in reply
    assert tickets(demo, MARIA) == []
    with Session(demo) as session:
        assert session.execute(select(Appointment.id, Appointment.start)).all() == booked_before
        assert session.execute(select(ConsentRecord).where(  # (the demo's billing opt-in stays as it was)
            ConsentRecord.phone == MARIA, ConsentRecord.purpose != "billing")).all() == []


def test_a_second_miss_in_a_row_goes_to_the_front_desk(demo, now, converse):
    chat = converse(MARIA, demo, now)
    assert "not something I can help with" in chat.say("asdf qwerty", "out_of_scope")
    assert tickets(demo, MARIA) == []
    reply = chat.say("blorp", "nlu_fallback")
    assert "front desk" in reply
    [ticket] = tickets(demo, MARIA)
    assert ticket.queue == "front_desk"


def test_an_understood_text_resets_the_miss_count(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("asdf", "out_of_scope")
    chat.say("when is my appointment", "check_appointment")
    assert "didn't understand" in chat.say("blorp", "nlu_fallback")
    assert tickets(demo, MARIA) == []


def test_opt_out_in_any_words_is_recorded_and_opt_in_restores(demo, now, converse):
    chat = converse(MARIA, demo, now)
    assert "unsubscribed" in chat.say("please stop texting me", "opt_out")
    with Session(demo) as session:
        statuses = session.execute(select(ConsentRecord.status).where(  # after the demo's billing opt-in
            ConsentRecord.phone == MARIA, ConsentRecord.purpose != "billing")).scalars().all()
    assert statuses == [ConsentStatus.OPTED_OUT]
    assert "subscribed" in chat.say("start texting me again", "opt_in")


def test_office_info_answers_hours_and_address_from_the_practice_config(demo, now, converse):
    chat = converse(MARIA, demo, now)
    assert "Thu 8 AM-7 PM" in chat.say("what are your hours", "office_info")
    assert "parking" in chat.say("where do i park", "office_info").lower()
    assert "(503) 555-0101" in chat.say("what's your fax number", "office_info")
    assert "Thanksgiving" in converse(MARIA, demo, now - timedelta(days=120)).say(
        "are you open on holidays", "office_info")


def test_sensitive_visits_are_never_named(demo, now, converse):
    chat = converse(ALEX, demo, now)
    reply = chat.say("when is my next appointment", "check_appointment")
    assert "Dr. Patel" in reply and "behavioral" not in reply.lower()


def test_every_reply_fits_in_two_sms_segments(demo, now, converse):
    chat = converse(DAVID, demo, now)
    for text, intent in [("hi", "greet"), ("when are my appts", "check_appointment"),
                         ("move my appt", "reschedule_appointment"), ("next week", "inform"),
                         ("what are your hours", "office_info"), ("help", "help")]:
        chat.say(text, intent)
    assert chat.replies and all(len(reply) <= 320 for reply in chat.replies), chat.replies


# --- Replies to automated texts: reminders, recall, the waitlist ----------------------

def send_reminders_at(engine, when):
    from workers.reminder_worker import run_pass

    run_pass(engine, lambda: when, rate=0, notify_rasa=False)


def test_c_after_a_reminder_confirms_exactly_the_reminded_appointment(demo, now, converse):
    first, second = upcoming(demo, DAVID, now)
    reminder_due = first.start - timedelta(days=2) + timedelta(minutes=1)
    send_reminders_at(demo, reminder_due)
    chat = converse(DAVID, demo, reminder_due + timedelta(minutes=5))
    reply = chat.say("C", "confirm_appointment")
    assert "You're confirmed" in reply
    with Session(demo) as session:
        assert session.get(Appointment, first.id).confirmed_at is not None
        assert session.get(Appointment, second.id).confirmed_at is None


def test_r_after_a_reminder_reschedules_the_reminded_appointment(demo, now, converse):
    first, second = upcoming(demo, DAVID, now)
    reminder_due = first.start - timedelta(days=2) + timedelta(minutes=1)
    send_reminders_at(demo, reminder_due)
    chat = converse(DAVID, demo, reminder_due + timedelta(minutes=5))
    assert "What day and time" in chat.say("R", "reschedule_appointment")
    assert chat.slots["appointment_ids"] == [first.id]


def test_book_after_a_recall_text_books_the_recalled_visit(demo, now, converse):
    send_reminders_at(demo, now.replace(hour=10))  # Robert's yearly physical is overdue: a recall goes out
    chat = converse(ROBERT, demo, now.replace(hour=11))
    assert "What day and time" in chat.say("BOOK", "book_appointment")
    assert chat.slots["appointment_type"] == "annual_physical"


def test_waitlist_yes_takes_a_freed_earlier_slot(demo, now, converse):
    from bot.models import ChangedBy, OutboundMessage, Provider
    from bot.scheduling.booking import book_appointment, find_open_slots

    [maria_visit] = upcoming(demo, MARIA, now)
    chat = converse(MARIA, demo, now)
    assert "waitlist" in chat.say("can you let me know if something sooner opens up", "reschedule_appointment")

    olivia = "+15035550120"
    with Session(demo) as session, session.begin():
        patel = session.execute(select(Provider).where(Provider.key == "patel")).scalar_one()
        [slot] = find_open_slots(session, appointment_type_id=maria_visit.appointment_type_id, now=now,
                                 provider_id=patel.id, window_start=now + timedelta(hours=4),
                                 window_end=maria_visit.start, limit=1)
        patient = session.execute(select(Patient).where(Patient.phone == olivia)).scalars().first()
        early = book_appointment(session, patient_id=patient.id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
        early_start = early.start
    other = converse(olivia, demo, now)
    day = early_start.astimezone(now.tzinfo)
    other.say(f"cancel my appt on {day.month}/{day.day}", "cancel_appointment")
    assert "is cancelled" in other.say("yes", "affirm")
    with Session(demo) as session:
        offers = session.execute(select(OutboundMessage).where(OutboundMessage.phone == MARIA)).scalars().all()
    assert any("sooner" in o.body.lower() for o in offers)

    chat = converse(MARIA, demo, now + timedelta(minutes=10))
    assert "You're booked" in chat.say("YES", "affirm")
    [moved] = upcoming(demo, MARIA, now)
    assert moved.start == early_start


def test_a_range_containing_the_old_appointment_is_still_the_wish(demo, now, converse):
    chat = converse(MARIA, demo, now)  # her visit is in two days: inside "this week"
    assert "Open times" in chat.say("can i move my appt to later this week", "reschedule_appointment")


def test_a_day_naming_the_old_appointment_is_not_the_new_time(demo, now, converse):
    [visit] = upcoming(demo, MARIA, now)
    day = visit.start.astimezone(now.tzinfo).strftime("%A").lower()
    chat = converse(MARIA, demo, now)
    assert "What day and time" in chat.say(f"i need to move my {day} appointment", "reschedule_appointment")


def test_the_second_one_books_the_second_offered_time(demo, now, converse):
    chat = converse(MARIA, demo, now)
    chat.say("move my appt to next week", "reschedule_appointment")
    offered = chat.slots["offered_slots"]
    assert len(offered) >= 2
    assert "moved to" in chat.say("the second one", "inform")
    [moved] = upcoming(demo, MARIA, now)
    assert moved.start == datetime.fromisoformat(offered[1]["start"])


def test_booking_never_offers_the_time_of_the_patients_own_other_visit(demo, now, converse):
    """Maria asks for a sick visit exactly when she already sees Dr. Patel: other providers are free
    then, but she cannot be in two rooms, so other times are offered."""
    [visit] = upcoming(demo, MARIA, now)
    local = visit.start.astimezone(ZoneInfo("America/Los_Angeles"))  # the demo practice's time
    clock = local.strftime("%I:%M %p").lstrip("0")
    chat = converse(MARIA, demo, now)
    reply = chat.say(f"can i book a sick visit {local:%b} {local.day} at {local:%I:%M%p}", "book_appointment")
    offers = offered_lines(reply)
    assert offers, reply
    assert not any(f"at {clock} " in line for line in offers), reply


def test_wednesday_or_thursday_offers_times_on_both_days(demo, now, converse):  # now is a Monday
    chat = converse(ROBERT, demo, now)
    reply = chat.say("I'd like to book a physical wednesday or thursday", "book_appointment")
    offers = offered_lines(reply)
    assert any("Wed, " in line for line in offers) and any("Thu, " in line for line in offers), reply


@pytest.mark.parametrize("phone", [MARIA, STRANGER])
@pytest.mark.parametrize("intent", sorted(RULES))
def test_every_intent_gets_an_answer_so_silence_means_a_failed_turn(demo, now, converse, phone, intent):
    """The SMS channel treats a silent turn (the bot in charge, nothing said) as a failed one and retries
    it; that is only right if every rule's answer says something, for a known patient and a stranger."""
    assert converse(phone, demo, now).say("hello", intent).strip()


def offered_local_starts(chat) -> list[datetime]:
    zone = ZoneInfo("America/Los_Angeles")  # the demo practice's time
    return [datetime.fromisoformat(s["start"]).astimezone(zone) for s in chat.slots["offered_slots"]]


def test_next_week_after_three_offers_only_next_week_at_or_after_three(demo, now, converse):  # now is a Monday
    chat = converse(ROBERT, demo, now)
    reply = chat.say("do you have anything for a physical next week after 3?", "book_appointment")
    assert len(offered_lines(reply)) == 3 and "Nothing is open" not in reply, reply
    for start in offered_local_starts(chat):
        assert datetime(2027, 3, 8) <= start.replace(tzinfo=None) < datetime(2027, 3, 15), reply
        assert start.hour >= 15, reply


def test_any_morning_next_week_as_the_answer_offers_only_morning_times_next_week(demo, now, converse):
    chat = converse(MARIA, demo, now)
    assert "What day and time" in chat.say("i need to reschedule", "reschedule_appointment")
    reply = chat.say("any morning next week", "inform")
    assert len(offered_lines(reply)) == 3 and "PM" not in reply, reply
    for start in offered_local_starts(chat):
        assert datetime(2027, 3, 8) <= start.replace(tzinfo=None) < datetime(2027, 3, 15), reply
        assert 8 <= start.hour < 12, reply


def test_a_polite_letter_opening_good_morning_gets_the_week_and_the_time_of_day_it_names(demo, now, converse):
    chat = converse(ROBERT, demo, now)
    assert "What day and time" in chat.say("I'd like to book a follow-up", "book_appointment")
    reply = chat.say("Good morning! Thank you for getting back to me so quickly. Would you have anything "
                     "the week of the 15th? Afternoons are best for me, as I work mornings. Many thanks, Robert",
                     "inform")
    assert len(offered_lines(reply)) == 3 and "AM" not in reply, reply
    for start in offered_local_starts(chat):
        assert datetime(2027, 3, 15) <= start.replace(tzinfo=None) < datetime(2027, 3, 22), reply
        assert 12 <= start.hour < 17, reply


def test_on_a_shared_phone_every_visit_in_a_reply_carries_its_patients_first_name(demo, now, converse):
    chat = converse(FAMILY, demo, now)
    reply = chat.say("need to cancel liam's appointment", "cancel_appointment")
    assert "Liam" in reply and "Reply Y to cancel" in reply
    reply = chat.say("yes", "affirm")
    assert "Liam" in reply and "is cancelled" in reply


def test_a_visit_of_someone_not_on_this_phone_is_never_discussed(demo, now, converse):
    chat = converse(MARIA, demo, now)
    reply = chat.say("is my neighbor's appointment still on for thursday?", "check_appointment")
    assert "only discuss visits of patients who use this number" in reply
    assert "Dr." not in reply and "Maria" not in reply
    chat = converse(FAMILY, demo, now)
    reply = chat.say("can you confirm Tom's cleaning", "confirm_appointment")
    assert "only discuss visits of patients who use this number" in reply
    assert "Emma" not in reply and "Liam" not in reply
    assert upcoming(demo, FAMILY, now)[0].confirmed_at is None
