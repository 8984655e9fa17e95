"""The practice's routing decides every queue: the assistant's hand-offs and the SMS pipeline's own tickets."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.messaging import inbound, outbox
from bot.migrate import upgrade_database
from bot.models import HandoffTicket, OutboundMessage, OutboundStatus, Patient
from bot.practice import apply_practice_config, get_practice, load_practice_file
from bot.staff import handoff, routing
from tests.conftest import DEMO_PRACTICE

PHONE = "+15035550177"
QUEUES = {
    "reception": {"name": "Reception", "team": "our reception", "goal_minutes": 60},
    "accounts": {"name": "Accounts", "team": "our accounts team", "goal_minutes": 240},
    "nurse_line": {"name": "Nurse line", "team": "our nurse line", "goal_minutes": 15},
}


@pytest.fixture
def practice_with(tmp_path):
    """``practice_with(routing)``: a fresh database whose practice has QUEUES and that routing.

    A new database rather than a reload: loading over an existing practice is
    another change (practice load does not update provider hours yet).
    """
    engines = []

    def make(routes: dict):
        url = f"sqlite:///{tmp_path / f'practice{len(engines)}.db'}"
        upgrade_database(url)
        engines.append(make_engine(url))
        data = load_practice_file(DEMO_PRACTICE)
        data["queues"], data["routing"] = QUEUES, routes
        with Session(engines[-1]) as session, session.begin():
            apply_practice_config(session, data)
        return engines[-1]
    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def own_queues(practice_with):
    """A practice with no front_desk and no urgent queue: reception answers what is not routed."""
    return practice_with({"default": "reception", "emergency": "nurse_line", "billing_question": "accounts"})


def store(engine, now, body, media=()):
    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid=f"SM{abs(hash((body, now))) % 10**32:032d}",
                                           phone=PHONE, to_number="+15035550199", body=body, media=list(media),
                                           now=now)
        return message.id


def triage(engine, now, body, media=()):
    inbound_id = store(engine, now, body, media)
    with Session(engine) as session, session.begin():
        return inbound.triage_inbound(session, session.get(inbound.InboundMessage, inbound_id), now=now,
                                      advanced_opt_out=False)


def queue_of(engine, ticket_id) -> str:
    with Session(engine) as session:
        return session.get(HandoffTicket, ticket_id).queue


def test_a_text_the_assistant_could_not_answer_goes_to_the_default_queue(own_queues, now):
    inbound_id = store(own_queues, now, "hello?")
    with Session(own_queues) as session, session.begin():
        ticket = inbound.hand_to_staff(session, session.get(inbound.InboundMessage, inbound_id), now)
        assert ticket.queue == "reception"
        holding = session.execute(select(OutboundMessage)).scalar_one()
        assert "Our reception will reply" in holding.body


def test_a_bare_cancel_and_a_picture_go_to_the_default_queue(own_queues, now):
    assert queue_of(own_queues, triage(own_queues, now, "CANCEL").opened_ticket_id) == "reception"
    picture = triage(own_queues, now + timedelta(minutes=1), "", media=[{"url": "https://x/1", "type": "image/jpeg"}])
    assert queue_of(own_queues, picture.opened_ticket_id) == "reception"


def test_an_emergency_while_staff_have_the_chat_goes_where_the_practice_routes_emergencies(own_queues, now):
    with Session(own_queues) as session, session.begin():
        handoff.open_ticket(session, phone=PHONE, queue="accounts", reason="bill", now=now)
    result = triage(own_queues, now, "I have chest pain right now")
    assert queue_of(own_queues, result.opened_ticket_id) == "nurse_line"


def test_a_text_we_could_not_send_goes_to_the_default_queue(own_queues, now):
    with Session(own_queues) as session, session.begin():
        row = outbox.enqueue_text(session, PHONE, "Our reply", "reply", now)
        row.status = OutboundStatus.FAILED
        [alerted] = outbox.tell_staff_about_texts_not_sent(session, now)
        assert session.get(HandoffTicket, alerted.ticket_id).queue == "reception"


def test_the_assistants_hand_offs_follow_the_routing(own_queues, now, converse):
    with Session(own_queues) as session, session.begin():
        session.add(Patient(first_name="Ana", last_name="Reyes", phone=PHONE))
    chat = converse(PHONE, own_queues, now)
    assert "our accounts team" in chat.say("question about my bill", "billing_question")
    other = converse("+15035550178", own_queues, now)
    assert "our reception" in other.say("can i talk to a person", "request_human")
    with Session(own_queues) as session:
        assert sorted(t.queue for t in session.execute(select(HandoffTicket)).scalars()) == ["accounts", "reception"]


def test_without_a_default_the_first_queue_answers(practice_with):
    engine = practice_with({"emergency": "nurse_line"})
    with Session(engine) as session:
        practice = get_practice(session)
        assert routing.queue_for(practice, routing.STUCK_TEXT) == "reception"
        assert routing.queue_for(practice, "emergency") == "nurse_line"


def test_the_demo_practice_routes_the_pipeline_to_its_front_desk(engine):
    with Session(engine) as session:
        practice = get_practice(session)
        assert {routing.queue_for(practice, what) for what in (
            routing.STUCK_TEXT, routing.CANCEL_KEYWORD, routing.PICTURE, "anything else")} == {"front_desk"}
        assert routing.queue_for(practice, routing.EMERGENCY) == "urgent"


def test_a_queue_names_its_team_in_the_patients_language_when_the_practice_file_gives_it(engine):
    from sqlalchemy.orm import Session

    from bot.practice import get_practice
    from bot.staff.routing import team_name
    with Session(engine) as session:
        practice = get_practice(session)
        assert team_name(practice, "billing", "es") == "nuestro equipo de cobros"
        assert team_name(practice, "billing", "en") == "our billing team"
        assert team_name(practice, "billing", "fr") == "our billing team"  # no team_fr: the team as written
        assert team_name(practice, "billing") == "our billing team"
