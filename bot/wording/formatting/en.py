"""How facts read in English: clock times, days, a slot, an answer time, office hours, lists.

Every function takes facts (aware datetimes already in the practice's zone, dates, names) and returns a
phrase for a catalog text's placeholder. A language's formatting file offers exactly these functions
(tests/test_wording.py checks), so callers never ask which language they format for.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Iterable, Mapping, Sequence

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # the practice file's day keys, in order
_DAY_ABBR = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def clock(moment: datetime | time) -> str:
    """'3:30 PM', '9:00 AM', '12:00 PM'."""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def clock_short(moment: datetime | time) -> str:
    """'8 AM', '12:30 PM': office hours drop a zero minute."""
    return clock(moment).replace(":00", "")


def day_date(day: date) -> str:
    """'Tue, Dec 8'."""
    return f"{_DAY_ABBR[day.weekday()]}, {_MONTH_ABBR[day.month - 1]} {day.day}"


def slot(start: datetime, provider: str) -> str:
    """'Thu, Mar 4 at 9:30 AM with Dr. Patel': date, time and provider, never the visit type."""
    return f"{day_date(start)} at {clock(start)} with {provider}"


def for_patient(first_name: str, phrase: str) -> str:
    """'Emma: Thu, Mar 4 at ...' when one text lists several patients' appointments."""
    return f"{first_name}: {phrase}"


def reminder_item(first_name: str, phrase: str) -> str:
    """'Emma - Thu, Mar 4 at ...' in a family's reminder."""
    return f"{first_name} - {phrase}"


def listing(items: Iterable[str]) -> str:
    """Several appointments in one sentence: 'A; B; C'."""
    return "; ".join(items)


def numbered(lines: Sequence[str]) -> str:
    """Choices, one a line: '\\n1. A\\n2. B'."""
    return "".join(f"\n{i}. {line}" for i, line in enumerate(lines, 1))


def answer_by(due: datetime, today: date) -> str:
    """'by 11:00 AM tomorrow', 'by 3:15 PM today', 'by 9:00 AM Monday', 'by 9:00 AM Mon, Jan 4'."""
    days = (due.date() - today).days
    if days == 0:
        day = "today"
    elif days == 1:
        day = "tomorrow"
    elif days < 7:
        day = _DAY_NAMES[due.weekday()]
    else:
        day = day_date(due)
    return f"by {clock(due)} {day}"


def wish(start: datetime, end: datetime, *, a_moment: bool, within_a_day: bool) -> str:
    """The time a patient asked for, after 'Nothing is open ...': 'Tue, Dec 8 at 3:00 PM', 'on Tue, Dec 8', 'then'."""
    if a_moment:
        return f"{day_date(start)} at {clock(start)}"
    if within_a_day:
        return f"on {day_date(start)}"
    return "then"


def office_hours(hours: Mapping[str, Sequence[time] | None]) -> str:
    """'Mon-Wed 8 AM-5 PM, Thu 8 AM-7 PM, Fri 8 AM-4 PM, Sat 9 AM-12 PM, closed Sun' (days in WEEKDAYS order)."""
    spans: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        span = hours.get(day)
        label = f"{clock_short(span[0])}-{clock_short(span[1])}" if span else "closed"
        if spans and spans[-1][1] == label:
            spans[-1][0].append(day)
        else:
            spans.append(([day], label))
    parts = []
    for days, label in spans:
        name = days[0].title() if len(days) == 1 else f"{days[0].title()}-{days[-1].title()}"
        parts.append(f"closed {name}" if label == "closed" else f"{name} {label}")
    return ", ".join(parts)


def holidays(closed: Sequence[tuple[date, str]]) -> str:
    """'Thanksgiving (Thu, Nov 26), Christmas Day (Fri, Dec 25)', or that there are none soon."""
    listed = ", ".join(f"{name} ({day_date(day)})" for day, name in closed)
    return listed or "no holidays in the coming months"


def no_fax() -> str:
    return "none"


def visit(type_name: str, sensitive: bool) -> str:
    """'annual physical', or 'next visit' for a type that must never be named."""
    if sensitive:
        return "next visit"
    return type_name[:1].lower() + type_name[1:]


def with_provider(provider: str | None) -> str:
    """' with Dr. Patel' after a visit, or nothing."""
    return f" with {provider}" if provider else ""


def capitalised(phrase: str) -> str:
    """'our front desk' starting a sentence: 'Our front desk'."""
    return phrase[:1].upper() + phrase[1:]
