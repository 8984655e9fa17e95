"""Atoms: one clock time as written ("2pm", "930", "half past 2"), and a time spec built from atoms.

An atom may leave its meridiem open ("at 2"); the part of the day next to it, or the convention
that a bare 1-7 is p.m., decides when it becomes minutes after midnight.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from bot.language.dates.vocabulary import en
from bot.language.dates.vocabulary.common import alt


@dataclass
class Atom:
    """A clock time as written; the meridiem may still be open ("at 2")."""

    hour: int
    minute: int  # negative before the hour: "10 to 8" is Atom(8, -10)
    meridiem: str | None  # "am", "pm" or None
    fixed: bool = False   # noon, midnight, 24-hour clock: no meridiem guessing
    strong: bool = False  # clearly a time even without context ("2pm", "3:30")

    def minutes(self, pm_hint: bool | None) -> int:
        """Minutes after midnight; 1440 means the midnight that ends the day."""
        if self.fixed:
            return self.hour * 60 + self.minute
        h = self.hour % 12
        if self.meridiem == "pm":
            h += 12
        elif self.meridiem is None:
            if pm_hint is True:
                h += 12
            elif pm_hint is None and 1 <= self.hour <= 7:
                h += 12
            elif self.hour == 12:
                h = 12
        return h * 60 + self.minute


def parse_atom(raw: str, words: ModuleType = en) -> Atom | None:
    """A clock time as written (\"930\", \"half past two\", \"noon\"), or None when ``raw`` is not one."""
    spaced = re.sub(r"\s+", " ", raw.strip())
    ish = bool(re.search(words.ISH + r"$", spaced))
    spaced = re.sub(words.ISH + r"$", "", spaced)
    worded = _worded_minutes(spaced, words)
    if worded is not None or re.match(words.WORDED_MINUTES, spaced):
        return worded
    oclock = re.search(r"\s*" + words.OCLOCK + r"$", spaced)
    s = (spaced[:oclock.start()] if oclock else spaced).replace(" ", "")
    if s in words.NOON_WORDS:
        return Atom(12, 0, None, fixed=True, strong=True)
    if s in words.MIDNIGHT_WORDS:
        return Atom(24, 0, None, fixed=True, strong=True)
    m = re.fullmatch(r"(.+?)(a\.m\.?|p\.m\.?|am|pm|a|p)?", s)
    body, mer = m.group(1), m.group(2)
    meridiem = mer[0] + "m" if mer else None
    minute = 0
    kind = "bare"
    if body in words.HOUR_WORDS:
        hour = words.HOUR_WORDS[body]
    elif words.COMPOUND_MINUTES and (wm := re.fullmatch(
            r"(" + words.HW + r")-?(" + alt(words.COMPOUND_MINUTES) + r")", body)):
        hour = words.HOUR_WORDS[wm.group(1)]
        minute = words.COMPOUND_MINUTES[wm.group(2)]
    elif (nm := re.fullmatch(r"(\d{1,2})([:.])(\d{2})", body)):
        hour, minute = int(nm.group(1)), int(nm.group(3))
        kind = "colon" if nm.group(2) == ":" else "dot"
    elif re.fullmatch(r"\d{3,4}", body):
        hour, minute = int(body[:-2]), int(body[-2:])
        kind = "compact"
    elif re.fullmatch(r"\d{1,2}", body):
        hour = int(body)
    else:
        return None
    if minute > 59 or hour > 23 or (hour == 0 and not kind == "colon"):
        return None
    if meridiem and not 1 <= hour <= 12:
        return None
    if hour >= 13 or (hour == 0):
        if kind == "bare" and hour > 23:
            return None
        return Atom(hour, minute, None, fixed=True, strong=kind == "colon")
    strong = bool(meridiem) or kind == "colon" or bool(oclock) or ish
    return Atom(hour, minute, meridiem, strong=strong)


def _worded_minutes(spaced: str, words: ModuleType) -> Atom | None:
    """ "ten past 4", "quarter to 5", "20 past 9 pm"; "5 to 7" in digits is a range, not 6:55 (None)."""
    for pattern, sign in ((words.MIN_PAST, 1), (words.MIN_TO, -1)):
        m = re.fullmatch(pattern + r"\s*(?P<mer>a\.m\.?|p\.m\.?|am|pm|a|p)?", spaced)
        if not m:
            continue
        minutes = words.MINUTE_WORDS[m.group("min")]
        hour = int(m.group("hour")) if m.group("hour").isdigit() else words.HOUR_WORDS[m.group("hour")]
        if not 1 <= hour <= 12 or (sign < 0 and words.DIGITS_TO_MAY_BE_A_RANGE and m.group("min").isdigit()
                                   and minutes <= hour):
            return None
        meridiem = m.group("mer")[0] + "m" if m.group("mer") else None
        # "10 to 8" is ten minutes before 8, and 8 decides the meridiem (7:50 a.m., not p.m.)
        return Atom(hour, sign * minutes, meridiem, strong=True)
    return None


@dataclass
class TimeSpec:
    kind: str  # "exact", "after", "before", "range"
    a: Atom | None = None
    b: Atom | None = None
    bound: tuple[int, int] | None = None  # after/before a part ("after lunch")

    def interval(self, pm_hint: bool | None) -> tuple[int, int]:
        if self.kind == "exact":
            t = self.a.minutes(pm_hint)
            return t, t
        if self.kind == "after":
            t = self.bound[1] if self.bound else self.a.minutes(pm_hint)
            return t, 1440
        if self.kind == "before":
            t = self.bound[0] if self.bound else self.a.minutes(pm_hint)
            return 0, t
        a, b = self.a, self.b
        if b.meridiem and not a.meridiem and not a.fixed:
            same = Atom(a.hour, a.minute, b.meridiem).minutes(None)
            other = Atom(a.hour, a.minute, "am" if b.meridiem == "pm" else "pm").minutes(None)
            end = b.minutes(None)
            return (same if same < end else other), end
        if a.meridiem and not b.meridiem and not b.fixed:
            start = a.minutes(None)
            end = Atom(b.hour, b.minute, a.meridiem).minutes(None)
            if end <= start and end < 720:
                end += 720
            return start, end
        start, end = a.minutes(pm_hint), b.minutes(pm_hint)
        if end <= start and end < 720 and not b.fixed:
            end += 720
        return start, end
