"""The inbox's queue in the domain: urgent pinned on top, the filters, search, and where each conversation stands."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.models import Patient, Practice
from bot.staff import accounts, handoff, replies
from bot.staff.queue_view import QueueFilter, conversation_pulses, preview, queue_tickets
from tests.web_helpers import open_ticket, patient_texts

ALL = ("front_desk", "billing", "clinical", "urgent")


def _ids(engine, now, wanted=QueueFilter(), viewer=0, queues=ALL):
    with Session(engine) as session:
        return [t.id for t in queue_tickets(session, queues, viewer, now, wanted)]


def test_urgent_tickets_come_first_then_the_rest_oldest_first(engine, now):
    old = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(hours=2))
    billing = open_ticket(engine, "+15035550122", "billing", now - timedelta(hours=1))
    urgent = open_ticket(engine, "+15035550133", "urgent", now, reason="chest pain")
    assert _ids(engine, now) == [urgent, old, billing]
    assert _ids(engine, now, queues=("front_desk", "billing")) == [old, billing]


def test_the_queue_pinned_on_top_is_whichever_the_practice_routes_emergencies_to(engine, now):
    """No queue name is built in: a practice that sends emergencies to its nurses gets those pinned."""
    with Session(engine) as session, session.begin():
        practice = session.query(Practice).one()
        queues = {**practice.config["queues"], "nurse_line": {"name": "Nurse line", "team": "our nurses",
                                                               "goal_minutes": 5}}
        practice.config = {**practice.config, "queues": queues,
                           "routing": {**practice.config["routing"], "emergency": "nurse_line"}}
    old = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(hours=2))
    urgent = open_ticket(engine, "+15035550122", "urgent", now - timedelta(hours=1))
    nurses = open_ticket(engine, "+15035550133", "nurse_line", now, reason="chest pain")
    assert _ids(engine, now, queues=ALL + ("nurse_line",)) == [nurses, old, urgent]


def test_filters_queue_mine_unassigned_unanswered_and_over_goal(engine, now):
    with Session(engine) as session, session.begin():
        me = accounts.create_staff_user(session, "fran", "long enough", "front_desk", "Fran", now).id
        other = accounts.create_staff_user(session, "cleo", "long enough", "clinical", "Cleo", now).id
    late = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(days=3))  # due long ago, nobody answered
    mine = open_ticket(engine, "+15035550122", "front_desk", now - timedelta(minutes=30))
    theirs = open_ticket(engine, "+15035550133", "clinical", now - timedelta(minutes=20))
    fresh = open_ticket(engine, "+15035550144", "billing", now)
    with Session(engine) as session, session.begin():
        handoff.claim_ticket(session, mine, me, now)
        replies.send_staff_reply(session, theirs, staff_user_id=other, body="We will call you", now=now)
    assert _ids(engine, now, QueueFilter(queue="front_desk")) == [late, mine]
    assert _ids(engine, now, QueueFilter(mine=True), viewer=me) == [mine]
    assert _ids(engine, now, QueueFilter(unassigned=True)) == [late, fresh]
    assert _ids(engine, now, QueueFilter(unanswered=True)) == [late, mine, fresh]
    assert _ids(engine, now, QueueFilter(over_goal=True)) == [late]
    assert _ids(engine, now, QueueFilter(queue="front_desk", unassigned=True)) == [late]

    patient_texts(engine, "+15035550133", ["One more question"], now + timedelta(minutes=1))
    assert theirs in _ids(engine, now, QueueFilter(unanswered=True))  # the patient wrote after the staff reply


def test_search_by_patient_name_or_phone_digits(engine, now):
    with Session(engine) as session, session.begin():
        session.add_all([Patient(phone="+15035550111", first_name="Dana", last_name="Reyes"),
                         Patient(phone="+15035550122", first_name="Sam", last_name="Okafor")])
    dana = open_ticket(engine, "+15035550111", "front_desk", now)
    sam = open_ticket(engine, "+15035550122", "front_desk", now)
    unknown = open_ticket(engine, "+15035550199", "front_desk", now)
    assert _ids(engine, now, QueueFilter(search="reyes")) == [dana]
    assert _ids(engine, now, QueueFilter(search="SAM oka")) == [sam]
    assert _ids(engine, now, QueueFilter(search="(503) 555-0199")) == [unknown]
    assert _ids(engine, now, QueueFilter(search="555")) == [dana, sam, unknown]
    assert _ids(engine, now, QueueFilter(search="nobody")) == []


def test_the_pulse_says_waiting_since_until_staff_answer_then_answered_at(engine, now):
    ticket_id = open_ticket(engine, "+15035550111", "front_desk", now, texts=("First question",))
    with Session(engine) as session, session.begin():
        user = accounts.create_staff_user(session, "fran", "long enough", "front_desk", "Fran", now).id

    def pulse():
        with Session(engine) as session:
            return conversation_pulses(session, [session.get(handoff.HandoffTicket, ticket_id)])[ticket_id]

    assert (pulse().waiting_since, pulse().answered_at, pulse().last_from, pulse().last_text) == (
        now, None, "patient", "First question")
    with Session(engine) as session, session.begin():
        replies.send_staff_reply(session, ticket_id, staff_user_id=user, body="Hello!", now=now + timedelta(minutes=5))
    assert (pulse().waiting_since, pulse().answered_at, pulse().last_from, pulse().last_text) == (
        None, now + timedelta(minutes=5), "staff", "Hello!")
    patient_texts(engine, "+15035550111", ["Thanks", "And another thing"], now + timedelta(minutes=9))
    assert (pulse().waiting_since, pulse().answered_at, pulse().last_text) == (
        now + timedelta(minutes=9), None, "And another thing")


def test_preview_cuts_a_long_text_at_a_word_with_an_ellipsis():
    long = "My father has had chest pain since dinner and " * 40
    cut = preview(long)
    assert len(cut) <= 120 and cut.endswith("…") and long.startswith(cut[:-1])
    assert cut[-2] != " " and preview("short\n text") == "short text"


def test_the_reason_staff_read_carries_no_media_url():
    from bot.staff.queue_view import reason_for_staff
    reason = "patient sent a picture with no text: https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    assert reason_for_staff(reason) == "patient sent a picture with no text: (picture)"
