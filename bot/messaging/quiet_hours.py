"""Quiet hours: the local hours in which automated texts may go out.

Reminders, recalls, waitlist offers (and any later automated text) share one
rule: a text goes out only inside the practice's window, ``[opens, closes)``
on the practice's wall clock; ``closes`` itself is already quiet, so with
``["08:00", "21:00"]`` a text due at 21:00 waits until 08:00 the next day.
The window is read on the wall clock of each day, so it is right on the
nights the clocks change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = ["SendingWindow", "sending_window", "wall_time"]


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at local ``at``; a time skipped by spring-forward comes out as the valid instant."""
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(timezone.utc).astimezone(zone)


@dataclass(frozen=True)
class SendingWindow:
    """Automated texts may go out from ``opens`` (inclusive) until ``closes`` (exclusive), local time."""

    opens: time
    closes: time
    zone: ZoneInfo

    def is_quiet(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone).time()
        return not (self.opens <= local < self.closes)

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` itself when texts may go out then, else when quiet hours end (UTC)."""
        local = moment.astimezone(self.zone)
        opens = wall_time(local.date(), self.opens, self.zone)
        closes = wall_time(local.date(), self.closes, self.zone)
        if local < opens:
            return opens.astimezone(timezone.utc)
        if local >= closes:
            return wall_time(local.date() + timedelta(days=1), self.opens, self.zone).astimezone(timezone.utc)
        return moment.astimezone(timezone.utc)


def _hhmm(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def sending_window(pair: list[str] | tuple[str, str], zone: ZoneInfo) -> SendingWindow:
    """The window from a practice's ``quiet_hours``, which may be written either way round.

    ``["08:00", "21:00"]`` (when texts may go out) and ``["21:00", "08:00"]`` (the
    quiet span) mean the same: texts between 08:00 and 21:00.
    """
    first, second = (_hhmm(t) for t in pair)
    return SendingWindow(opens=min(first, second), closes=max(first, second), zone=zone)
