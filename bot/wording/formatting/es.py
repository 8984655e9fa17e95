"""How facts read in Spanish: clock times, days, a slot, an answer time, office hours, lists.

The same functions as :mod:`bot.wording.formatting.en` (tests/test_wording.py checks). The style is the
one US practices text Spanish-speaking patients in: days and months in lower case and abbreviated
("jue 4 de mar"; Saturday "sab", since á forces UCS-2), and the clock as in English, "9:30 AM" (US
Spanish reads AM/PM, and it is shorter than "9:30 a. m."), so a slot reads "jue 4 de mar a las 9:30 AM con Dr. Patel".
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Mapping, Sequence

# Written alike in both languages: the clock, and how names and lists are joined.
from bot.wording.formatting.en import WEEKDAYS, clock, clock_short, for_patient, listing, numbered, reminder_item

__all__ = ["WEEKDAYS", "clock", "clock_short", "for_patient", "listing", "numbered", "reminder_item"]

# "sab" without its accent: á would turn every text with a Saturday slot into UCS-2 (a reminder: 4 segments).
_DAY_ABBR = ["lun", "mar", "mié", "jue", "vie", "sab", "dom"]
_DAY_NAMES = ["el lunes", "el martes", "el miércoles", "el jueves", "el viernes", "el sábado", "el domingo"]
_MONTH_ABBR = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]


def _at(moment: datetime | time) -> str:
    """'a las 9:30 AM', 'a la 1:15 PM' (one o'clock is singular)."""
    return f"{'a la' if moment.hour % 12 == 1 else 'a las'} {clock(moment)}"


def day_date(day: date) -> str:
    """'mar 8 de dic'."""
    return f"{_DAY_ABBR[day.weekday()]} {day.day} de {_MONTH_ABBR[day.month - 1]}"


def slot(start: datetime, provider: str) -> str:
    """'jue 4 de mar a las 9:30 AM con Dr. Patel': date, time and provider, never the visit type."""
    return f"{day_date(start)} {_at(start)} con {provider}"


def answer_by(due: datetime, today: date) -> str:
    """'antes de las 11:00 AM de mañana', '... de hoy', '... el lunes', '... el lun 4 de ene'."""
    days = (due.date() - today).days
    if days == 0:
        day = "de hoy"
    elif days == 1:
        day = "de mañana"
    elif days < 7:
        day = _DAY_NAMES[due.weekday()]
    else:
        day = f"el {day_date(due)}"
    return f"antes {'de la' if due.hour % 12 == 1 else 'de las'} {clock(due)} {day}"


def wish(start: datetime, end: datetime, *, a_moment: bool, within_a_day: bool) -> str:
    """The time a patient asked for, after 'No hay nada libre ...': 'el mar 8 de dic a las 3:00 PM', 'el mar 8 de dic',
    'en ese horario'."""
    if a_moment:
        return f"el {day_date(start)} {_at(start)}"
    if within_a_day:
        return f"el {day_date(start)}"
    return "en ese horario"


def office_hours(hours: Mapping[str, Sequence[time] | None]) -> str:
    """'lun-mié 8 AM-5 PM, jue 8 AM-7 PM, vie 8 AM-4 PM, sab 9 AM-12 PM, dom cerrado' (days in WEEKDAYS order)."""
    spans: list[tuple[list[int], str]] = []
    for index, day in enumerate(WEEKDAYS):
        span = hours.get(day)
        label = f"{clock_short(span[0])}-{clock_short(span[1])}" if span else "cerrado"
        if spans and spans[-1][1] == label:
            spans[-1][0].append(index)
        else:
            spans.append(([index], label))
    parts = []
    for days, label in spans:
        name = _DAY_ABBR[days[0]] if len(days) == 1 else f"{_DAY_ABBR[days[0]]}-{_DAY_ABBR[days[-1]]}"
        parts.append(f"{name} {label}")
    return ", ".join(parts)


def holidays(closed: Sequence[tuple[date, str]]) -> str:
    """'Thanksgiving (jue 26 de nov), Christmas Day (vie 25 de dic)' (the practice names its holidays), or none soon."""
    listed = ", ".join(f"{name} ({day_date(day)})" for day, name in closed)
    return listed or "ningún día festivo en los próximos meses"


def no_fax() -> str:
    return "no tenemos"


def visit(type_name: str, sensitive: bool) -> str:
    """The practice's name for the visit ('Annual physical' is configured in English), or 'próxima visita' for a type
    that must never be named."""
    if sensitive:
        return "próxima visita"
    return type_name[:1].lower() + type_name[1:]


def with_provider(provider: str | None) -> str:
    """' con Dr. Patel' after a visit, or nothing."""
    return f" con {provider}" if provider else ""


def capitalised(phrase: str) -> str:
    """'nuestra recepción' starting a sentence: 'Nuestra recepción'."""
    return phrase[:1].upper() + phrase[1:]
