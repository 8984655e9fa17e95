"""Response-time figures, checked against numbers worked out by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.models import HandoffTicket, TicketStatus
from bot.staff import responsetimes
from bot.staff.responsetimes import TicketTimes, percentile, summarize
from tests.rows import sms

LA = ZoneInfo("America/Los_Angeles")
MIN = timedelta(minutes=1)


def _t(ticket_id, queue, created, first_min=None, resolved_min=None, due_min=60):
    return TicketTimes(ticket_id, queue, created, created + due_min * MIN,
                       None if first_min is None else created + first_min * MIN,
                       None if resolved_min is None else created + resolved_min * MIN)


def test_percentile_interpolates_between_closest_ranks():
    values = [m * MIN for m in range(1, 11)]  # 1..10 minutes
    assert percentile(values, 0.5) == timedelta(minutes=5, seconds=30)
    assert percentile(values, 0.9) == timedelta(minutes=9, seconds=6)  # 9 + 0.1 * (10 - 9)
    assert percentile([7 * MIN], 0.9) == 7 * MIN
    assert percentile([], 0.5) is None


def test_weekly_figures_per_queue_match_hand_computation():
    monday = datetime(2027, 3, 1, 9, 0, tzinfo=LA)  # ISO week 2027-W09
    times = [
        # billing, week 9: first responses 10, 30, 50, 240 min; one unanswered and past due
        _t(1, "billing", monday, first_min=10, resolved_min=20),
        _t(2, "billing", monday + MIN, first_min=30, resolved_min=100),
        _t(3, "billing", monday + 2 * MIN, first_min=50),
        _t(4, "billing", monday + 3 * MIN, first_min=240, resolved_min=300),
        _t(5, "billing", monday + 4 * MIN),
        # front desk, next week (2027-W10): one answered in time, one not yet due (undecided)
        _t(6, "front_desk", monday + timedelta(days=7), first_min=5, resolved_min=5),
        _t(7, "front_desk", monday + timedelta(days=7, hours=5)),
    ]
    now = monday + timedelta(days=7, hours=5, minutes=30)  # ticket 7 is due 60 min after opening
    billing, front = summarize(times, LA, now)

    assert (billing.queue, billing.week, billing.tickets, billing.answered, billing.resolved) == \
        ("billing", "2027-W09", 5, 4, 3)
    assert billing.median_first_response == 40 * MIN            # (30 + 50) / 2
    assert billing.p90_first_response == 183 * MIN              # pos 2.7: 50 + 0.7 * (240 - 50)
    assert billing.median_resolution == 100 * MIN
    assert billing.p90_resolution == 260 * MIN                  # pos 1.8: 100 + 0.8 * (300 - 100)
    assert (billing.within_goal, billing.decided) == (3, 5)     # 10, 30, 50 in time; 240 late; #5 past due
    assert billing.within_goal_share == 0.6

    assert (front.queue, front.week, front.tickets) == ("front_desk", "2027-W10", 2)
    assert (front.within_goal, front.decided) == (1, 1)
    assert front.median_first_response == 5 * MIN


def test_week_is_taken_in_the_practice_zone():
    # Sunday 23:30 in Los Angeles is already Monday in UTC: it belongs to the Sunday's week.
    sunday_night = datetime(2027, 3, 8, 7, 30, tzinfo=timezone.utc)
    assert responsetimes.iso_week(sunday_night, LA) == "2027-W09"
    assert responsetimes.iso_week(sunday_night, timezone.utc) == "2027-W10"


def test_weekly_report_reads_tickets_from_the_database(engine, now):
    with Session(engine) as session, session.begin():
        for offset, first in [(0, 20), (1, 40), (2, None)]:
            created = now + offset * MIN
            session.add(HandoffTicket(
                queue="clinical", reason="refill", status=TicketStatus.OPEN, **sms(session, "+15035550123"),
                created_at=created, due_at=created + 240 * MIN, last_activity_at=created,
                first_response_at=None if first is None else created + first * MIN))
        session.add(HandoffTicket(  # four weeks earlier: outside a 2-week report
            queue="clinical", reason="old", status=TicketStatus.RESOLVED, **sms(session, "+15035550123"),
            created_at=now - timedelta(weeks=4), due_at=now, last_activity_at=now))
    with Session(engine) as session:
        rows = responsetimes.weekly_report(session, LA, now + 60 * MIN, weeks=2)
        only_billing = responsetimes.weekly_report(session, LA, now + 60 * MIN, weeks=2, queues=("billing",))
    assert len(rows) == 1 and rows[0].tickets == 3
    assert rows[0].median_first_response == 30 * MIN
    assert (rows[0].within_goal, rows[0].decided) == (2, 2)  # the unanswered one is not due yet
    assert only_billing == []


def test_durations_read_like_a_person_would_say_them():
    fmt = responsetimes.format_duration
    assert fmt(None) == "—"
    assert fmt(42 * MIN) == "42 min"
    assert fmt(65 * MIN) == "1 h 05 min"
    assert fmt(timedelta(days=2, hours=3)) == "2 d 3 h"
