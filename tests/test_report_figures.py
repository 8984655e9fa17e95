"""The figures practices compare, per queue and week: first response p50/p90 in business minutes
(urgent: wall-clock), the share waiting over 1 business hour and over 1 business day beside the goals
(at most 5 %, none), tickets per owner; and `python -m bot report` printing them, with --csv.

Demo office hours: Mon-Wed 8-17, Thu 8-19, Fri 8-16, Sat 9-12, closed Sunday; Thanksgiving
(Thu 2027-11-25) is a closed date.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

import bot.settings
from bot.models import HandoffTicket, StaffRole, TicketStatus
from bot.practice import get_practice
from bot.settings import Settings
from bot.staff import responsetimes
from bot.staff.accounts import create_staff_user
from tests.rows import sms
from workers import cli

ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 8, 12, 0, tzinfo=ZONE)  # Monday of week 10


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=ZONE)


def add(session, queue, created, answered=None, owner=None):
    session.add(HandoffTicket(queue=queue, reason="test", status=TicketStatus.CLAIMED if owner else TicketStatus.OPEN,
                              **sms(session, "+15035550111"), created_at=created, due_at=created, last_activity_at=created,
                              first_response_at=answered, claimed_by=owner))


@pytest.fixture
def week_of_tickets(engine):
    with Session(engine) as session, session.begin():
        rosa = create_staff_user(session, "rosa", "a long enough password", StaffRole.FRONT_DESK.value, "Rosa G.",
                                 NOW).id
        add(session, "front_desk", at(1, 9), at(1, 9, 30), owner=rosa)      # 30 business minutes
        add(session, "front_desk", at(1, 16, 30), at(2, 8, 45), owner=rosa)  # 30 + 45 = 75: over an hour
        add(session, "front_desk", at(6, 11), at(8, 11, 30))    # Sat 60 + Mon 210 = 270; past Mon 11:00: over a day
        add(session, "front_desk", at(1, 10))                   # never answered: over an hour and a day by now
        add(session, "front_desk", at(7, 10), at(8, 8, 20))     # Sunday, closed: 20 business minutes
        add(session, "urgent", at(1, 22, 45), at(1, 23, 30))    # 45 wall-clock minutes at night
        add(session, "urgent", at(2, 1, 0), at(2, 2, 30))       # 90 wall-clock minutes: over an hour
    return engine


def figures(engine) -> dict[str, responsetimes.QueueWeekFigures]:
    with Session(engine) as session:
        return {f"{r.queue} {r.week}": r for r in responsetimes.queue_figures(session, NOW, weeks=2)}


def test_business_minutes_percentiles_and_the_shares_over_an_hour_and_a_day(week_of_tickets):
    front = figures(week_of_tickets)["front_desk 2027-W09"]
    assert (front.tickets, front.answered, front.wall_clock) == (5, 4, False)
    assert front.p50_first_response_minutes == pytest.approx(52.5)   # 20, 30, 75, 270 minutes
    assert front.p90_first_response_minutes == pytest.approx(211.5)
    assert (front.over_hour, front.over_day) == (3, 2)
    assert front.over_hour_share == pytest.approx(0.6) and not front.meets_hour_goal
    assert front.over_day_share == pytest.approx(0.4) and not front.meets_day_goal
    assert front.per_owner == (("(unassigned)", 3), ("Rosa G.", 2))


def test_the_urgent_queue_counts_wall_clock_minutes(week_of_tickets):
    urgent = figures(week_of_tickets)["urgent 2027-W09"]
    assert urgent.wall_clock
    assert urgent.p50_first_response_minutes == pytest.approx(67.5)  # 45 and 90 minutes, though the office was shut
    assert (urgent.over_hour, urgent.over_day) == (1, 0)
    assert not urgent.meets_hour_goal and urgent.meets_day_goal


def test_a_holiday_is_not_business_time(engine):
    with Session(engine) as session:
        practice = get_practice(session)
        wednesday = at(24, 16, 30, month=11)
        friday = at(26, 8, 45, month=11)
        assert responsetimes.business_time_between(session, practice, wednesday, friday) == timedelta(minutes=75)
        # One business day after Wednesday 4:30 PM: Friday (Thursday is Thanksgiving), at its 4 PM close.
        assert responsetimes.one_business_day_after(session, practice, wednesday) == at(26, 16, 0, month=11)


def test_a_week_within_the_goals_says_so(engine):
    with Session(engine) as session, session.begin():
        for hour in range(8, 16):
            add(session, "billing", at(1, hour), at(1, hour, 40))
    [billing] = figures(engine).values()
    assert (billing.over_hour, billing.over_day) == (0, 0) and billing.meets_hour_goal and billing.meets_day_goal


def test_python_m_bot_report_prints_the_figures_and_a_csv(week_of_tickets, sqlite_url, monkeypatch, capsys):
    settings = dataclasses.replace(Settings(), database_url=sqlite_url)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(bot.settings, "get_settings", lambda: settings)  # the appointment figures' own lookup
    assert cli.main(["report", "--weeks", "2", "--now", NOW.isoformat(), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    front = next(r for r in rows if r["queue"] == "front_desk")
    assert front["week"] == "2027-W09" and front["counted_in"] == "business minutes"
    assert (front["p50_first_response_min"], front["p90_first_response_min"]) == ("52", "212")
    assert (front["over_1_hour_pct"], front["over_1_hour_goal"]) == ("60.0", "missed (<= 5%)")
    assert (front["over_1_day_pct"], front["over_1_day_goal"]) == ("40.0", "missed (none)")
    assert front["tickets_per_owner"] == "(unassigned): 3; Rosa G.: 2"
    assert next(r for r in rows if r["queue"] == "urgent")["counted_in"] == "wall-clock minutes"

    assert cli.main(["report", "--weeks", "2", "--now", NOW.isoformat()]) == 0
    printed = capsys.readouterr().out
    assert "front_desk" in printed and "missed (<= 5%)" in printed and "at most 5%" in printed
    assert "no-show" in printed.lower()  # the appointment figures come first, as before
