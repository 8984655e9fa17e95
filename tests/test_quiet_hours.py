"""Quiet hours on their own: the window is [opens, closes) on the practice's wall clock, also when the clocks change."""
from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.messaging.quiet_hours import SendingWindow, sending_window, wall_time

ZONE = ZoneInfo("America/Los_Angeles")
WINDOW = SendingWindow(time(8, 0), time(21, 0), ZONE)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


@pytest.mark.parametrize("moment, quiet", [
    (local(2027, 3, 2, 7, 59), True), (local(2027, 3, 2, 8, 0), False), (local(2027, 3, 2, 20, 59), False),
    (local(2027, 3, 2, 21, 0), True), (local(2027, 3, 2, 21, 30), True), (local(2027, 3, 2, 0, 0), True),
])
def test_the_window_opens_at_eight_and_nine_pm_is_already_quiet(moment, quiet):
    assert WINDOW.is_quiet(moment) is quiet
    assert WINDOW.is_quiet(moment.astimezone(timezone.utc)) is quiet  # the same instant in UTC


@pytest.mark.parametrize("moment, allowed", [
    (local(2027, 3, 2, 20, 59), local(2027, 3, 2, 20, 59)),
    (local(2027, 3, 2, 21, 0), local(2027, 3, 3, 8, 0)),
    (local(2027, 3, 2, 23, 59), local(2027, 3, 3, 8, 0)),
    (local(2027, 3, 3, 6, 0), local(2027, 3, 3, 8, 0)),
    (local(2026, 10, 31, 21, 0), local(2026, 11, 1, 8, 0)),   # fall back that night: 8:00 PST
    (local(2027, 3, 13, 21, 0), local(2027, 3, 14, 8, 0)),    # spring forward that night: 8:00 PDT
    (local(2026, 11, 1, 1, 30), local(2026, 11, 1, 8, 0)),    # inside the repeated hour
])
def test_next_allowed_is_now_inside_the_window_else_eight_the_next_morning(moment, allowed):
    result = WINDOW.next_allowed(moment)
    assert result == allowed and result.tzinfo == timezone.utc
    assert result.astimezone(ZONE).hour == allowed.hour


def test_the_practice_may_write_the_window_either_way_round():
    assert sending_window(["08:00", "21:00"], ZONE) == sending_window(["21:00", "08:00"], ZONE) == WINDOW


def test_a_wall_time_skipped_by_spring_forward_is_the_valid_instant():
    assert wall_time(datetime(2027, 3, 14).date(), time(2, 30), ZONE) == local(2027, 3, 14, 3, 30)


def test_minutes_of_the_window_count():
    window = sending_window(["08:30", "20:45"], ZONE)
    assert window.is_quiet(local(2027, 3, 2, 8, 29)) and not window.is_quiet(local(2027, 3, 2, 8, 30))
    assert not window.is_quiet(local(2027, 3, 2, 20, 44)) and window.is_quiet(local(2027, 3, 2, 20, 45))


def test_the_server_zone_does_not_matter(monkeypatch):
    """The machine may run in any zone: every answer is in the practice's zone or UTC, never the server's."""
    import time as time_module

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time_module.tzset()
    try:
        assert WINDOW.next_allowed(local(2027, 3, 2, 21, 0)).utcoffset().total_seconds() == 0
        assert WINDOW.next_allowed(local(2027, 3, 2, 6, 0)).utcoffset().total_seconds() == 0
        assert WINDOW.next_allowed(local(2027, 3, 2, 12, 0)).utcoffset().total_seconds() == 0
        assert wall_time(datetime(2027, 3, 2).date(), time(9, 0), ZONE).tzinfo == ZONE
        assert wall_time(datetime(2027, 3, 2).date(), time(9, 0), ZONE) == local(2027, 3, 2, 9, 0)
    finally:
        monkeypatch.undo()
        time_module.tzset()
