"""Turn the time expressions in a patient's text into concrete local intervals.

Patients write "tmrw morning", "next tues at 930", "anytime after 3" or
"cancel tuesday and put me in thursday". `parse_when` gives the first such
expression as a `When`; `parse_all_when` gives every one, in order, so a
reschedule action can take the target day (usually the last one).

Conventions (every interval is [start, end), in the zone of `now`):
- a day with no time is the whole day, 00:00 to the next 00:00;
- parts of the day (defined once, in parts.py): morning 08-12, early morning 08-10,
  late morning 10-12, "first thing" 08-12, afternoon 12-17, early afternoon 12-14, late afternoon 15-17,
  evening / night / tonight 17-21, lunch / lunchtime 11:30-13:30;
  "early" or "late" right next to a day mean early morning / late afternoon,
  and so do "am" / "pm" for morning / afternoon ("tmrw am", "monday pm");
- "after 3" runs to the end of that day, "before noon" / "by 11" / "until 2"
  from its start; "after lunch" starts at 13:30, "after work" at 17:00,
  "after school" at 15:00; after/before next to a part of day stay inside it
  ("thursday afternoon after 3" is 15:00-17:00);
- "between 2 and 4" / "2-4" / "from 10 to 2" / "after 1:30 but before 3" are ranges; a bare hour 1-7 is
  p.m., 8-11 a.m., 12 noon, unless a part of day says otherwise ("8 tonight");
  "around 2" and "2ish" are the exact time 14:00; "midnight" is 00:00 at the end of the day;
  "noon" / "midday" 12:00; minutes in words count from the hour they name: "ten past 4" 16:10,
  "quarter to 5" 16:45, "10 to 8" 7:50 (8 decides the meridiem); "10 to 1" in digits is 12:50
  unless "from", "between", "free" ... come before it, and "5 to 7" (fewer minutes than the
  hour) is a range, never 6:55; a bare hour right before a day is a time ("10 tomorrow");
- "good morning" / "good afternoon" / "good evening" are greetings, never times;
- a weekday, with or without "next"/"this", is the nearest such day after
  today, never today; "tuesday next week" is the Tuesday of next week;
- "next week" is next Monday to the Monday after, "this week" today to next
  Monday, "this weekend" the coming Saturday to Monday (today to Monday when
  already weekend), "next weekend" the same except on a weekend, when it is
  the following one; "the coming week" / "the following week" are next week; "next month" the
  1st of next month to the 1st after; "the week of the 14th" is that week's Monday (or today)
  to the Monday after; "after the 10th" the 30 days after it; "before friday" today until then;
- "Nov 3 to 6", "Nov 3-6", "from the 3rd to the 6th of Nov", "11/3 to 11/6", "the 1st to the
  3rd" are those days, the last included; "the 12th of next month" / "of this month" (even if past) that day;
  "the second friday of next month", "the first monday in march", "the last thursday of the
  month" that day (a month without a year: the next one still ahead);
- a weekday and a date together ("Thu, Oct 8") are the date;
- dates without a year ("nov 5", "11/3", "the 14th") are the next such date on
  or after today; numeric dates are US month/day;
- a time with no day is today if still ahead of now (an exact time after now,
  a range whose end is after now), otherwise tomorrow; a time right after
  "or"/"," following a day keeps that day ("tuesday at 2 or 3");
- a day spanning several days ("next week") keeps its whole span even when a
  time is given, and the time of day goes in ``When.each_day`` ("next week after 3":
  15:00-24:00 of each day; "any morning next week": 08:00-12:00), the end exclusive.
Numbers that are not times ("2", "option 3", "2 kids", "$40", phone numbers)
give nothing; bare numbers count as times only after "at", "around",
"after", ... or right next to a day or part of day. Negation ("not tuesday")
is not understood: the caller sees tuesday.

Datetimes are built from wall-clock fields with the zone of `now`, never by
adding timedeltas to aware datetimes, so they are right across daylight-saving
changes; a wall time that does not exist (02:30 on spring-forward day) comes
out as the same instant expressed correctly (03:30 daylight time).
A wall time that happens twice (01:30 on fall-back day) is the first, daylight one.

Spanish (``language="es"``) follows the same conventions in its own words; what is particular to it
("mañana" alone is tomorrow, "3 y media", "el lunes 14", greetings, "mar") is in vocabulary/es.py.

The package: ``vocabulary/`` (the words, one module per language: English and Spanish), ``parts`` (the parts
of the day on the clock, defined once), ``atoms`` (one clock time as written), ``claims`` (which
spans of the text name a day, a part of the day or a time) and ``resolution`` (claims grouped into
expressions and turned into intervals).
"""
from __future__ import annotations

import re
from datetime import datetime

from bot.language.dates.resolution import Parser, When
from bot.language.dates.vocabulary import vocabulary_for

__all__ = ["When", "parse_when", "parse_all_when", "join_day_alternatives"]


def parse_when(text: str, now: datetime, language: str = "en") -> When | None:
    """The first time expression in `text`, or None when it names no time."""
    found = parse_all_when(text, now, language)
    return found[0] if found else None


def join_day_alternatives(text: str, whens: list[When]) -> list[When]:
    """ "monday or tuesday": neighbouring whole days named as alternatives become one span.

    parse_when keeps its contract (the first expression); the flows that offer
    times use this so that both days are searched. Days apart stay separate.
    """
    if not re.search(r"\bor\b", text.lower()):
        return list(whens)

    def whole_days(w: When) -> bool:
        return (w.start < w.end and w.start.time() == w.end.time() == datetime.min.time()
                and w.each_day is None)

    joined: list[When] = []
    for when in whens:
        if joined and whole_days(joined[-1]) and whole_days(when) and joined[-1].end == when.start:
            joined[-1] = When(joined[-1].start, when.end)
        else:
            joined.append(when)
    return joined


def parse_all_when(text: str, now: datetime, language: str = "en") -> list[When]:
    """Every time expression in `text`, in the order written.

    For "cancel tuesday and put me in thursday" this is [tuesday, thursday];
    a reschedule takes the last one as the new day.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return Parser(text, now, vocabulary_for(language)).run()
