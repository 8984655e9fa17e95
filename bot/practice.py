"""The practice's configuration: loaded from YAML into the database, read from there.

Every process (action server, channel, web app, reminder worker) reads the
practice from the database, so one edit and one ``practice load`` reach all
of them. Office hours are local wall-clock times in the practice's zone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Appointment,
    AppointmentType,
    ClosedDate,
    Practice,
    Provider,
    ProviderHours,
    SlotClaim,
    WaitlistEntry,
    WaitlistOffer,
)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _hhmm(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


class PracticeFileError(ValueError):
    """The practice file cannot be loaded as it is; the message says which field and what to do."""


def load_practice_file(path: str | Path) -> dict[str, Any]:
    """Read and check a practice YAML file; errors name the offending field."""
    data = yaml.safe_load(Path(path).read_text())
    for field in ("name", "phone", "address", "timezone", "office_hours", "providers", "appointment_types"):
        if field not in data:
            raise PracticeFileError(f"{path}: missing '{field}'")
    ZoneInfo(data["timezone"])  # raises for an unknown zone
    policy = data.get("late_policy")
    if policy is not None and (not isinstance(policy, str) or len(policy) > MAX_LATE_POLICY):
        raise PracticeFileError(f"{path}: 'late_policy' must be a sentence of at most {MAX_LATE_POLICY} characters "
                                "(it is texted with the running-late reply, which must fit 320)")
    provider_keys = {p["key"] for p in data["providers"]}
    for kind in data["appointment_types"]:
        unknown = set(kind.get("providers", [])) - provider_keys
        if unknown:
            raise PracticeFileError(
                f"{path}: appointment type {kind['key']} names unknown providers {sorted(unknown)}")
    problems = check_staff_config(data)
    if problems:
        raise PracticeFileError(f"{path}: " + "; ".join(problems))
    return data


def _is_hhmm(text: Any) -> bool:
    try:
        _hhmm(text)
    except (ValueError, TypeError):
        return False
    return True


def _week_problems(label: str, hours: Any) -> list[str]:
    """Problems of a ``{mon: ["08:00", "17:00"], ...}`` mapping (a shift, like office hours)."""
    if not isinstance(hours, dict):
        return [f"{label} must map weekdays (mon..sun) to [\"HH:MM\", \"HH:MM\"]"]
    problems = [f"{label}: unknown weekday {day!r}" for day in hours if day not in WEEKDAYS]
    problems += [f"{label} {day}: {span!r} is not [\"HH:MM\", \"HH:MM\"]" for day, span in hours.items()
                 if not (isinstance(span, list) and len(span) == 2 and all(map(_is_hhmm, span)))]
    return problems


def _is_e164(number: Any) -> bool:
    text = str(number)
    return text.startswith("+") and text[1:].isdigit() and 8 <= len(text) <= 16


def check_staff_config(data: dict[str, Any]) -> list[str]:
    """What is wrong with the file's ``queues``, ``routing``, ``on_call`` and ``voice`` (empty when nothing is).

    Every routing target and the on-call queue must be a queue of the file; a
    queue's ``roles`` must be staff roles, and a queue not named like one of
    the four built-in ones must list them (deny by default: nobody would see
    it); ``owner`` and ``members`` are staff usernames; numbers are E.164.
    """
    from bot.models import StaffRole
    from bot.staff.access import DEFAULT_QUEUE_ROLES

    roles = {r.value for r in StaffRole}
    queues = data.get("queues") or {}
    problems = []
    for name, queue in queues.items():
        listed = queue.get("roles")
        if listed is None and name not in DEFAULT_QUEUE_ROLES:
            problems.append(f"queue {name} lists no roles: add roles: [...] (of {sorted(roles)})")
        unknown = set(listed or ()) - roles
        if unknown:
            problems.append(f"queue {name} names unknown roles {sorted(unknown)}")
        members = queue.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append(f"queue {name}: members must be a list of staff usernames")
        if "owner" in queue and not isinstance(queue["owner"], str):
            problems.append(f"queue {name}: owner must be a staff username")
        if "owner_hours" in queue:
            problems += _week_problems(f"queue {name} owner_hours", queue["owner_hours"])
    for handed_off, target in (data.get("routing") or {}).items():
        if target not in queues:
            problems.append(f"routing {handed_off} names unknown queue {target!r}; known: {sorted(queues)}")
    on_call = data.get("on_call")
    if on_call:
        if on_call.get("queue") not in queues:
            problems.append(f"on_call queue {on_call.get('queue')!r} is not a queue; known: {sorted(queues)}")
        numbers = [on_call.get("number")] if on_call.get("number") else []
        for index, entry in enumerate(on_call.get("rota") or []):
            numbers.append(entry.get("number"))
            problems += _week_problems(f"on_call rota entry {index + 1}", entry.get("hours"))
        if not numbers:
            problems.append("on_call needs a number, or a rota of {hours: ..., number: ...}")
        escalation = on_call.get("escalation") or {}
        numbers += list(escalation.get("numbers") or [])
        problems += [f"on_call number {n!r} is not E.164 (+15035550100)" for n in numbers if not _is_e164(n)]
        if escalation and not int(escalation.get("after_minutes", 0)) > 0:
            problems.append("on_call escalation after_minutes must be a positive number of minutes")
    voice = data.get("voice")
    if voice:
        if not _is_e164(voice.get("front_desk_number")):
            problems.append(f"voice front_desk_number {voice.get('front_desk_number')!r} is not E.164 (+15035550100)")
        ring = voice.get("ring_seconds", 20)
        if not (isinstance(ring, int) and 5 <= ring <= 600):
            problems.append(f"voice ring_seconds {ring!r} must be a whole number of seconds from 5 to 600")
    return problems


@dataclass(frozen=True)
class PracticeChange:
    """One difference a practice file makes to the database, as `practice load` (and its --dry-run) lists it."""

    subject: str  # "practice", "provider patel", "appointment type flu_shot", "closed dates", "routing", ...
    change: str  # added, updated, deactivated, removed
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join([f"{self.subject}: {self.change}", *(f"  {line}" for line in self.details)])


PRACTICE_FIELDS = ("name", "phone", "fax", "address", "parking", "timezone", "min_lead_minutes",
                   "slot_step_minutes")
CONFIG_SECTIONS = ("queues", "routing", "reminders", "default_appointment_type", "new_patient_appointment_type",
                   "on_call", "late_policy", "voice", "texting", "billing")
DEFAULT_LATE_POLICY = "If you will be more than 15 minutes late we may need to rebook."
MAX_LATE_POLICY = 120


def apply_practice_config(session: Session, data: dict[str, Any]) -> Practice:
    """Create or update the practice, providers and types from a loaded config (see update_practice)."""
    update_practice(session, data)
    return get_practice(session)


def update_practice(session: Session, data: dict[str, Any]) -> list[PracticeChange]:
    """Make the database say what the practice file says, in place, and list what changed.

    Matching is by key, so reloading an edited file updates rows where they are and never touches
    patients or appointments. A provider the file no longer lists is removed, or only deactivated
    (never offered again) while appointments, slot claims or waitlist rows refer to it. An appointment
    type that such rows refer to cannot leave the file: the load refuses, because a booked visit must
    keep its type; ``providers: []`` is how a practice stops offering it. The caller owns the
    transaction: rolling it back after this call is a dry run.
    """
    changes: list[PracticeChange] = []
    existing = session.execute(select(Practice)).scalar_one_or_none()
    practice = existing or Practice()
    before = {field: getattr(practice, field) for field in PRACTICE_FIELDS}
    before_hours = dict(practice.office_hours or {})
    before_config = dict(practice.config or {})

    practice.name = data["name"]
    practice.phone = data["phone"]
    practice.fax = data.get("fax")
    practice.address = data["address"]
    practice.parking = data.get("parking")
    practice.timezone = data["timezone"]
    practice.office_hours = {day: list(span) for day, span in data["office_hours"].items()}
    practice.min_lead_minutes = int(data.get("min_lead_minutes", 120))
    practice.slot_step_minutes = int(data.get("slot_step_minutes", 15))
    practice.config = {key: data.get(key, {}) for key in CONFIG_SECTIONS}
    # The everyday words patients use for each visit type ("physical", "checkup").
    practice.config["type_words"] = {t["key"]: list(t.get("words", [])) for t in data["appointment_types"]}
    session.add(practice)

    if existing is None:
        changes.append(PracticeChange("practice", "added", (practice.name,)))
    else:
        details = [f"{field}: {before[field]!r} -> {getattr(practice, field)!r}"
                   for field in PRACTICE_FIELDS if before[field] != getattr(practice, field)]
        details += _hours_changes("office hours", before_hours, practice.office_hours)
        if details:
            changes.append(PracticeChange("practice", "updated", tuple(details)))
        for section in (*CONFIG_SECTIONS, "type_words"):
            details = _value_changes(before_config.get(section, {}), practice.config[section])
            if details:
                changes.append(PracticeChange(section.replace("_", " "), "updated", tuple(details)))

    changes += _update_closed_dates(session, data.get("closed_dates", []))
    providers, provider_changes = _update_providers(session, data)
    changes += provider_changes
    changes += _update_appointment_types(session, data, providers)
    return changes


def _span(span: Any) -> str:
    return f"{span[0]}-{span[1]}" if span else "closed"


def _hours_changes(label: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{label} {day}: {_span(old.get(day))} -> {_span(new.get(day))}"
            for day in WEEKDAYS if _span(old.get(day)) != _span(new.get(day))]


def _value_changes(old: Any, new: Any) -> list[str]:
    """What changed between two config values: per key for a mapping, else the whole value."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = [f"{key}: added {new[key]!r}" for key in new if key not in old]
        lines += [f"{key}: {old[key]!r} -> {new[key]!r}" for key in new if key in old and old[key] != new[key]]
        lines += [f"{key}: removed" for key in old if key not in new]
        return lines
    return [f"{old!r} -> {new!r}"] if old != new else []


def _update_closed_dates(session: Session, entries: list[dict[str, Any]]) -> list[PracticeChange]:
    wanted = {date.fromisoformat(str(e["date"])): e.get("name", "Closed") for e in entries}
    rows = {row.day: row for row in session.execute(select(ClosedDate)).scalars()}
    details = []
    for day, row in rows.items():
        if day not in wanted:
            session.delete(row)
            details.append(f"{day}: removed ({row.name})")
        elif row.name != wanted[day]:
            details.append(f"{day}: {row.name!r} -> {wanted[day]!r}")
            row.name = wanted[day]
    for day, name in wanted.items():
        if day not in rows:
            session.add(ClosedDate(day=day, name=name))
            details.append(f"{day}: added ({name})")
    session.flush()
    return [PracticeChange("closed dates", "updated", tuple(sorted(details)))] if details else []


def _hours_of(provider: Provider) -> dict[str, list[str]]:
    return {WEEKDAYS[h.weekday]: [h.start.strftime("%H:%M"), h.end.strftime("%H:%M")] for h in provider.hours}


def _set_hours(provider: Provider, wanted: dict[str, Any]) -> None:
    """Update the provider's weekday rows in place: one row per weekday is a unique constraint."""
    rows = {WEEKDAYS[h.weekday]: h for h in provider.hours}
    for day, row in rows.items():
        if day not in wanted:
            provider.hours.remove(row)  # delete-orphan
    for day, span in wanted.items():
        start, end = _hhmm(span[0]), _hhmm(span[1])
        if day in rows:
            rows[day].start, rows[day].end = start, end
        else:
            provider.hours.append(ProviderHours(weekday=WEEKDAYS.index(day), start=start, end=end))


def _references(session: Session, column_of: dict[type, Any], row_id: int) -> dict[str, int]:
    """How many rows of each table refer to ``row_id`` (only the tables that do)."""
    counts = {}
    for model, column in column_of.items():
        count = session.execute(select(func.count()).select_from(model).where(column == row_id)).scalar_one()
        if count:
            counts[model.__tablename__] = count
    return counts


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {table}" for table, count in counts.items())


def _update_providers(session: Session, data: dict[str, Any]) -> tuple[dict[str, Provider], list[PracticeChange]]:
    changes = []
    providers = {p.key: p for p in session.execute(select(Provider)).scalars()}
    for entry in data["providers"]:
        provider = providers.get(entry["key"])
        added = provider is None
        if added:
            provider = Provider(key=entry["key"])
        before = {"name": provider.name, "display_name": provider.display_name, "active": provider.active}
        before_hours = {} if added else _hours_of(provider)
        provider.name = entry["name"]
        provider.display_name = entry.get("display_name", entry["name"])
        provider.active = bool(entry.get("active", True))
        wanted = {day: list(span) for day, span in (entry.get("hours") or data["office_hours"]).items()}
        _set_hours(provider, wanted)
        session.add(provider)
        providers[provider.key] = provider
        if added:
            changes.append(PracticeChange(f"provider {provider.key}", "added", (provider.display_name,)))
            continue
        details = [f"{field}: {before[field]!r} -> {getattr(provider, field)!r}"
                   for field in before if before[field] != getattr(provider, field)]
        details += _hours_changes("hours", before_hours, wanted)
        if details:
            changes.append(PracticeChange(f"provider {provider.key}", "updated", tuple(details)))

    listed = {entry["key"] for entry in data["providers"]}
    for key, provider in list(providers.items()):
        if key in listed:
            continue
        refs = _references(session, {Appointment: Appointment.provider_id, SlotClaim: SlotClaim.provider_id,
                                      WaitlistEntry: WaitlistEntry.provider_id,
                                      WaitlistOffer: WaitlistOffer.provider_id}, provider.id)
        if refs:
            if provider.active:
                provider.active = False
                changes.append(PracticeChange(f"provider {key}", "deactivated", (
                    f"not in the file; kept because {_describe(refs)} rows refer to them; never offered again",)))
        else:
            session.delete(provider)
            changes.append(PracticeChange(f"provider {key}", "removed", ("not in the file",)))
        del providers[key]
    session.flush()
    return providers, changes


def _update_appointment_types(session: Session, data: dict[str, Any],
                              providers: dict[str, Provider]) -> list[PracticeChange]:
    changes = []
    types = {t.key: t for t in session.execute(select(AppointmentType)).scalars()}
    listed = {entry["key"] for entry in data["appointment_types"]}
    for key, kind in types.items():
        if key in listed:
            continue
        refs = _references(session, {Appointment: Appointment.appointment_type_id,
                                      WaitlistEntry: WaitlistEntry.appointment_type_id,
                                      WaitlistOffer: WaitlistOffer.appointment_type_id}, kind.id)
        if refs:
            raise PracticeFileError(
                f"appointment type {key} is not in the file, but {_describe(refs)} rows refer to it: keep it in "
                f"the file (with `providers: []` it is never offered again); nothing was changed")
        session.delete(kind)
        changes.append(PracticeChange(f"appointment type {key}", "removed", ("not in the file",)))

    for entry in data["appointment_types"]:
        kind = types.get(entry["key"])
        added = kind is None
        if added:
            kind = AppointmentType(key=entry["key"])
        fields = ("name", "minutes", "sensitive", "recall_months")
        before = {field: getattr(kind, field) for field in fields}
        before_providers = sorted(p.key for p in kind.providers)
        kind.name = entry["name"]
        kind.minutes = int(entry["minutes"])
        kind.sensitive = bool(entry.get("sensitive", False))
        kind.recall_months = entry.get("recall_months")
        kind.providers = [providers[key] for key in entry.get("providers", providers.keys())]
        session.add(kind)
        if added:
            changes.append(PracticeChange(f"appointment type {kind.key}", "added", (kind.name,)))
            continue
        details = [f"{field}: {before[field]!r} -> {getattr(kind, field)!r}"
                   for field in fields if before[field] != getattr(kind, field)]
        after_providers = sorted(p.key for p in kind.providers)
        if after_providers != before_providers:
            details.append(f"providers: {', '.join(before_providers) or 'none'} -> "
                           f"{', '.join(after_providers) or 'none'}")
        if details:
            changes.append(PracticeChange(f"appointment type {kind.key}", "updated", tuple(details)))
    session.flush()
    return changes


def get_practice(session: Session) -> Practice:
    practice = session.execute(select(Practice)).scalar_one_or_none()
    if practice is None:
        raise LookupError("no practice loaded: run `python -m bot db setup` (or `make run`)")
    return practice


def late_policy(practice: Practice) -> str:
    """What the practice tells a patient who is running late: the file's ``late_policy``, else the default."""
    return (practice.config or {}).get("late_policy") or DEFAULT_LATE_POLICY


def practice_zone(practice: Practice) -> ZoneInfo:
    return ZoneInfo(practice.timezone)


@dataclass(frozen=True)
class DayHours:
    """One day's opening in local wall-clock terms."""

    day: date
    opens: datetime  # aware, practice zone
    closes: datetime


def closed_days(session: Session, start: date, end: date) -> dict[date, str]:
    rows = session.execute(
        select(ClosedDate).where(ClosedDate.day >= start, ClosedDate.day <= end)
    ).scalars()
    return {row.day: row.name for row in rows}


def office_hours_on(practice: Practice, day: date, closed: dict[date, str]) -> DayHours | None:
    """The office's opening on ``day``, or None when closed (weekday or holiday)."""
    if day in closed:
        return None
    span = practice.office_hours.get(WEEKDAYS[day.weekday()])
    if not span:
        return None
    zone = practice_zone(practice)
    opens = datetime.combine(day, _hhmm(span[0]), tzinfo=zone)
    closes = datetime.combine(day, _hhmm(span[1]), tzinfo=zone)
    return DayHours(day, opens, closes)


def iter_open_days(session: Session, practice: Practice, start: date, days: int):
    """Yield the office's opening for each open day from ``start`` on, for ``days`` days."""
    closed = closed_days(session, start, start + timedelta(days=days))
    for offset in range(days):
        hours = office_hours_on(practice, start + timedelta(days=offset), closed)
        if hours is not None:
            yield hours


def format_phone(e164: str) -> str:
    """+15035550100 -> (503) 555-0100; other numbers are shown as stored."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def weekly_hours(practice: Practice) -> dict[str, tuple[time, time] | None]:
    """The office's opening and closing time per weekday key ('mon'...), None when closed that day."""
    return {day: (_hhmm(span[0]), _hhmm(span[1])) if (span := practice.office_hours.get(day)) else None
            for day in WEEKDAYS}
