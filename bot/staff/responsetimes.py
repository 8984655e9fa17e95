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


# --- The figures practices compare: waiting in business time, against the goals -------------
#
# Artera's dashboard goal: at most 5 % of conversations waiting more than 1 business hour, none
# waiting more than 1 business day. A ticket waits from its opening until the first staff answer
# (until now while unanswered). Business time is office time (office hours, closed dates); a
# queue with ``goal_counts: wall_clock`` (the urgent queue, covered round the clock) counts plain
# time: more than 60 minutes, more than 24 hours. One business day is until the same time on the
# next open day (a ticket opened while closed starts at the next opening).

GOAL_OVER_HOUR_SHARE = 0.05
GOAL_OVER_DAY_SHARE = 0.0
UNASSIGNED = "(unassigned)"


@dataclass(frozen=True)
class QueueWeekFigures:
    """One queue's waiting figures for one ISO week, beside the goals."""

    queue: str
    week: str
    wall_clock: bool           # urgent: minutes round the clock, not business minutes
    tickets: int
    answered: int
    p50_first_response_minutes: float | None
    p90_first_response_minutes: float | None
    over_hour: int             # waited (or is waiting) more than 1 business hour
    over_day: int              # more than 1 business day
    per_owner: tuple[tuple[str, int], ...]  # tickets assigned to (claimed by) each staff member

    @property
    def over_hour_share(self) -> float:
        return self.over_hour / self.tickets if self.tickets else 0.0

    @property
    def over_day_share(self) -> float:
        return self.over_day / self.tickets if self.tickets else 0.0

    @property
    def meets_hour_goal(self) -> bool:
        return self.over_hour_share <= GOAL_OVER_HOUR_SHARE

    @property
    def meets_day_goal(self) -> bool:
        return self.over_day_share <= GOAL_OVER_DAY_SHARE


def _open_days(session: Session, practice, start: datetime, end: datetime):
    from bot.practice import iter_open_days, practice_zone

    zone = practice_zone(practice)
    first = start.astimezone(zone).date() - timedelta(days=1)
    days = (end.astimezone(zone).date() - first).days + 2
    return list(iter_open_days(session, practice, first, days))


def business_time_between(session: Session, practice, start: datetime, end: datetime) -> timedelta:
    """Office time between two moments (office hours on open days, closed dates left out)."""
    total = timedelta()
    for hours in _open_days(session, practice, start, end):
        overlap = min(end, hours.closes) - max(start, hours.opens)  # aware: compared as instants
        if overlap > timedelta():
            total += overlap
    return total


def one_business_day_after(session: Session, practice, start: datetime) -> datetime:
    """The same time on the next open day, counted from ``start`` or, when closed, the next opening."""
    from bot.staff.handoff import SEARCH_DAYS

    days = _open_days(session, practice, start, start + timedelta(days=SEARCH_DAYS))
    for index, hours in enumerate(days):
        if start < hours.closes and index + 1 < len(days):
            begin = max(start, hours.opens).astimezone(hours.opens.tzinfo)
            following = days[index + 1]
            same_time = datetime.combine(following.day, begin.time(), tzinfo=begin.tzinfo)
            return min(max(same_time, following.opens), following.closes)
    raise LookupError(f"no office hours in the next {SEARCH_DAYS} days")


def queue_figures(session: Session, now: datetime, weeks: int = 8,
                  queues: tuple[str, ...] | None = None) -> list[QueueWeekFigures]:
    """Per queue and ISO week (the last ``weeks`` up to now): first-response p50/p90, waits over 1 hour and 1 day."""
    from bot.models import StaffUser
    from bot.practice import get_practice, practice_zone
    from bot.staff.handoff import counts_wall_clock

    practice = get_practice(session)
    zone = practice_zone(practice)
    local = now.astimezone(zone)
    monday = datetime.combine((local - timedelta(days=local.weekday())).date(), datetime.min.time(), tzinfo=zone)
    since = datetime.combine((monday - timedelta(weeks=weeks - 1)).date(), datetime.min.time(), tzinfo=zone)
    query = select(HandoffTicket).where(HandoffTicket.created_at >= since, HandoffTicket.created_at <= now)
    if queues is not None:
        query = query.where(HandoffTicket.queue.in_(queues))
    names = dict(session.execute(select(StaffUser.id, StaffUser.display_name)).all())
    config = practice.config.get("queues") or {}
    groups: dict[tuple[str, str], list[HandoffTicket]] = defaultdict(list)
    for ticket in session.execute(query.order_by(HandoffTicket.created_at)).scalars():
        groups[(ticket.queue, iso_week(ticket.created_at, zone))].append(ticket)
    rows = []
    for (queue, week), tickets in groups.items():
        wall_clock = counts_wall_clock(config.get(queue) or {})
        first, over_hour, over_day, owners = [], 0, 0, defaultdict(int)
        for ticket in tickets:
            until = ticket.first_response_at or now
            if wall_clock:
                waited, late_by_a_day = until - ticket.created_at, until - ticket.created_at > timedelta(hours=24)
            else:
                waited = business_time_between(session, practice, ticket.created_at, until)
                late_by_a_day = until > one_business_day_after(session, practice, ticket.created_at)
            if ticket.first_response_at is not None:
                first.append(waited)
            over_hour += waited > timedelta(hours=1)
            over_day += late_by_a_day
            owners[names.get(ticket.claimed_by, UNASSIGNED) if ticket.claimed_by else UNASSIGNED] += 1
        p50, p90 = percentile(first, 0.5), percentile(first, 0.9)
        rows.append(QueueWeekFigures(
            queue=queue, week=week, wall_clock=wall_clock, tickets=len(tickets), answered=len(first),
            p50_first_response_minutes=None if p50 is None else p50.total_seconds() / 60,
            p90_first_response_minutes=None if p90 is None else p90.total_seconds() / 60,
            over_hour=over_hour, over_day=over_day, per_owner=tuple(sorted(owners.items())),
        ))
    return sorted(rows, key=lambda r: (r.week, r.queue))


FIGURE_COLUMNS = ("week", "queue", "counted_in", "tickets", "answered", "p50_first_response_min",
                  "p90_first_response_min", "over_1_hour_pct", "over_1_hour_goal", "over_1_day_pct",
                  "over_1_day_goal", "tickets_per_owner")


def figures_table(rows: list[QueueWeekFigures]) -> list[tuple[str, ...]]:
    """The figures as plain cells under :data:`FIGURE_COLUMNS` (the CLI's table and CSV; the inbox's download)."""
    def minutes(value: float | None) -> str:
        return "" if value is None else f"{value:.0f}"

    return [(
        r.week, r.queue, "wall-clock minutes" if r.wall_clock else "business minutes", str(r.tickets),
        str(r.answered), minutes(r.p50_first_response_minutes), minutes(r.p90_first_response_minutes),
        f"{100 * r.over_hour_share:.1f}", "met (<= 5%)" if r.meets_hour_goal else "missed (<= 5%)",
        f"{100 * r.over_day_share:.1f}", "met (none)" if r.meets_day_goal else "missed (none)",
        "; ".join(f"{name}: {count}" for name, count in r.per_owner),
    ) for r in rows]
