"""Did the reminders work? Appointment outcomes and the weekly report.

Staff (or ``python -m bot appointments mark ID noshow``) record arrived,
fulfilled or no-show once the appointment has started
(:func:`bot.scheduling.booking.record_outcome`). ``python -m bot report`` prints, per
ISO week of the practice's calendar:

- appointments: not cancelled, starting that week;
- confirmation rate: of the appointments a reminder was sent for, the share
  the patient confirmed;
- no-show rate: no-shows among appointments with an outcome, overall, for
  those confirmed after a reminder, and for the rest;
- reminder texts stored that week: sent (handed to the outbox and not
  blocked), failed (Twilio refused or could not deliver), and phones that
  opted out that week.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.messaging.outbox import OutboundKind
from bot.messaging.reminders import APPOINTMENT, wall_time
from bot.models import (
    Appointment,
    AppointmentStatus,
    ChangedBy,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    OutboundMessage,
    OutboundStatus,
    Reminder,
    ReminderStatus,
)
from bot.practice import get_practice

FAILED = (OutboundStatus.FAILED, OutboundStatus.UNDELIVERED)
SEEN = (AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED, AppointmentStatus.NOSHOW)


@dataclass
class WeekFigures:
    week: str  # ISO week, "2027-W09"
    appointments: int = 0
    reminded: int = 0
    confirmed_after_reminder: int = 0
    with_outcome: int = 0
    noshows: int = 0
    confirmed_with_outcome: int = 0
    confirmed_noshows: int = 0
    reminder_texts: int = 0
    reminder_failed: int = 0
    opted_out: int = 0

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def confirmation_rate(self) -> float | None:
        return self._rate(self.confirmed_after_reminder, self.reminded)

    @property
    def noshow_rate(self) -> float | None:
        return self._rate(self.noshows, self.with_outcome)

    @property
    def noshow_rate_confirmed(self) -> float | None:
        return self._rate(self.confirmed_noshows, self.confirmed_with_outcome)

    @property
    def noshow_rate_unconfirmed(self) -> float | None:
        return self._rate(self.noshows - self.confirmed_noshows, self.with_outcome - self.confirmed_with_outcome)


def _week_of(moment: datetime, zone: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def weekly_report(session: Session, now: datetime, weeks: int = 8) -> list[WeekFigures]:
    """Figures for the ``weeks`` ISO weeks up to and including the one containing ``now``."""
    zone = ZoneInfo(get_practice(session).timezone)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    since = wall_time(monday, datetime.min.time(), zone)
    until = wall_time(today - timedelta(days=today.weekday()) + timedelta(days=7), datetime.min.time(), zone)
    figures: dict[str, WeekFigures] = {}

    def week(moment: datetime) -> WeekFigures:
        key = _week_of(moment, zone)
        return figures.setdefault(key, WeekFigures(key))

    for offset in range(weeks):
        week(since + timedelta(days=7 * offset + 3))
    reminded = {
        appointment_id: sent_at for appointment_id, sent_at in session.execute(
            select(Reminder.appointment_id, Reminder.sent_at)
            .where(Reminder.kind == APPOINTMENT, Reminder.status == ReminderStatus.SENT)
            .join(Appointment, Appointment.id == Reminder.appointment_id)
            .where(Appointment.start >= since, Appointment.start < until)
            .order_by(Reminder.sent_at.desc()))
    }
    for appt_id, start, status, confirmed_at in session.execute(
            select(Appointment.id, Appointment.start, Appointment.status, Appointment.confirmed_at)
            .where(Appointment.start >= since, Appointment.start < until,
                   Appointment.status != AppointmentStatus.CANCELLED)):
        row = week(start)
        row.appointments += 1
        was_reminded = appt_id in reminded
        confirmed = was_reminded and confirmed_at is not None and confirmed_at >= reminded[appt_id]
        row.reminded += was_reminded
        row.confirmed_after_reminder += confirmed
        if status in SEEN:
            row.with_outcome += 1
            row.noshows += status == AppointmentStatus.NOSHOW
            row.confirmed_with_outcome += confirmed
            row.confirmed_noshows += confirmed and status == AppointmentStatus.NOSHOW
    for created_at, status in session.execute(
            select(OutboundMessage.created_at, OutboundMessage.status)
            .where(OutboundMessage.kind == OutboundKind.REMINDER, OutboundMessage.created_at >= since,
                   OutboundMessage.created_at < until, OutboundMessage.status != OutboundStatus.BLOCKED)):
        row = week(created_at)
        row.reminder_texts += 1
        row.reminder_failed += status in FAILED
    for (created_at,) in session.execute(
            select(ConsentRecord.created_at).where(ConsentRecord.status == ConsentStatus.OPTED_OUT,
                                                   ConsentRecord.purpose == ConsentPurpose.ALL.value,  # STOP
                                                   ConsentRecord.created_at >= since,
                                                   ConsentRecord.created_at < until)):
        week(created_at).opted_out += 1
    return [figures[key] for key in sorted(figures)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def format_report(rows: list[WeekFigures]) -> str:
    header = (f"{'week':<9} {'appts':>5} {'confirmed':>9} {'no-show':>7} {'ns conf.':>8} {'ns other':>8} "
              f"{'sent':>5} {'failed':>6} {'opt-outs':>8}")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row.week:<9} {row.appointments:>5} {_pct(row.confirmation_rate):>9} "
                     f"{_pct(row.noshow_rate):>7} {_pct(row.noshow_rate_confirmed):>8} "
                     f"{_pct(row.noshow_rate_unconfirmed):>8} {row.reminder_texts:>5} {row.reminder_failed:>6} "
                     f"{row.opted_out:>8}")
    lines.append("confirmed = confirmed after a reminder, of reminded appointments; "
                 "ns conf./ns other = no-show rate of those confirmed after a reminder / of the rest")
    return "\n".join(lines)


# --- Command line ------------------------------------------------------------------------

def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise SystemExit("--now needs a UTC offset, e.g. 2027-03-01T09:00-08:00")
    return moment


def _engine():
    from bot.db import engine_for
    from bot.settings import get_settings
    return engine_for(get_settings().database_url)


def _mark(args: argparse.Namespace) -> int:
    from bot.scheduling.booking import record_outcome
    with transaction(_engine()) as session:
        try:
            appointment = record_outcome(session, args.appointment_id, AppointmentStatus(args.outcome),
                                         now=_now(args.now), changed_by=ChangedBy.STAFF)
        except (LookupError, ValueError) as exc:
            print(f"error: {exc}")
            return 1
        print(f"appointment {appointment.id}: {appointment.status.value}")
    return 0


def _report(args: argparse.Namespace) -> int:
    with Session(_engine(), future=True) as session:
        print(format_report(weekly_report(session, _now(args.now), args.weeks)))
    return 0


def register_cli(subparsers) -> None:
    """Add ``appointments mark ID arrived|fulfilled|noshow`` and ``report`` to ``python -m bot``."""
    appointments = subparsers.add_parser("appointments", help="record what happened to appointments")
    commands = appointments.add_subparsers(dest="appointments_command", required=True)
    mark = commands.add_parser("mark", help="mark an appointment arrived, fulfilled or noshow (after its start)")
    mark.add_argument("appointment_id", type=int)
    mark.add_argument("outcome", choices=[s.value for s in SEEN])
    mark.add_argument("--now", help="pretend it is this time (ISO 8601 with offset)")
    mark.set_defaults(func=_mark)
    report = subparsers.add_parser("report", help="weekly confirmation and no-show rates, reminders sent")
    report.add_argument("--weeks", type=int, default=8)
    report.add_argument("--now", help="report as of this time (ISO 8601 with offset)")
    report.set_defaults(func=_report)
