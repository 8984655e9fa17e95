"""Open slots, booking, cancelling and moving appointments.

What a slot is: a start on the practice's ``slot_step_minutes`` grid of the
local wall clock, lasting the appointment type's ``minutes``, lying wholly
inside the office hours AND the provider's hours of that weekday, never on a
closed date, never sooner than ``min_lead_minutes`` from now, and never
overlapping an active (proposed, pending, booked) appointment of the provider.

What keeps two patients out of one slot is the database, not a check: a
booking inserts one :class:`SlotClaim` (primary key provider + step start) per
grid step the appointment covers, inside a SAVEPOINT. Whoever inserts second
gets an IntegrityError, which becomes :class:`SlotTaken`; the caller offers
other slots. Cancelling deletes the claims, so the time can be booked again.

Every status change appends an :class:`AppointmentChange` (when, by whom).
Local times are built with ``datetime.combine(day, t, tzinfo=zone)`` and
durations are added in UTC, so slots stay right across daylight-saving changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.language.dates.parts import PARTS, in_part
from bot.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    AppointmentType,
    ChangedBy,
    Practice,
    Provider,
    SlotClaim,
)
from bot.practice import WEEKDAYS, closed_days, get_practice, office_hours_on, practice_zone

__all__ = [
    "PARTS_OF_DAY", "DEFAULT_WINDOW_DAYS", "SlotTaken", "Slot", "find_open_slots", "book_appointment",
    "cancel_appointment", "reschedule_appointment", "confirm_appointment", "record_outcome", "record_note",
]

# The three parts a patient picks a slot by, on the clock the date parser uses (defined once there).
PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    name: (time(*divmod(PARTS[name][0], 60)), time(*divmod(PARTS[name][1], 60)))
    for name in ("morning", "afternoon", "evening")
}
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 366
# Front desks check patients in a little early; no-show and fulfilled wait for the start.
ARRIVAL_EARLY_MINUTES = 60
OUTCOME_STATUSES = (AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED, AppointmentStatus.NOSHOW)
UTC = timezone.utc


class SlotTaken(Exception):
    """The slot cannot be booked (any more): someone else got it, or it is no longer valid.

    ``reason`` says which, for logs and staff; a patient is simply offered other slots.
    """

    def __init__(self, reason: str = "slot taken"):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Slot:
    """A bookable time with one provider for one appointment type."""

    provider_id: int
    provider_name: str  # display name, "Dr. Patel"
    appointment_type_id: int
    start: datetime  # aware, in the practice's zone
    end: datetime


# --- Finding slots -------------------------------------------------------------------

def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _working_bounds(practice: Practice, provider: Provider, day: date,
                    closed: dict[date, str]) -> tuple[datetime, datetime] | None:
    """Where office hours and the provider's hours overlap on ``day`` (local, aware), or None."""
    office = office_hours_on(practice, day, closed)
    if office is None:
        return None
    own = next((h for h in provider.hours if h.weekday == day.weekday()), None)
    if own is None:
        return None
    zone = practice_zone(practice)
    opens = max(office.opens, datetime.combine(day, own.start, tzinfo=zone))
    closes = min(office.closes, datetime.combine(day, own.end, tzinfo=zone))
    return (opens, closes) if opens < closes else None


def _end_of(start: datetime, minutes: int, zone: tzinfo) -> datetime:
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(zone)


def _claim_steps(start: datetime, minutes: int, step: int) -> list[datetime]:
    """The UTC starts of the grid steps an appointment of ``minutes`` from ``start`` covers."""
    first = start.astimezone(UTC)
    return [first + timedelta(minutes=step * k) for k in range(-(-minutes // step))]


def _on_grid(local: datetime, step: int) -> bool:
    return local.second == 0 and local.microsecond == 0 and (local.hour * 60 + local.minute) % step == 0


def _busy_times(session: Session, provider_ids: list[int], lo: datetime, hi: datetime):
    """Active appointments (as intervals) and claimed steps of the providers between lo and hi."""
    intervals: dict[int, list[tuple[datetime, datetime]]] = {pid: [] for pid in provider_ids}
    rows = session.execute(
        select(Appointment.provider_id, Appointment.start, Appointment.end).where(
            Appointment.provider_id.in_(provider_ids),
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start < hi,
            Appointment.end > lo,
        )
    )
    for pid, start, end in rows:
        intervals[pid].append((start, end))
    claims = set(session.execute(
        select(SlotClaim.provider_id, SlotClaim.step_start).where(
            SlotClaim.provider_id.in_(provider_ids),
            SlotClaim.step_start >= lo,
            SlotClaim.step_start < hi,
        )
    ).all())
    return intervals, claims


def patient_visits_between(session: Session, patient_id: int, lo: datetime, hi: datetime,
                  moving_appointment_id: int | None = None) -> list[tuple[datetime, datetime]]:
    """The patient's own active appointments between lo and hi: nobody can be in two rooms at once.

    ``moving_appointment_id`` (the visit being rescheduled) does not count: its
    new time may overlap its old one.
    """
    query = select(Appointment.start, Appointment.end).where(
        Appointment.patient_id == patient_id,
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.start < hi,
        Appointment.end > lo,
    )
    if moving_appointment_id is not None:
        query = query.where(Appointment.id != moving_appointment_id)
    return [(start, end) for start, end in session.execute(query)]


def _part_of(local: datetime) -> str:
    for name, (lo, hi) in PARTS_OF_DAY.items():
        if lo <= local.time() < hi:
            return name
    return "other"


def _spread_pick(candidates: list[Slot], limit: int, zone: tzinfo) -> list[Slot]:
    """Choose ``limit`` slots from chronologically sorted candidates, preferring variety.

    The rule: round 1 takes at most one slot per day, earliest days first, and on
    each day the earliest slot in a part of day (morning/afternoon/evening) not
    yet offered, else the day's earliest. Only when the window has fewer days
    than ``limit`` (e.g. the patient named one day) does round 2 allow a second
    slot per day, round 3 a third..., each at least two hours from that day's
    other picks and preferably in another part of day. Anything still missing
    is filled with the earliest remaining slots. The result is in time order.
    """
    chosen: list[Slot] = []
    by_day: dict[date, list[Slot]] = {}
    for slot in candidates:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    parts_used: set[str] = set()

    def pick(day_slots: list[Slot], taken_today: list[Slot]) -> Slot | None:
        usable = [s for s in day_slots if s not in chosen and all(
            abs((s.start - t.start).total_seconds()) >= 2 * 3600 for t in taken_today)]
        if not usable:
            return None
        today_parts = {_part_of(t.start.astimezone(zone)) for t in taken_today}
        fresh = [s for s in usable if _part_of(s.start.astimezone(zone)) not in parts_used | today_parts]
        return (fresh or usable)[0]

    for per_day in range(1, limit + 1):
        for day, day_slots in by_day.items():
            if len(chosen) >= limit:
                break
            taken_today = [s for s in chosen if s.start.astimezone(zone).date() == day]
            if len(taken_today) >= per_day:
                continue
            slot = pick(day_slots, taken_today)
            if slot is not None:
                chosen.append(slot)
                parts_used.add(_part_of(slot.start.astimezone(zone)))
    for slot in candidates:
        if len(chosen) >= limit:
            break
        if slot not in chosen:
            chosen.append(slot)
    return sorted(chosen, key=lambda s: (s.start, s.provider_id))


def find_open_slots(
    session: Session,
    *,
    appointment_type_id: int,
    now: datetime,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    provider_id: int | None = None,
    part_of_day: str | None = None,
    each_day: tuple[int, int] | None = None,
    limit: int = 3,
    exclude: Iterable[tuple[int, datetime]] = (),
    spread: bool = True,
    patient_id: int | None = None,
    moving_appointment_id: int | None = None,
) -> list[Slot]:
    """Up to ``limit`` open slots whose start lies in [window_start, window_end).

    The window defaults to now .. 30 days ahead; ``part_of_day`` keeps starts in
    the morning (08-12), afternoon (12-17) or evening (17-21), and ``each_day`` (minutes after
    midnight, [from, to), as in :class:`bot.language.dates.When`; from == to: that minute) in that
    part of every day: a start at 12:00 is not in a morning, one at 15:00 not "before 3"; ``exclude`` lists
    (provider_id, start) pairs already offered. With ``patient_id`` no slot
    overlaps that patient's other visits (``moving_appointment_id``, the one
    being rescheduled, aside). With ``spread`` the choice follows
    :func:`_spread_pick`; without it the earliest slots come back.
    """
    for name, value in (("now", now), ("window_start", window_start), ("window_end", window_end)):
        if value is not None:
            _require_aware(value, name)
    if part_of_day is not None and part_of_day not in PARTS_OF_DAY:
        raise ValueError(f"unknown part of day {part_of_day!r}; use one of {sorted(PARTS_OF_DAY)}")
    practice = get_practice(session)
    zone = practice_zone(practice)
    kind = session.get(AppointmentType, appointment_type_id)
    if kind is None:
        raise LookupError(f"no appointment type {appointment_type_id}")
    providers = sorted(
        (p for p in kind.providers if p.active and (provider_id is None or p.id == provider_id)),
        key=lambda p: p.id,
    )
    local_now = now.astimezone(zone)
    if window_end is None:
        window_end = datetime.combine(local_now.date() + timedelta(days=DEFAULT_WINDOW_DAYS),
                                      local_now.time(), tzinfo=zone)
    earliest = now + timedelta(minutes=practice.min_lead_minutes)
    lo = max(window_start or now, earliest)
    if not providers or lo >= window_end or limit <= 0:
        return []

    first_day = lo.astimezone(zone).date()
    last_day = min(window_end.astimezone(zone).date(), first_day + timedelta(days=MAX_WINDOW_DAYS))
    closed = closed_days(session, first_day, last_day)
    intervals, claims = _busy_times(session, [p.id for p in providers], lo,
                                    window_end + timedelta(minutes=kind.minutes))
    own_visits = (patient_visits_between(session, patient_id, lo, window_end + timedelta(minutes=kind.minutes),
                                         moving_appointment_id) if patient_id is not None else [])
    excluded = {(pid, start.astimezone(UTC)) for pid, start in exclude}
    step = practice.slot_step_minutes
    day_parts = [PARTS[part_of_day]] if part_of_day else []
    if each_day is not None:
        day_parts.append(each_day)

    candidates: list[Slot] = []
    days_with_slots = 0
    day = first_day
    while day <= last_day:
        before = len(candidates)
        for provider in providers:
            bounds = _working_bounds(practice, provider, day, closed)
            if bounds is None:
                continue
            opens, closes = bounds
            for minute in range(0, 24 * 60, step):
                start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                if start < opens:
                    continue
                end = _end_of(start, kind.minutes, zone)
                if end > closes or start >= window_end:
                    break
                if start < lo:
                    continue
                if not all(in_part(minute, part) for part in day_parts):
                    continue
                if (provider.id, start.astimezone(UTC)) in excluded:
                    continue
                if any(s < end and e > start for s, e in intervals[provider.id]):
                    continue
                if any(s < end and e > start for s, e in own_visits):
                    continue
                if any((provider.id, t) in claims for t in _claim_steps(start, kind.minutes, step)):
                    continue
                candidates.append(Slot(provider.id, provider.display_name, kind.id, start, end))
        days_with_slots += len(candidates) > before
        # Enough to choose from: the earliest `limit` slots, or (spread) `limit` days, one per day.
        if (len(candidates) if not spread else days_with_slots) >= limit:
            break
        day += timedelta(days=1)

    candidates.sort(key=lambda s: (s.start, s.provider_id))
    if not spread:
        return candidates[:limit]
    return _spread_pick(candidates, limit, zone)


# --- Booking and changing ------------------------------------------------------------

def _slot_problem(session: Session, practice: Practice, slot: Slot, now: datetime) -> str | None:
    """Why ``slot`` cannot be booked now (ignoring other bookings), or None."""
    zone = practice_zone(practice)
    kind = session.get(AppointmentType, slot.appointment_type_id)
    provider = session.get(Provider, slot.provider_id)
    if kind is None or provider is None:
        raise LookupError(f"unknown provider {slot.provider_id} or appointment type {slot.appointment_type_id}")
    if not provider.active or provider not in kind.providers:
        return f"{provider.display_name} does not offer {kind.key}"
    start = slot.start.astimezone(zone)
    end = _end_of(start, kind.minutes, zone)
    if slot.end != end:
        raise ValueError(f"slot end {slot.end} does not match a {kind.minutes}-minute {kind.key}")
    if start < now + timedelta(minutes=practice.min_lead_minutes):
        return "slot is in the past or inside the minimum lead time"
    if not _on_grid(start, practice.slot_step_minutes):
        return f"slot start {start:%H:%M} is off the {practice.slot_step_minutes}-minute grid"
    bounds = _working_bounds(practice, provider, start.date(), closed_days(session, start.date(), start.date()))
    if bounds is None or start < bounds[0] or end > bounds[1]:
        return f"slot is outside the hours of {provider.display_name} on {WEEKDAYS[start.weekday()]} {start.date()}"
    return None


def _get_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise LookupError(f"no appointment {appointment_id}")
    return appointment


def record_note(session: Session, appointment: Appointment, now: datetime, changed_by: ChangedBy, note: str) -> None:
    """A line on the appointment's history that changes nothing ("running late: 10 min")."""
    _record_change(session, appointment, now, changed_by, None, note)


def _record_change(session: Session, appointment: Appointment, now: datetime, changed_by: ChangedBy,
                   staff_user_id: int | None, note: str | None = None) -> None:
    session.add(AppointmentChange(
        appointment_id=appointment.id, status=appointment.status, changed_at=now,
        changed_by=ChangedBy(changed_by), staff_user_id=staff_user_id, note=(note or None) and note[:200],
    ))


def book_appointment(
    session: Session,
    *,
    patient_id: int,
    slot: Slot,
    now: datetime,
    changed_by: ChangedBy,
    staff_user_id: int | None = None,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    note: str | None = None,
) -> Appointment:
    """Book ``slot`` for the patient; raises :class:`SlotTaken` if it is gone or no longer valid.

    The claims are inserted in a SAVEPOINT, so a lost race leaves the caller's
    transaction usable (to offer other slots in the same use case).
    """
    _require_aware(now, "now")
    _require_aware(slot.start, "slot.start")
    status = AppointmentStatus(status)
    if status not in ACTIVE_STATUSES:
        raise ValueError(f"a new booking must be proposed, pending or booked, not {status.value}")
    practice = get_practice(session)
    problem = _slot_problem(session, practice, slot, now)
    if problem:
        raise SlotTaken(problem)
    if patient_visits_between(session, patient_id, slot.start, slot.end):
        raise SlotTaken("the patient already has another appointment at that time")
    kind = session.get(AppointmentType, slot.appointment_type_id)
    try:
        with session.begin_nested():
            appointment = Appointment(
                patient_id=patient_id, provider_id=slot.provider_id, appointment_type_id=kind.id,
                start=slot.start, end=slot.end, status=status, created_at=now,
            )
            session.add(appointment)
            session.flush()
            session.add_all(
                SlotClaim(provider_id=slot.provider_id, step_start=step, appointment_id=appointment.id)
                for step in _claim_steps(slot.start, kind.minutes, practice.slot_step_minutes)
            )
            session.flush()
            _record_change(session, appointment, now, changed_by, staff_user_id, note)
            session.flush()
    except IntegrityError as exc:
        if "slot_claim" in (exc.statement or ""):
            raise SlotTaken(f"{slot.provider_name} is already booked at {slot.start.isoformat()}") from exc
        raise
    return appointment


def _release(session: Session, appointment: Appointment, now: datetime, changed_by: ChangedBy,
             staff_user_id: int | None, note: str | None) -> None:
    appointment.status = AppointmentStatus.CANCELLED
    session.execute(
        delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id)
        .execution_options(synchronize_session="fetch")
    )
    _record_change(session, appointment, now, changed_by, staff_user_id, note)
    session.flush()


def cancel_appointment(session: Session, appointment_id: int, *, now: datetime, changed_by: ChangedBy,
                       staff_user_id: int | None = None, note: str | None = None) -> Appointment:
    """Cancel an active appointment and free its time. Cancelling twice changes nothing."""
    appointment = _get_appointment(session, appointment_id)
    if appointment.status == AppointmentStatus.CANCELLED:
        return appointment
    if appointment.status not in ACTIVE_STATUSES:
        raise ValueError(f"appointment {appointment_id} is {appointment.status.value}; it cannot be cancelled")
    _release(session, appointment, now, changed_by, staff_user_id, note)
    return appointment


def reschedule_appointment(session: Session, appointment_id: int, new_slot: Slot, *, now: datetime,
                           changed_by: ChangedBy, staff_user_id: int | None = None) -> Appointment:
    """Move an appointment: the new booking and the old one's cancellation happen together.

    If the new slot is taken (:class:`SlotTaken`), the old appointment is left
    exactly as it was. The new slot may overlap the old one (9:00 -> 9:15).
    """
    old = _get_appointment(session, appointment_id)
    if old.status not in ACTIVE_STATUSES:
        raise ValueError(f"appointment {appointment_id} is {old.status.value}; it cannot be rescheduled")
    patient_id, status = old.patient_id, old.status
    with session.begin_nested():
        _release(session, old, now, changed_by, staff_user_id, "rescheduled")
        new = book_appointment(session, patient_id=patient_id, slot=new_slot, now=now, changed_by=changed_by,
                               staff_user_id=staff_user_id, status=status,
                               note=f"rescheduled from appointment {old.id}")
    return new


def confirm_appointment(session: Session, appointment_id: int, *, now: datetime,
                        changed_by: ChangedBy) -> Appointment:
    """The patient confirmed they will come; confirming again changes nothing."""
    appointment = _get_appointment(session, appointment_id)
    if appointment.status not in ACTIVE_STATUSES:
        raise ValueError(f"appointment {appointment_id} is {appointment.status.value}; it cannot be confirmed")
    if appointment.confirmed_at is None:
        appointment.confirmed_at = now
        _record_change(session, appointment, now, changed_by, None, "confirmed")
        session.flush()
    return appointment


def record_outcome(session: Session, appointment_id: int, status: AppointmentStatus, *, now: datetime,
                   changed_by: ChangedBy, staff_user_id: int | None = None) -> Appointment:
    """Mark arrived, fulfilled or no-show once the appointment has started.

    Arrival may be recorded up to an hour early (patients check in early);
    fulfilled and no-show only from the start time on. A cancelled appointment
    has no outcome.
    """
    status = AppointmentStatus(status)
    if status not in OUTCOME_STATUSES:
        raise ValueError(f"{status.value} is not an outcome; use arrived, fulfilled or noshow")
    appointment = _get_appointment(session, appointment_id)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise ValueError(f"appointment {appointment_id} was cancelled")
    earliest = appointment.start - timedelta(
        minutes=ARRIVAL_EARLY_MINUTES if status == AppointmentStatus.ARRIVED else 0)
    if now < earliest:
        raise ValueError(f"appointment {appointment_id} has not started yet")
    if appointment.status != status:
        appointment.status = status
        _record_change(session, appointment, now, changed_by, staff_user_id)
        session.flush()
    return appointment

