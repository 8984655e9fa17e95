"""Appointment reminders: the practice's rules, the plan, the texts, and what the last one named.

The schedule comes from ``Practice.config["reminders"]``::

    offsets: [2d, 2h]              # before the appointment; per type: by_type: {annual_physical: [7d, 2d]}
    quiet_hours: ["08:00", "21:00"] # texts go out only between these local times
    max_per_day: 1                 # automated texts (reminder, recall, waitlist) per phone per local day
    max_per_week: 3                # ... and per rolling 7 days

Day and week offsets are counted on the practice's wall clock (a 2d reminder
for a 9:00 visit is due at 9:00 two days before, also across a daylight-saving
change); hour and minute offsets are elapsed time. A reminder due in quiet
hours goes out when they end, or is dropped when that is not before the
appointment. :func:`plan_reminders` writes one ``Reminder`` row per
appointment and offset (the unique constraint makes re-planning harmless),
reading only the appointments marked as new or changed since its last pass;
the worker (:mod:`workers.reminder_worker`) claims due rows per phone and calls
:func:`deliver_appointment_reminders`, which re-checks everything at send time.
"""
from __future__ import annotations

import json
import logging
import re
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from bot import wording
from bot.messaging import consent, wrong_number
from bot.messaging.outbox import CAPPED_KINDS, enqueue_text
from bot.messaging.quiet_hours import SendingWindow, sending_window, wall_time
from bot.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    ConsentPurpose,
    OutboundMessage,
    OutboundStatus,
    Patient,
    Practice,
    Reminder,
    ReminderPlanning,
    ReminderStatus,
)
from bot.patients import language_for_phone
from bot.practice import get_practice
from bot.privacy import mask_phone
from bot.wording.texts import SMS_LIMIT, gsm7_length, plain_text

logger = logging.getLogger(__name__)

APPOINTMENT = "appointment"

DEFAULTS: dict[str, Any] = {
    "offsets": ["2d", "2h"],
    "quiet_hours": ["08:00", "21:00"],
    "max_per_day": 1,
    "max_per_week": 3,
}

_OFFSET = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$")


# --- Rules ------------------------------------------------------------------------

def parse_offset(text: str) -> tuple[int, str]:
    """"2d" -> (2, "d"). Units: w(eeks), d(ays), h(ours), m(inutes)."""
    match = _OFFSET.match(str(text))
    if not match:
        raise ValueError(f"reminder offset {text!r} must look like 7d, 2d, 2h or 30m")
    return int(match.group(1)), match.group(2)


@dataclass(frozen=True)
class ReminderRules:
    """The practice's reminder schedule and limits, read once per run."""

    zone: ZoneInfo
    offsets: tuple[str, ...]
    by_type: dict[str, tuple[str, ...]]
    window_start: time  # texts allowed from ...
    window_end: time    # ... until (exclusive)
    max_per_day: int
    max_per_week: int

    def offsets_for(self, type_key: str) -> tuple[str, ...]:
        return self.by_type.get(type_key, self.offsets)

    def due_at(self, start: datetime, offset: str) -> datetime:
        """When the ``offset`` reminder of an appointment at ``start`` is due."""
        amount, unit = parse_offset(offset)
        if unit in ("d", "w"):
            local = start.astimezone(self.zone)
            day = local.date() - timedelta(days=amount * (7 if unit == "w" else 1))
            return wall_time(day, local.timetz().replace(tzinfo=None), self.zone).astimezone(timezone.utc)
        return (start - timedelta(hours=amount if unit == "h" else 0,
                                  minutes=amount if unit == "m" else 0)).astimezone(timezone.utc)

    @property
    def window(self) -> SendingWindow:
        return SendingWindow(self.window_start, self.window_end, self.zone)

    def in_quiet_hours(self, moment: datetime) -> bool:
        return self.window.is_quiet(moment)

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` itself when texts are allowed then, else when quiet hours end (UTC)."""
        return self.window.next_allowed(moment)

    def local_midnight(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone)
        return wall_time(local.date(), time(0, 0), self.zone)


def rules_for(practice: Practice) -> ReminderRules:
    """The practice's reminder rules; ``quiet_hours`` may be given either way round.

    ``["08:00", "21:00"]`` (the window texts may go out) and ``["21:00", "08:00"]``
    (the quiet span) mean the same thing: texts between 08:00 and 21:00.
    """
    config = {**DEFAULTS, **((practice.config or {}).get("reminders") or {})}
    offsets = tuple(str(o) for o in config["offsets"])
    by_type = {str(k): tuple(str(o) for o in v) for k, v in (config.get("by_type") or {}).items()}
    for offset in offsets + tuple(o for v in by_type.values() for o in v):
        parse_offset(offset)
    window = sending_window(config["quiet_hours"], ZoneInfo(practice.timezone))
    return ReminderRules(
        zone=window.zone,
        offsets=offsets,
        by_type=by_type,
        window_start=window.opens,
        window_end=window.closes,
        max_per_day=int(config["max_per_day"]),
        max_per_week=int(config["max_per_week"]),
    )


def automated_texts_since(session: Session, phone: str, since: datetime) -> int:
    """Automated texts stored for ``phone`` since ``since`` (blocked ones were never sent)."""
    return session.execute(
        select(func.count(OutboundMessage.id)).where(
            OutboundMessage.phone == phone,
            OutboundMessage.kind.in_(CAPPED_KINDS),
            OutboundMessage.status != OutboundStatus.BLOCKED,
            OutboundMessage.created_at >= since,
        )
    ).scalar_one()


def why_not_now(session: Session, phone: str, now: datetime, rules: ReminderRules,
                purpose: ConsentPurpose = ConsentPurpose.CARE) -> str | None:
    """None when an automated text of ``purpose`` may go to ``phone`` now, else the reason it may not.

    Reasons: ``opted out`` (of ``purpose``), ``quiet hours``, ``daily cap``, ``weekly cap``.
    """
    if not consent.allows(session, phone, purpose):
        return "opted out"
    if rules.in_quiet_hours(now):
        return "quiet hours"
    if automated_texts_since(session, phone, rules.local_midnight(now)) >= rules.max_per_day:
        return "daily cap"
    if automated_texts_since(session, phone, now - timedelta(days=7)) >= rules.max_per_week:
        return "weekly cap"
    return None


# --- Texts --------------------------------------------------------------------------

def reminder_text(practice: Practice, appointments: Sequence[Appointment], language: str | None = None) -> list[str]:
    """The reminder text(s) for one phone, in ``language``: one text, listing each appointment when several.

    Only first name, date, time, provider and address: never the visit's type
    or reason. A family list too long for 320 GSM-7 characters is split.
    """
    zone = ZoneInfo(practice.timezone)
    say = wording.words(language)
    facts = {"practice_name": practice.name, "address": practice.address}
    if len(appointments) == 1:
        appt = appointments[0]
        return [plain_text(wording.render("reminder", language, first_name=appt.patient.first_name,
                                          appointment=wording.describe_slot(appt, zone, language), **facts))]
    items = [say.reminder_item(appt.patient.first_name, wording.describe_slot(appt, zone, language))
             for appt in sorted(appointments, key=lambda a: (a.start, a.id))]

    def family(chunk: list[str]) -> str:
        return plain_text(wording.render("reminder_family", language, appointments=say.listing(chunk), **facts))

    texts, chunk = [], []
    for item in items:
        candidate = family(chunk + [item])
        if chunk and (gsm7_length(candidate) or len(candidate) * 2) > SMS_LIMIT:
            texts.append(family(chunk))
            chunk = []
        chunk.append(item)
    texts.append(family(chunk))
    return texts


# --- Planning -------------------------------------------------------------------------

@dataclass
class PlanResult:
    planned: int = 0
    dropped: int = 0
    skipped: int = 0
    moved: int = 0
    withdrawn: int = 0   # planned reminders of an offset the schedule no longer has
    examined: int = 0    # appointments this pass read: the new and changed ones, not the whole horizon
    replanned_all: bool = False  # the practice's schedule changed, so every booked appointment ahead was marked

    def __str__(self) -> str:
        return (f"{self.planned} planned, {self.dropped} dropped, {self.skipped} skipped, {self.moved} moved, "
                f"{self.withdrawn} withdrawn of {self.examined} appointments examined"
                + (" (schedule changed: all replanned)" if self.replanned_all else ""))


def _chunks(items: Sequence, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _insert_ignoring_duplicates(session: Session, rows: list[dict], table=Reminder.__table__) -> None:
    """Insert reminder (or ``table``) rows; a row a unique constraint already holds is left alone.

    On SQLite the rows go straight to the driver's ``executemany``, each
    distinct value converted once: SQLAlchemy 1.4 converts every datetime of
    every row, which was most of a first plan's time. PostgreSQL keeps
    SQLAlchemy's path (psycopg2's batched ``execute_values``).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        raise RuntimeError(f"unsupported database {dialect.name}")
    statement = insert(table).on_conflict_do_nothing()
    if dialect.name == "sqlite":
        compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
        keys = compiled.positiontup
        convert = {key: _converted_once(table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys}
        connection = session.connection()
        for chunk in _chunks(rows):
            connection.exec_driver_sql(compiled.string, [tuple(convert[k](row[k]) for k in keys) for row in chunk])
        return
    for chunk in _chunks(rows):
        session.execute(statement, chunk)


def _all_rows(session: Session, statement) -> list:
    """``session.execute(statement).all()``; on SQLite through the driver, each distinct value converted once.

    Same reason as :func:`_insert_ignoring_duplicates`: a first plan reads
    every appointment ahead, and SQLAlchemy 1.4 parses each row's datetimes.
    """
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return session.execute(statement).all()
    compiled = statement.compile(dialect=dialect)
    values = compiled.construct_params()
    params = tuple(_converted_once(compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect))(values[key])
                   for key in compiled.positiontup)
    columns = list(statement.selected_columns)
    row = namedtuple("Row", [column.key for column in columns])
    convert = [_converted_once(column.type.dialect_impl(dialect).result_processor(dialect, None)) for column in columns]
    return [row(*(f(value) for f, value in zip(convert, raw)))
            for raw in session.connection().exec_driver_sql(compiled.string, params)]


def _converted_once(processor):
    """``processor`` (a column type's conversion for the driver), remembering each value's result."""
    if processor is None:
        return lambda value: value
    seen: dict = {}

    def convert(value):
        if value not in seen:
            seen[value] = processor(value)
        return seen[value]
    return convert


def schedule_times(rules: ReminderRules, start: datetime, offset: str) -> tuple[datetime, datetime, bool]:
    """(due_at, send_at, dropped) for one offset of an appointment at ``start``."""
    due = rules.due_at(start, offset)
    send = rules.next_allowed(due)
    return due, send, send >= start


def planned_schedule(rules: ReminderRules) -> str:
    """What the rows planning writes depend on, as JSON; the caps are read at send time and are not in it."""
    return json.dumps({"zone": rules.zone.key, "offsets": list(rules.offsets),
                       "by_type": {k: list(v) for k, v in sorted(rules.by_type.items())},
                       "window": [rules.window_start.isoformat(), rules.window_end.isoformat()]}, sort_keys=True)


def _lock_planning(session: Session, rules: ReminderRules, now: datetime) -> bool:
    """Take the planners' lock; when the schedule differs from the last pass's, mark every booked appointment ahead.

    Returns whether it did. The row is created here if a database predates it.
    """
    def locked() -> ReminderPlanning | None:
        return session.execute(select(ReminderPlanning).where(ReminderPlanning.id == 1).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one_or_none()

    state = locked()
    if state is None:
        _insert_ignoring_duplicates(session, [{"id": 1, "schedule": None}], ReminderPlanning.__table__)
        state = locked()
    schedule = planned_schedule(rules)
    if state.schedule == schedule:
        return False
    session.execute(
        update(Appointment)
        .where(Appointment.status == AppointmentStatus.BOOKED, Appointment.start > now,
               Appointment.needs_planning.is_(False))
        .values(needs_planning=True).execution_options(synchronize_session=False))
    state.schedule = schedule
    return True


def plan_reminders(session: Session, now: datetime, horizon_days: int = 14) -> PlanResult:
    """Create the reminder rows of every booked appointment starting within ``horizon_days`` that needs them.

    Only appointments marked ``needs_planning`` are read: every insert and
    update of an appointment marks it (:attr:`Appointment.needs_planning`),
    and this pass clears the mark of each one it planned. A marked appointment
    beyond the horizon keeps its mark, so it is planned when time brings it
    within; a change of the practice's schedule marks every booked
    appointment ahead (:func:`_lock_planning`). The marked rows are read
    ``FOR UPDATE`` (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` holds every
    writer off already), so a change committed while the pass runs waits for
    it and leaves its mark for the next pass. The marks of what it read are
    cleared by id, never by a condition that could catch a row it did not
    read (only a started appointment's mark is dropped unread). Raw SQL
    that changes ``start``, ``status`` or ``appointment_type_id`` must set
    ``needs_planning = true`` itself.

    Idempotent: run it as often as you like (the worker runs it every cycle).
    A planned reminder whose appointment moved is re-timed; one whose offset
    left the schedule is withdrawn (skipped); a reminder already past due for
    an appointment booked after that time is stored as skipped (the booking
    itself told the patient).
    """
    practice = get_practice(session)
    rules = rules_for(practice)
    result = PlanResult()
    result.replanned_all = _lock_planning(session, rules, now)
    # An appointment that has started gets no reminders: its mark has nothing left to ask for.
    session.execute(
        update(Appointment).where(Appointment.needs_planning.is_(True), Appointment.start <= now)
        .values(needs_planning=False).execution_options(synchronize_session=False))
    marked = _all_rows(session,
        select(Appointment.id, Appointment.patient_id, Patient.phone, Appointment.start, Appointment.created_at,
               Appointment.status, AppointmentType.key)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Appointment.needs_planning.is_(True),
               Appointment.start > now,
               Appointment.start <= now + timedelta(days=horizon_days))
        .order_by(Appointment.id)
        .with_for_update(of=Appointment))
    result.examined = len(marked)
    if not marked:
        return result
    for ids in _chunks([row.id for row in marked]):
        session.execute(update(Appointment).where(Appointment.id.in_(ids)).values(needs_planning=False)
                        .execution_options(synchronize_session=False))
    booked = [row for row in marked if row.status == AppointmentStatus.BOOKED]
    existing: dict[int, dict[str, Any]] = {}
    for ids in _chunks([row.id for row in booked]):
        for row in session.execute(
            select(Reminder.id, Reminder.appointment_id, Reminder.offset_key, Reminder.due_at, Reminder.send_at,
                   Reminder.status)
            .where(Reminder.kind == APPOINTMENT, Reminder.appointment_id.in_(ids))
        ):
            existing.setdefault(row.appointment_id, {})[row.offset_key] = row
    new_rows: list[dict] = []
    retimed: list[dict] = []  # planned rows of a moved appointment, or of an offset the schedule dropped
    times: dict[tuple[datetime, str], tuple[datetime, datetime, bool]] = {}  # visits share start times
    for appt_id, patient_id, phone, start, created_at, _status, type_key in booked:
        offsets = rules.offsets_for(type_key)
        old_rows = existing.get(appt_id, {})
        for offset, old in old_rows.items():
            if offset not in offsets and old.status == ReminderStatus.PLANNED:
                retimed.append(dict(b_id=old.id, b_due=old.due_at, b_send=old.send_at, b_status=ReminderStatus.SKIPPED,
                                    b_reason="no longer in the practice's reminder schedule"))
                result.withdrawn += 1
        for offset in offsets:
            if (start, offset) not in times:
                times[start, offset] = schedule_times(rules, start, offset)
            due, send, dropped = times[start, offset]
            old = old_rows.get(offset)
            if old is not None:
                if old.status == ReminderStatus.PLANNED and old.due_at != due:
                    retimed.append(dict(b_id=old.id, b_due=due, b_send=send,
                                        b_status=ReminderStatus.DROPPED if dropped else ReminderStatus.PLANNED,
                                        b_reason="quiet hours until the appointment" if dropped else None))
                    result.moved += 1
                continue
            status, reason = ReminderStatus.PLANNED, None
            if dropped:
                status, reason = ReminderStatus.DROPPED, "quiet hours until the appointment"
                result.dropped += 1
            elif due < now and created_at is not None and created_at > due:
                status, reason = ReminderStatus.SKIPPED, "booked after this reminder was due"
                result.skipped += 1
            else:
                result.planned += 1
            new_rows.append(dict(kind=APPOINTMENT, appointment_id=appt_id, patient_id=patient_id, phone=phone,
                                 offset_key=offset, due_at=due, send_at=send, status=status.value, reason=reason))
    if retimed:  # a row a worker claimed meanwhile is left to the send-time checks
        session.execute(update(Reminder.__table__)
                        .where(Reminder.id == bindparam("b_id"), Reminder.status == ReminderStatus.PLANNED)
                        .values(due_at=bindparam("b_due"), send_at=bindparam("b_send"),
                                status=bindparam("b_status"), reason=bindparam("b_reason")), retimed)
    _insert_ignoring_duplicates(session, new_rows)
    return result


# --- Sending (called by the worker with the phone's due rows claimed) --------------------

@dataclass
class Delivery:
    """What happened to one phone's claimed reminders."""

    sent: list[Reminder] = field(default_factory=list)
    skipped: list[Reminder] = field(default_factory=list)
    deferred: list[Reminder] = field(default_factory=list)
    texts: list[OutboundMessage] = field(default_factory=list)


def skip(reminder: Reminder, reason: str, status: ReminderStatus = ReminderStatus.SKIPPED) -> None:
    reminder.status = status
    reminder.reason = reason


def defer(reminder: Reminder, until: datetime) -> None:
    """Back to planned, for a later time (the claim is released)."""
    reminder.status = ReminderStatus.PLANNED
    reminder.send_at = until
    reminder.claimed_by = None
    reminder.claimed_at = None


def deliver_appointment_reminders(
    session: Session, phone: str, reminders: Sequence[Reminder], now: datetime, rules: ReminderRules,
    practice: Practice | None = None,
) -> Delivery:
    """Send one phone's claimed appointment reminders as one text, or say why not.

    Re-checked here, at send time: the appointment is still booked and ahead,
    the reminder's time still matches it (else it is re-timed), the phone has
    not opted out, quiet hours, and the caps. Over a cap the reminder is
    skipped with the reason (not deferred: a late reminder for a near visit
    helps nobody, and the other offset still goes). Several appointments on
    one phone (a family) become one text that counts once against the caps.
    """
    practice = practice or get_practice(session)
    outcome = Delivery()
    sendable: list[Reminder] = []
    for reminder in reminders:
        appt = session.get(Appointment, reminder.appointment_id)
        if appt is None or appt.status != AppointmentStatus.BOOKED:
            skip(reminder, f"appointment {appt.status.value if appt else 'deleted'}")
            outcome.skipped.append(reminder)
            continue
        if appt.start <= now:
            skip(reminder, "appointment already started")
            outcome.skipped.append(reminder)
            continue
        if wrong_number.automated_texts_stopped(session, phone, appt.patient_id):
            skip(reminder, wrong_number.WRONG_NUMBER)
            outcome.skipped.append(reminder)
            continue
        if appt.confirmed_at is not None:  # the text asks for a C the patient already sent
            skip(reminder, "appointment already confirmed")
            outcome.skipped.append(reminder)
            continue
        due, send, dropped = schedule_times(rules, appt.start, reminder.offset_key)
        if due != reminder.due_at:  # moved since planning
            reminder.due_at = due
            if dropped:
                skip(reminder, "quiet hours until the appointment", ReminderStatus.DROPPED)
                outcome.skipped.append(reminder)
            elif send > now:
                defer(reminder, send)
                outcome.deferred.append(reminder)
            else:
                sendable.append(reminder)
            continue
        sendable.append(reminder)
    if not sendable:
        return outcome
    reason = why_not_now(session, phone, now, rules)
    if reason == "quiet hours":
        for reminder in sendable:
            appt = session.get(Appointment, reminder.appointment_id)
            later = rules.next_allowed(now)
            if later >= appt.start:
                skip(reminder, "quiet hours until the appointment", ReminderStatus.DROPPED)
                outcome.skipped.append(reminder)
            else:
                defer(reminder, later)
                outcome.deferred.append(reminder)
        return outcome
    if reason is not None:
        for reminder in sendable:
            skip(reminder, reason)
            outcome.skipped.append(reminder)
        logger.info("reminders to %s skipped: %s", mask_phone(phone), reason)
        return outcome
    # One appointment is named once, even if two of its offsets fell due together.
    by_appointment: dict[int, list[Reminder]] = {}
    for reminder in sendable:
        by_appointment.setdefault(reminder.appointment_id, []).append(reminder)
    appointments = [session.get(Appointment, appt_id) for appt_id in by_appointment]
    bodies = reminder_text(practice, appointments, language_for_phone(session, phone))
    texts = [enqueue_text(session, phone, body, "reminder", now) for body in bodies]
    for reminder in sendable:
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = now
        reminder.outbound_id = texts[0].id
        reminder.reason = None
    outcome.sent.extend(sendable)
    outcome.texts.extend(texts)
    return outcome


# --- What the conversation needs -----------------------------------------------------------

def last_reminder_text(session: Session, phone: str, now: datetime,
                       within: timedelta = timedelta(days=3)) -> int | None:
    """The outbox id of the newest appointment reminder sent to ``phone`` within ``within``."""
    return session.execute(
        select(Reminder.outbound_id)
        .where(Reminder.phone == phone, Reminder.kind == APPOINTMENT, Reminder.status == ReminderStatus.SENT,
               Reminder.sent_at >= now - within, Reminder.sent_at <= now, Reminder.outbound_id.is_not(None))
        .order_by(Reminder.sent_at.desc(), Reminder.id.desc()).limit(1)
    ).scalar_one_or_none()


def last_reminded_appointments(session: Session, phone: str, now: datetime,
                               within: timedelta = timedelta(days=3)) -> list[Appointment]:
    """The appointments the newest reminder to ``phone`` named, still booked and ahead.

    "C" after a reminder confirms exactly these; "R" reschedules them. A
    family reminder names several (ordered by start). Empty when no reminder
    was sent within ``within`` or its appointments were cancelled or are over.
    """
    outbound_id = last_reminder_text(session, phone, now, within)
    if outbound_id is None:
        return []
    return list(session.execute(
        select(Appointment).join(Reminder, Reminder.appointment_id == Appointment.id)
        .where(Reminder.outbound_id == outbound_id, Reminder.kind == APPOINTMENT,
               Appointment.status.in_((AppointmentStatus.BOOKED, AppointmentStatus.PENDING)),
               Appointment.start > now)
        .order_by(Appointment.start, Appointment.id).distinct()
    ).scalars())
