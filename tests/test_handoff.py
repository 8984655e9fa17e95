"""Handoff tickets and the answer time promised to the patient (office hours, holidays, DST)."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bot import wording
from bot.models import InboundMessage, TicketStatus
from bot.practice import get_practice
from bot.staff import handoff
from tests.rows import sms

LA = ZoneInfo("America/Los_Angeles")


def due(engine, queue, now):
    with Session(engine) as session:
        return handoff.expected_answer_at(session, get_practice(session), queue, now)


def test_answer_time_inside_office_hours_is_now_plus_goal(engine):
    assert due(engine, "billing", datetime(2027, 3, 1, 9, 0, tzinfo=LA)) == datetime(2027, 3, 1, 13, 0, tzinfo=LA)


def test_answer_time_carries_over_to_the_next_open_day(engine):
    # Friday closes at 16:00 (120 min left), Saturday 9-12 gives the other 120.
    assert due(engine, "billing", datetime(2027, 3, 5, 14, 0, tzinfo=LA)) == datetime(2027, 3, 6, 11, 0, tzinfo=LA)


def test_answer_time_after_closing_starts_at_next_opening_and_skips_sunday(engine):
    # Friday night: Saturday gives 180 min, Sunday is closed, Monday 9:00 after 60 more.
    assert due(engine, "billing", datetime(2027, 3, 5, 20, 0, tzinfo=LA)) == datetime(2027, 3, 8, 9, 0, tzinfo=LA)


def test_answer_time_skips_closed_dates(engine):
    # Wednesday before Thanksgiving 16:00: 60 min Wednesday, Thursday closed, Friday 8:00 + 180.
    assert due(engine, "billing", datetime(2026, 11, 25, 16, 0, tzinfo=LA)) == datetime(2026, 11, 27, 11, 0, tzinfo=LA)


@pytest.mark.parametrize("saturday, monday_answer", [
    (datetime(2027, 3, 13, 11, 0, tzinfo=LA), datetime(2027, 3, 15, 11, 0, tzinfo=LA)),   # spring forward
    (datetime(2026, 10, 31, 11, 0, tzinfo=LA), datetime(2026, 11, 2, 11, 0, tzinfo=LA)),  # fall back
])
def test_answer_time_across_daylight_saving_change_is_local_office_time(engine, saturday, monday_answer):
    result = due(engine, "billing", saturday)
    assert result == monday_answer
    assert result.astimezone(LA).hour == 11


def test_answer_time_phrase_reads_naturally():
    now = datetime(2027, 3, 5, 14, 0, tzinfo=LA)  # Friday
    assert wording.answer_time_phrase(datetime(2027, 3, 5, 15, 30, tzinfo=LA), now, LA) == "by 3:30 PM today"
    assert wording.answer_time_phrase(datetime(2027, 3, 6, 11, 0, tzinfo=LA), now, LA) == "by 11:00 AM tomorrow"
    assert wording.answer_time_phrase(datetime(2027, 3, 8, 9, 0, tzinfo=LA), now, LA) == "by 9:00 AM Monday"


def test_open_ticket_attaches_earlier_messages_and_is_reused_per_queue(engine, now):
    with Session(engine) as session, session.begin():
        session.add(InboundMessage(message_sid="SM1", **sms(session, "+15035550111", inbound=True), body="question about my bill", received_at=now))
        session.flush()
        first = handoff.open_ticket(session, phone="+15035550111", queue="billing", reason="billing question", now=now)
        again = handoff.open_ticket(session, phone="+15035550111", queue="billing", reason="more", now=now)
        assert again.id == first.id
        message = session.query(InboundMessage).one()
        assert message.ticket_id == first.id
        assert handoff.open_ticket_for(session, "+15035550111").id == first.id


def test_resolved_ticket_no_longer_pauses_the_conversation(engine, now):
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone="+15035550111", queue="front_desk", reason="human", now=now)
        handoff.resolve_ticket(session, ticket.id, staff_user_id=None, now=now)
        assert ticket.status == TicketStatus.RESOLVED
        assert handoff.open_ticket_for(session, "+15035550111") is None


def test_unknown_queue_is_refused_before_anything_is_written(engine, now):
    with Session(engine) as session, session.begin():
        with pytest.raises(KeyError):
            handoff.open_ticket(session, phone="+15035550111", queue="nowhere", reason="x", now=now)
