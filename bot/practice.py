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
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import AppointmentType, ClosedDate, Practice, Provider, ProviderHours

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _hhmm(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def load_practice_file(path: str | Path) -> dict[str, Any]:
    """Read and check a practice YAML file; errors name the offending field."""
    data = yaml.safe_load(Path(path).read_text())
    for field in ("name", "phone", "address", "timezone", "office_hours", "providers", "appointment_types"):
        if field not in data:
            raise ValueError(f"{path}: missing '{field}'")
    ZoneInfo(data["timezone"])  # raises for an unknown zone
    provider_keys = {p["key"] for p in data["providers"]}
    for kind in data["appointment_types"]:
        unknown = set(kind.get("providers", [])) - provider_keys
        if unknown:
            raise ValueError(f"{path}: appointment type {kind['key']} names unknown providers {sorted(unknown)}")
    return data


def apply_practice_config(session: Session, data: dict[str, Any]) -> Practice:
    """Create or update the practice, providers and types from a loaded config.

    Matching is by key, so reloading an edited file updates rows in place and
    never touches patients or appointments.
    """
    practice = session.execute(select(Practice)).scalar_one_or_none() or Practice()
    practice.name = data["name"]
    practice.phone = data["phone"]
    practice.fax = data.get("fax")
    practice.address = data["address"]
    practice.parking = data.get("parking")
    practice.timezone = data["timezone"]
    practice.office_hours = {day: list(span) for day, span in data["office_hours"].items()}
    practice.min_lead_minutes = int(data.get("min_lead_minutes", 120))
    practice.slot_step_minutes = int(data.get("slot_step_minutes", 15))
    practice.config = {
        key: data.get(key, {})
        for key in ("queues", "routing", "reminders", "default_appointment_type", "new_patient_appointment_type")
    }
    # The everyday words patients use for each visit type ("physical", "checkup").
    practice.config["type_words"] = {t["key"]: list(t.get("words", [])) for t in data["appointment_types"]}
    session.add(practice)

    session.execute(delete(ClosedDate))
    for closed in data.get("closed_dates", []):
        session.add(ClosedDate(day=date.fromisoformat(str(closed["date"])), name=closed.get("name", "Closed")))

    providers = {p.key: p for p in session.execute(select(Provider)).scalars()}
    for entry in data["providers"]:
        provider = providers.get(entry["key"]) or Provider(key=entry["key"])
        provider.name = entry["name"]
        provider.display_name = entry.get("display_name", entry["name"])
        provider.active = bool(entry.get("active", True))
        provider.hours = [
            ProviderHours(weekday=WEEKDAYS.index(day), start=_hhmm(span[0]), end=_hhmm(span[1]))
            for day, span in (entry.get("hours") or data["office_hours"]).items()
        ]
        session.add(provider)
        providers[provider.key] = provider
    session.flush()

    types = {t.key: t for t in session.execute(select(AppointmentType)).scalars()}
    for entry in data["appointment_types"]:
        kind = types.get(entry["key"]) or AppointmentType(key=entry["key"])
        kind.name = entry["name"]
        kind.minutes = int(entry["minutes"])
        kind.sensitive = bool(entry.get("sensitive", False))
        kind.recall_months = entry.get("recall_months")
        kind.providers = [providers[key] for key in entry.get("providers", providers.keys())]
        session.add(kind)
    session.flush()
    return practice


def get_practice(session: Session) -> Practice:
    practice = session.execute(select(Practice)).scalar_one_or_none()
    if practice is None:
        raise LookupError("no practice loaded: run `python -m bot db setup` (or `make run`)")
    return practice


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


def _clock(t: time) -> str:
    text = t.strftime("%I:%M %p").lstrip("0")
    return text.replace(":00", "")


def describe_office_hours(practice: Practice) -> str:
    """'Mon-Wed 8 AM-5 PM, Thu 8 AM-7 PM, Fri 8 AM-4 PM, Sat 9 AM-12 PM; closed Sun'."""
    spans: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        span = practice.office_hours.get(day)
        label = f"{_clock(_hhmm(span[0]))}-{_clock(_hhmm(span[1]))}" if span else "closed"
        if spans and spans[-1][1] == label:
            spans[-1][0].append(day)
        else:
            spans.append(([day], label))
    parts = []
    for days, label in spans:
        name = days[0].title() if len(days) == 1 else f"{days[0].title()}-{days[-1].title()}"
        parts.append(f"closed {name}" if label == "closed" else f"{name} {label}")
    return ", ".join(parts)
