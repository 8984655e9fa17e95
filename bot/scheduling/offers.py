"""Which times to offer a patient: the widening policy, returned as facts (the slots, and whether they are only the nearest).

The wish is searched as said (with the provider asked for, then with anyone),
all of it: a span of days with a time of day (``When.each_day``: "next week
after 3") only at that time of day; an exact time that is taken widens to that
day; a wish with nothing open widens to the next 30 days from it (first still
at the wished time of day, when it named one over several days, then at any
time), and the slots come back marked ``nearest`` so the patient is told these
are the closest. Also here: reading
the wished time out of a text, where a single day the old visit falls on
names that visit ("move my tuesday appt"), not the new time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Iterable

from sqlalchemy.orm import Session

from bot.language.dates import When, join_day_alternatives, parse_all_when
from bot.language.dates.parts import in_part
from bot.models import Appointment
from bot.scheduling.booking import Slot, find_open_slots

MAX_OFFERED = 3
SEARCH_DAYS = 30


@dataclass(frozen=True)
class TimesOffered:
    """Up to MAX_OFFERED open slots; ``nearest`` when none matched the wish and these are the closest to it."""

    slots: list[Slot]
    nearest: bool = False


def offer_times(session: Session, *, appointment_type_id: int, now: datetime, wish: When | None,
                provider_id: int | None = None, exclude: Iterable[tuple[int, datetime]] = (),
                patient_id: int | None = None, moving_appointment_id: int | None = None) -> TimesOffered:
    """The times to offer for ``wish`` (None: the soonest), widening as the module docstring says."""
    excluded = list(exclude)

    daily = wish.each_day if wish else None

    def search(window_start, window_end, provider, each_day=daily):
        return find_open_slots(
            session, appointment_type_id=appointment_type_id, now=now, window_start=window_start,
            window_end=window_end, provider_id=provider, limit=MAX_OFFERED, exclude=excluded,
            patient_id=patient_id, moving_appointment_id=moving_appointment_id, each_day=each_day,
        )

    start = max(wish.start, now) if wish else now
    end = wish.end if wish else None
    exact = wish is not None and wish.start == wish.end
    if exact:  # an exact time: that minute, or that day
        end = wish.start + timedelta(minutes=1)
    slots = search(start, end, provider_id) or (search(start, end, None) if provider_id else [])
    if not slots and exact:
        day_start = wish.start.replace(hour=0, minute=0)
        slots = search(max(day_start, now), day_start + timedelta(days=1), provider_id)
    if slots:
        return TimesOffered(slots)
    wider = start + timedelta(days=SEARCH_DAYS)
    for each_day in dict.fromkeys((daily, None)):  # the wished time of day first, then any time
        slots = search(start, wider, provider_id, each_day) or search(start, wider, None, each_day)
        if slots:
            break
    return TimesOffered(slots, nearest=True)


def times_after(moment: datetime) -> When:
    """"None of those": the search window after the last time offered."""
    return When(moment + timedelta(minutes=1), moment + timedelta(days=SEARCH_DAYS))


def within(moment: datetime, when: When) -> bool:
    """True when ``moment`` lies in ``when``, in its time of day too (``each_day``)."""
    if when.start == when.end:
        return moment == when.start
    if not when.start <= moment < when.end:
        return False
    if when.each_day is None:
        return True
    local = moment.astimezone(when.start.tzinfo)
    return in_part(local.hour * 60 + local.minute, when.each_day)


def wished_time(text: str, now: datetime, zone: tzinfo, language: str = "en") -> When | None:
    """The time in an answer to "what day and time?": the first named, both of "monday or tuesday"."""
    whens = join_day_alternatives(text, parse_all_when(text, now.astimezone(zone), language))
    return whens[0] if whens else None


def wanted_time(text: str, now: datetime, zone: tzinfo, moving: Appointment | None = None,
                language: str = "en") -> When | None:
    """The time the patient wants: the last one named.

    A single day (or time) on which the old appointment falls names that
    appointment ("move my tuesday appt"), not the new time; a longer range
    that happens to contain it ("next week") is still the wish.
    """
    whens = parse_all_when(text, now.astimezone(zone), language)
    if moving is not None:
        whens = [w for w in whens if not names_appointment(w, moving)]
    whens = join_day_alternatives(text, whens)  # "monday or tuesday": both days
    return whens[-1] if whens else None


def names_appointment(when: When, appointment: Appointment) -> bool:
    return when.end - when.start <= timedelta(days=1) and within(appointment.start, when)
