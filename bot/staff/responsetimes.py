"""How fast the staff answer: first-response and resolution time per ticket, per queue and week.

Times are wall-clock durations from the ticket's opening (the patient was
waiting the whole time, office closed or not). "Within goal" compares the
first staff reply with the ticket's ``due_at``, the answer time promised to the
patient, which already counts business hours only.

A ticket belongs to the ISO week (in the practice's zone) in which it was
opened. Percentiles interpolate linearly between the closest ranks (the
median of 4 values is the mean of the middle two; the 90th percentile of
1..10 minutes is 9.1 minutes). The share within goal counts answered tickets
and unanswered ones already past due; an unanswered ticket not yet due is
still undecided and left out.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import HandoffTicket


@dataclass(frozen=True)
class TicketTimes:
    ticket_id: int
    queue: str
    created_at: datetime
    due_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None

    @property
    def first_response(self) -> timedelta | None:
        return None if self.first_response_at is None else self.first_response_at - self.created_at

    @property
    def resolution(self) -> timedelta | None:
        return None if self.resolved_at is None else self.resolved_at - self.created_at

    def within_goal(self, now: datetime) -> bool | None:
        """True/False once decided; None while unanswered and not yet due."""
        if self.first_response_at is not None:
            return self.first_response_at <= self.due_at
        return False if now > self.due_at else None


@dataclass(frozen=True)
class QueueWeek:
    """One queue's figures for one ISO week (e.g. ``2027-W09``)."""

    queue: str
    week: str
    tickets: int
    answered: int
    resolved: int
    median_first_response: timedelta | None
    p90_first_response: timedelta | None
    median_resolution: timedelta | None
    p90_resolution: timedelta | None
    within_goal: int
    decided: int

    @property
    def within_goal_share(self) -> float | None:
        return None if self.decided == 0 else self.within_goal / self.decided


def percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight


def iso_week(moment: datetime, zone: tzinfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def summarize(times: list[TicketTimes], zone: tzinfo, now: datetime) -> list[QueueWeek]:
    """Figures per (queue, week), sorted by week then queue."""
    groups: dict[tuple[str, str], list[TicketTimes]] = defaultdict(list)
    for item in times:
        groups[(item.queue, iso_week(item.created_at, zone))].append(item)
    rows = []
    for (queue, week), items in groups.items():
        first = [t.first_response for t in items if t.first_response is not None]
        resolution = [t.resolution for t in items if t.resolution is not None]
        decided = [d for d in (t.within_goal(now) for t in items) if d is not None]
        rows.append(QueueWeek(
            queue=queue,
            week=week,
            tickets=len(items),
            answered=len(first),
            resolved=len(resolution),
            median_first_response=percentile(first, 0.5),
            p90_first_response=percentile(first, 0.9),
            median_resolution=percentile(resolution, 0.5),
            p90_resolution=percentile(resolution, 0.9),
            within_goal=sum(decided),
            decided=len(decided),
        ))
    return sorted(rows, key=lambda r: (r.week, r.queue))


def ticket_times(session: Session, since: datetime, until: datetime,
                 queues: tuple[str, ...] | None = None) -> list[TicketTimes]:
    """Tickets opened in [since, until), optionally only in ``queues``."""
    query = select(HandoffTicket).where(HandoffTicket.created_at >= since, HandoffTicket.created_at < until)
    if queues is not None:
        query = query.where(HandoffTicket.queue.in_(queues))
    return [
        TicketTimes(t.id, t.queue, t.created_at, t.due_at, t.first_response_at, t.resolved_at)
        for t in session.execute(query.order_by(HandoffTicket.created_at)).scalars()
    ]


def weekly_report(session: Session, zone: tzinfo, now: datetime, weeks: int = 8,
                  queues: tuple[str, ...] | None = None) -> list[QueueWeek]:
    """The last ``weeks`` ISO weeks up to and including the current one."""
    local = now.astimezone(zone)
    monday = datetime.combine((local - timedelta(days=local.weekday())).date(), datetime.min.time(), tzinfo=zone)
    since = datetime.combine((monday - timedelta(weeks=weeks - 1)).date(), datetime.min.time(), tzinfo=zone)
    return summarize(ticket_times(session, since, now + timedelta(seconds=1), queues), zone, now)


def format_duration(value: timedelta | None) -> str:
    """1 h 05 min, 42 min, 2 d 3 h; an em dash for no value."""
    if value is None:
        return "—"
    minutes = int(round(value.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
