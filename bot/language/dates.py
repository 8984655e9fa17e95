"""Turn the time expressions in a patient's text into concrete local intervals.

Patients write "tmrw morning", "next tues at 930", "anytime after 3" or
"cancel tuesday and put me in thursday". `parse_when` gives the first such
expression as a `When`; `parse_all_when` gives every one, in order, so a
reschedule action can take the target day (usually the last one).

Conventions (every interval is [start, end), in the zone of `now`):
- a day with no time is the whole day, 00:00 to the next 00:00;
- morning 08-12, early morning 08-10, late morning 10-12, "first thing" 08-12,
  afternoon 12-17, early afternoon 12-14, late afternoon 15-17,
  evening / night / tonight 17-21, lunch / lunchtime 11:30-13:30;
  "early" or "late" right next to a day mean early morning / late afternoon,
  and so do "am" / "pm" for morning / afternoon ("tmrw am", "monday pm");
- "after 3" runs to the end of that day, "before noon" / "by 11" / "until 2"
  from its start; "after lunch" starts at 13:30, "after work" at 17:00,
  "after school" at 15:00; after/before next to a part of day stay inside it
  ("thursday afternoon after 3" is 15:00-17:00);
- "between 2 and 4" / "2-4" / "from 10 to 2" are ranges; a bare hour 1-7 is
  p.m., 8-11 a.m., 12 noon, unless a part of day says otherwise ("8 tonight");
  "around 2" is the exact time 14:00; "midnight" is 00:00 at the end of the day;
- a weekday, with or without "next"/"this", is the nearest such day after
  today, never today; "tuesday next week" is the Tuesday of next week;
- "next week" is next Monday to the Monday after, "this week" today to next
  Monday, "this weekend" the coming Saturday to Monday (today to Monday when
  already weekend), "next weekend" the same except on a weekend, when it is
  the following one; "next month" the 1st of next month to the 1st after;
- dates without a year ("nov 5", "11/3", "the 14th") are the next such date on
  or after today; numeric dates are US month/day;
- a time with no day is today if still ahead of now (an exact time after now,
  a range whose end is after now), otherwise tomorrow; a time right after
  "or"/"," following a day keeps that day ("tuesday at 2 or 3");
- a day spanning several days ("next week") keeps its whole span even when a
  time is given, because one interval cannot say "mornings next week".
Numbers that are not times ("2", "option 3", "2 kids", "$40", phone numbers)
give nothing; bare numbers count as times only after "at", "around",
"after", ... or right next to a day or part of day. Negation ("not tuesday")
is not understood: the caller sees tuesday.

Datetimes are built from wall-clock fields with the zone of `now`, never by
adding timedeltas to aware datetimes, so they are right across daylight-saving
changes; a wall time that does not exist (02:30 on spring-forward day) comes
out as the same instant expressed correctly (03:30 daylight time).
A wall time that happens twice (01:30 on fall-back day) is the first, daylight one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

__all__ = ["When", "parse_when", "parse_all_when", "join_day_alternatives"]


@dataclass(frozen=True)
class When:
    """A local interval named by the patient; exact times have start == end."""

    start: datetime
    end: datetime

    @property
    def is_exact_time(self) -> bool:
        return self.start == self.end


def parse_when(text: str, now: datetime) -> When | None:
    """The first time expression in `text`, or None when it names no time."""
    found = parse_all_when(text, now)
    return found[0] if found else None


def join_day_alternatives(text: str, whens: list[When]) -> list[When]:
    """ "monday or tuesday": neighbouring whole days named as alternatives become one span.

    parse_when keeps its contract (the first expression); the flows that offer
    times use this so that both days are searched. Days apart stay separate.
    """
    if not re.search(r"\bor\b", text.lower()):
        return list(whens)

    def whole_days(w: When) -> bool:
        return w.start < w.end and w.start.time() == w.end.time() == datetime.min.time()

    joined: list[When] = []
    for when in whens:
        if joined and whole_days(joined[-1]) and whole_days(when) and joined[-1].end == when.start:
            joined[-1] = When(joined[-1].start, when.end)
        else:
            joined.append(when)
    return joined


def parse_all_when(text: str, now: datetime) -> list[When]:
    """Every time expression in `text`, in the order written.

    For "cancel tuesday and put me in thursday" this is [tuesday, thursday];
    a reschedule takes the last one as the new day.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return _Parser(text, now).run()


# ---------------------------------------------------------------- vocabulary

_WEEKDAYS: dict[int, tuple[str, ...]] = {
    0: ("monday", "mondays", "mondy", "mnday", "mon"),
    1: ("tuesday", "tuesdays", "tuesdy", "tusday", "teusday", "tuseday", "tueday",
        "tuesay", "tues", "tue", "tu"),
    2: ("wednesday", "wednesdays", "wensday", "wendsday", "wednsday", "wedensday",
        "wednesdy", "wedsday", "wendesday", "wedneday", "weds", "wed"),
    3: ("thursday", "thursdays", "thrusday", "thursdy", "thurday", "thurzday",
        "thurs", "thur", "thrs", "thu"),
    4: ("friday", "fridays", "fridy", "frday", "firday", "fri"),
    5: ("saturday", "saturdays", "saturdy", "satuday", "saterday", "sat"),
    6: ("sunday", "sundays", "sundy", "sun"),
}
_WEEKDAY_OF = {w: n for n, words in _WEEKDAYS.items() for w in words}
# Weekday abbreviations that are also everyday words ("I sat down", "the sun").
_RISKY_WEEKDAYS = {"sat", "sun", "wed", "mon", "tu"}
_RISKY_PRECEDERS = {"i", "we", "he", "she", "they", "it", "who", "just", "never",
                    "had", "have", "has", "was", "were", "got", "get", "the", "a", "in",
                    "im", "i'm", "to", "be", "been", "and"}

_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan"), 2: ("february", "febuary", "feb"), 3: ("march", "mar"),
    4: ("april", "apr"), 5: ("may",), 6: ("june", "jun"), 7: ("july", "jul"),
    8: ("august", "aug"), 9: ("september", "sept", "sep"), 10: ("october", "oct"),
    11: ("november", "nov"), 12: ("december", "dec"),
}
_MONTH_OF = {w: n for n, words in _MONTHS.items() for w in words}

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
    "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "twenty-first": 21, "twenty-second": 22, "twenty-third": 23, "twenty-fourth": 24,
    "twenty-fifth": 25, "twenty-sixth": 26, "twenty-seventh": 27, "twenty-eighth": 28,
    "twenty-ninth": 29, "thirtieth": 30, "thirty-first": 31,
}
_HOUR_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
_COUNT_WORDS = dict(_HOUR_WORDS, a=1, an=1, couple=2, **{"a couple": 2, "a couple of": 2,
                                                      "couple of": 2})

# (start, end) minutes after midnight; see the module docstring.
_PARTS = {
    "morning": (480, 720), "afternoon": (720, 1020), "evening": (1020, 1260),
    "early morning": (480, 600), "late morning": (600, 720), "mid morning": (540, 660),
    "early afternoon": (720, 840), "late afternoon": (900, 1020), "mid afternoon": (780, 960),
    "early evening": (1020, 1140), "late evening": (1140, 1260),
    "lunch": (690, 810), "early": (480, 600), "late": (900, 1020),
}
_PART_WORDS = {
    "morning": "morning", "mornings": "morning", "morn": "morning", "mornin": "morning",
    "am": "morning", "afternoon": "afternoon", "afternoons": "afternoon",
    "aftn": "afternoon", "afternon": "afternoon", "arvo": "afternoon", "pm": "afternoon",
    "evening": "evening", "evenings": "evening", "evenin": "evening", "eve": "evening",
    "night": "evening", "nite": "evening",
}

# Words that show a number is a count, not a time ("2 kids", "at 3 weeks").
_NOT_TIME_FOLLOWERS = {
    "kid", "kids", "child", "children", "people", "person", "persons", "patients",
    "day", "days", "week", "weeks", "wk", "wks", "month", "months", "year", "years",
    "yr", "yrs", "hour", "hours", "hr", "hrs", "minute", "minutes", "min", "mins",
    "dollars", "bucks", "usd", "times", "time", "percent", "pills", "pill", "mg", "ml",
    "mcg", "lbs", "lb", "kg", "one", "ones", "option", "options", "choice", "choices",
    "slot", "slots", "appointment", "appointments", "appt", "appts", "visit", "visits",
    "floor", "grade", "try", "attempt", "line", "dose", "doses", "shot", "shots",
    "round", "point", "points", "of", "questions", "question", "things", "thing",
    "more", "other", "others", "miles", "blocks", "refills", "refill", "meds", "tabs",
    "boxes", "x", "year-old", "yo", "st", "street", "ave", "out",
}

# Gaps allowed between two pieces of one expression ("thursday, ideally in the afternoon").
_FILLER = {"at", "@", "on", "in", "the", "around", "about", "for", "of", "sometime", "some",
           "maybe", "preferably", "ideally", "probably", "like", "is", "would", "be", "good",
           "best", "ok", "okay", "if", "possible", "please", "pls", "plz", "only", "any",
           "anytime", "time", "then", "that", "this", "works", "work", "either", "by",
           "can", "i", "come", "do", "me", "please,", "so", "um", "uh", "say", "right",
           "ish", "or", "so", "lets", "let's", "how", "what", "see"}
_BREAKERS = {"or", "and", "not", "instead", "cancel", "than", "but", "to", "from", "move",
             "/", "&", "nor", "also"}
_BOUND_WORDS = {"after", "aftr", "afer", "before", "b4", "bfore", "by", "until", "till", "til",
                "than"}
_CONNECTIVES = {"or", "and", "maybe", "even", "also", "either", "perhaps", ",", "/", "else",
                "if", "not", "then"}

# ------------------------------------------------------------------ patterns

def _alt(words) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_WD = _alt(_WEEKDAY_OF)
_MON = _alt(_MONTH_OF)
_ORDW = _alt(_ORDINAL_WORDS)
_HW = _alt(_HOUR_WORDS)
_CNT = r"(?:\d{1,3}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|" + _HW + r"|an?)"
_TMRW = (r"(?:tomorrow|tomorow|tommorow|tommorrow|tommorw|tomorrw|tmrw|tmrow|tmro|tmr|tmw|"
         r"tomm|tomoro|tomorro|2morrow|2morow|2moro|2mrw|2mrow|2mro)")
_TODAY = r"(?:today|2day|tdy)"
_TONIGHT = r"(?:tonight|tonite|2nite|2night|this\s+evening|this\s+eve)"
_MER = r"(?:\s*(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])|[ap](?![a-z]))"
_ATOM = (r"(?:12\s*noon|noon|mid-?day|midnight|"
         r"(?:half\s+past|quarter\s+past|quarter\s+(?:to|till|til|of))\s+(?:\d{1,2}|" + _HW + r")"
         r"|(?:\d{1,2}[:.]\d{2}|\d{3,4}|\d{1,2}|(?:" + _HW + r")(?:[\s-]+(?:thirty|fifteen|"
         r"forty[\s-]?five|o'?clock))?)(?:" + _MER + r")?(?:\s*o'?clock)?(?:\s*-?ish)?)")
_B = r"(?<![\w$#/.:'-])"   # start of a free-standing token
_E = r"(?![\w/]|[:.-]\d)"   # end of a free-standing token

_PART_RE = (r"(?:(?!midnight)(?:(early|late|mid)[\s-]*)?(mornings?|mornin|morn|afternoons?|afternon|aftn|"
            r"arvo|evenings?|evenin|eve|night|nite)|lunch\s*time|lunch|(?:first|1st)\s+thing"
            r"(?:\s+in\s+the\s+(?:morning|am|a\.m\.))?|(?<=the\s)(am|pm|a\.m\.|p\.m\.))")


def _word_before(text: str, pos: int) -> str:
    m = re.search(r"([\w'@]+)\W*$", text[:pos])
    return m.group(1) if m else ""


def _word_after(text: str, pos: int) -> str:
    m = re.match(r"[\s,]*([\w'@-]+)", text[pos:])
    return m.group(1) if m else ""


# --------------------------------------------------------------- time values

@dataclass
class _Atom:
    """A clock time as written; the meridiem may still be open ("at 2")."""

    hour: int
    minute: int
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


def _parse_atom(raw: str) -> _Atom | None:
    s = raw.strip().replace(" ", "")
    s = re.sub(r"-?ish$", "", s)
    oclock = bool(re.search(r"o'?clock$", s))
    s = re.sub(r"o'?clock$", "", s)
    if s in ("noon", "12noon", "midday", "mid-day"):
        return _Atom(12, 0, None, fixed=True, strong=True)
    if s == "midnight":
        return _Atom(24, 0, None, fixed=True, strong=True)
    m = re.fullmatch(r"(halfpast|quarterpast|quarter(?:to|till|til|of))(\w+)", s)
    if m:
        h = int(m.group(2)) if m.group(2).isdigit() else _HOUR_WORDS.get(m.group(2))
        if not h or h > 12:
            return None
        if m.group(1) == "halfpast":
            return _Atom(h, 30, None, strong=True)
        if m.group(1) == "quarterpast":
            return _Atom(h, 15, None, strong=True)
        return _Atom(12 if h == 1 else h - 1, 45, None, strong=True)
    m = re.fullmatch(r"(.+?)(a\.m\.?|p\.m\.?|am|pm|a|p)?", s)
    body, mer = m.group(1), m.group(2)
    meridiem = mer[0] + "m" if mer else None
    minute = 0
    kind = "bare"
    if body in _HOUR_WORDS:
        hour = _HOUR_WORDS[body]
    elif (wm := re.fullmatch(r"(" + _HW + r")-?(thirty|fifteen|forty-?five)", body)):
        hour = _HOUR_WORDS[wm.group(1)]
        minute = {"thirty": 30, "fifteen": 15}.get(wm.group(2), 45)
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
        return _Atom(hour, minute, None, fixed=True, strong=kind == "colon")
    strong = bool(meridiem) or kind == "colon" or oclock
    return _Atom(hour, minute, meridiem, strong=strong)


@dataclass
class _TimeSpec:
    kind: str  # "exact", "after", "before", "range"
    a: _Atom | None = None
    b: _Atom | None = None
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
            same = _Atom(a.hour, a.minute, b.meridiem).minutes(None)
            other = _Atom(a.hour, a.minute, "am" if b.meridiem == "pm" else "pm").minutes(None)
            end = b.minutes(None)
            return (same if same < end else other), end
        if a.meridiem and not b.meridiem and not b.fixed:
            start = a.minutes(None)
            end = _Atom(b.hour, b.minute, a.meridiem).minutes(None)
            if end <= start and end < 720:
                end += 720
            return start, end
        start, end = a.minutes(pm_hint), b.minutes(pm_hint)
        if end <= start and end < 720 and not b.fixed:
            end += 720
        return start, end


# ---------------------------------------------------------------- the parser

@dataclass
class _Item:
    start: int
    end: int
    day: tuple[date, date] | None = None
    day_is_weekday: bool = False
    day_is_explicit_date: bool = False
    part: tuple[int, int] | None = None
    time: _TimeSpec | None = None
    instant: datetime | None = None
    inherited: bool = field(default=False)


class _Parser:
    """One pass over one text: claim days, then parts of day, then times."""

    def __init__(self, text: str, now: datetime) -> None:
        self.now = now
        self.zone: tzinfo = now.tzinfo
        self.today = now.date()
        self.text = self._normalise(text)
        self.items: list[_Item] = []

    # -- text preparation
    @staticmethod
    def _normalise(text: str) -> str:
        s = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")

        def mask(m: re.Match) -> str:
            return "#" * len(m.group(0))

        # phone numbers, money and long digit runs are never times
        s = re.sub(r"(?<![\d/])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)", mask, s)
        s = re.sub(r"(?<![\d/-])\d{3}-\d{4}(?![\d-])", mask, s)
        s = re.sub(r"\$\s?\d[\d,]*(?:\.\d+)?", mask, s)
        s = re.sub(r"\d[\d.,]*\s?(?:dollars|bucks|usd|%|mg|ml|mcg|lbs?|kg)\b", mask, s)
        s = re.sub(r"(?<![\d-])\d{5,}", mask, s)
        return s

    # -- claiming spans
    def _free(self, a: int, b: int) -> bool:
        return all(b <= it.start or a >= it.end for it in self.items)

    def _add(self, item: _Item) -> None:
        self.items.append(item)

    def _scan(self, pattern: str, handler) -> None:
        for m in re.finditer(pattern, self.text):
            if self._free(m.start(), m.end()):
                item = handler(m)
                if item is not None:
                    self._add(item)

    # -- dates
    def _day(self, d: date, days: int = 1) -> tuple[date, date]:
        return d, d + timedelta(days=days)

    def _next_weekday(self, wd: int) -> date:
        ahead = (wd - self.today.weekday()) % 7 or 7
        return self.today + timedelta(days=ahead)

    def _next_monday(self) -> date:
        return self.today + timedelta(days=7 - self.today.weekday())

    def _month_day(self, month: int, day: int, year: int | None) -> date | None:
        if year is not None:
            if year < 100:
                year += 2000
            try:
                return date(year, month, day)
            except ValueError:
                return None
        for y in range(self.today.year, self.today.year + 9):
            try:
                d = date(y, month, day)
            except ValueError:
                continue
            if d >= self.today:
                return d
        return None

    def _ordinal_day(self, day: int) -> date | None:
        y, m = self.today.year, self.today.month
        for _ in range(14):
            try:
                d = date(y, m, day)
                if d >= self.today:
                    return d
            except ValueError:
                pass
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return None

    def _count(self, raw: str) -> int:
        raw = re.sub(r"\s+", " ", raw.strip())
        return int(raw) if raw.isdigit() else _COUNT_WORDS[raw]

    def _claim_days(self) -> None:
        t = self.text
        date_item = lambda m, d, n=1: _Item(m.start(), m.end(), day=self._day(d, n))  # noqa: E731

        def explicit(m, d):
            if d is None:
                return None
            it = date_item(m, d)
            it.day_is_explicit_date = True
            return it

        # ISO and numeric dates
        self._scan(_B + r"(\d{4})-(\d{1,2})-(\d{1,2})" + _E, lambda m: explicit(
            m, self._month_day(int(m.group(2)), int(m.group(3)), int(m.group(1)))))

        def numeric(m):
            sep_dash = "-" in m.group(0)
            month, day = int(m.group(1)), int(m.group(2))
            year = int(m.group(3)) if m.group(3) else None
            if not (1 <= month <= 12 and 1 <= day <= 31):
                return None
            if _word_after(t, m.end()) in _NOT_TIME_FOLLOWERS:
                return None
            if sep_dash and year is None:
                before = _word_before(t, m.start())
                after = t[m.end():m.end() + 6]
                if re.match(r"\s*(?:[ap]\.?m|[ap](?![a-z]))", after) or before in (
                        "between", "from", "at", "around", "anytime", "@", "time", "free"):
                    return None
                if day <= 12 and before not in ("on", "date", "for"):
                    return None
            return explicit(m, self._month_day(month, day, year))

        self._scan(_B + r"(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?" + _E, numeric)

        # month-name dates
        def month_first(m):
            day = int(m.group(2)) if m.group(2).isdigit() else _ORDINAL_WORDS[m.group(2)]
            year = int(m.group(3)) if m.group(3) else None
            return explicit(m, self._month_day(_MONTH_OF[m.group(1)], day, year))

        def day_first(m):
            day = int(m.group(1)) if m.group(1).isdigit() else _ORDINAL_WORDS[m.group(1)]
            year = int(m.group(3)) if m.group(3) else None
            return explicit(m, self._month_day(_MONTH_OF[m.group(2)], day, year))

        self._scan(_B + r"(" + _MON + r")\.?\s*(?:the\s+)?(\d{1,2}(?=st|nd|rd|th|\b)|" + _ORDW +
                   r")(?:st|nd|rd|th)?(?!\s*(?::\d|[ap]\.?m\b|[ap]\b|-\d))"
                   r"(?:,?\s+(\d{4}))?" + _E, month_first)
        self._scan(_B + r"(?:the\s+)?(\d{1,2}|" + _ORDW + r")(?:st|nd|rd|th)?\s+(?:of\s+)?(" + _MON +
                   r")\.?(?:,?\s+(\d{4}))?(?![\w])", day_first)

        # relative days
        self._scan(_B + r"(?:the\s+)?day\s+after\s+" + _TMRW + r"\b",
                   lambda m: date_item(m, self.today + timedelta(days=2)))
        self._scan(_B + r"(?:the\s+)?day\s+after\s+" + _TODAY + r"\b",
                   lambda m: date_item(m, self.today + timedelta(days=1)))

        def in_n(m):
            n = self._count(m.group(1)) * (7 if m.group(2).startswith("w") else 1)
            if m.lastindex == 3 and m.group(3) not in ("now",) and not re.fullmatch(_TODAY, m.group(3)):
                n += 1  # "a week from tomorrow"
            return date_item(m, self.today + timedelta(days=n))

        self._scan(_B + r"in\s+(?:about\s+|like\s+)?(" + _CNT + r")\s+(days?|weeks?|wks?)\b", in_n)
        self._scan(_B + r"(" + _CNT + r")\s+(days?|weeks?|wks?)\s+from\s+(now|" + _TODAY + r"|"
                   + _TMRW + r")\b", in_n)

        def in_minutes(m):
            raw = m.group(1).strip()
            if raw.startswith("half"):
                mins = 30
            else:
                n = self._count(raw)
                mins = n * 60 if m.group(2).startswith("h") else n
            instant = (self.now.astimezone(timezone.utc) + timedelta(minutes=mins)).astimezone(self.zone)
            return _Item(m.start(), m.end(), instant=instant)

        self._scan(_B + r"in\s+(half\s+an?|" + _CNT + r")\s*(hours?|hrs?|minutes?|mins?)\b",
                   in_minutes)

        self._scan(_B + _TMRW + r"(?!\w)", lambda m: date_item(m, self.today + timedelta(days=1)))
        self._scan(_B + r"(?:later\s+)?" + _TODAY + r"\b", lambda m: date_item(m, self.today))
        self._scan(_B + _TONIGHT + r"\b", lambda m: _Item(
            m.start(), m.end(), day=self._day(self.today), part=_PARTS["evening"]))
        self._scan(_B + r"this\s+(morning|afternoon|aft|arvo)\b", lambda m: _Item(
            m.start(), m.end(), day=self._day(self.today),
            part=_PARTS["morning" if m.group(1) == "morning" else "afternoon"]))

        monday = self._next_monday()
        self._scan(_B + r"(?:the\s+)?week\s+after\s+next\b",
                   lambda m: date_item(m, monday + timedelta(days=7), 7))

        # weekdays (before "next week" so "tuesday next week" stays one piece)
        def weekday(m):
            lead, word = m.group(1), m.group(3)
            wd = _WEEKDAY_OF[word]
            if word in _RISKY_WEEKDAYS and not (lead or m.group(2) or m.group(4)):
                if _word_before(t, m.start()) in _RISKY_PRECEDERS:
                    return None
                if _word_after(t, m.end()) in ("is", "was", "will", "shines", "down", "up",
                                               "to", "me", "you", "him", "her", "them"):
                    return None
            if m.group(2) or m.group(4):
                d = monday + timedelta(days=wd)
            elif m.group(5) or (lead and lead.startswith("a")):
                d = self._next_weekday(wd) + timedelta(days=7)
            else:
                d = self._next_weekday(wd)
            it = date_item(m, d)
            it.day_is_weekday = True
            return it

        self._scan(_B + r"(?:(a\s+week\s+from|(?:this\s+)?coming|next|this|on)\s+)?"
                   r"((?:next\s+week\s+(?:on\s+)?)?)(" + _WD + r")\.?(?![\w])"
                   r"((?:,?\s+(?:of\s+)?next\s+week)?)((?:\s+after\s+next)?)", weekday)

        self._scan(_B + r"early\s+next\s+week\b", lambda m: date_item(m, monday, 2))
        self._scan(_B + r"next\s+week(?:end)?\b", lambda m: (
            date_item(m, self._next_weekend(following=True), 2) if m.group(0).endswith("end")
            else date_item(m, monday, 7)))
        self._scan(_B + r"(?:later\s+)?this\s+week\b", lambda m: (
            date_item(m, self.today + timedelta(days=1), (monday - self.today).days - 1)
            if m.group(0).startswith("later") and (monday - self.today).days > 1
            else date_item(m, self.today, (monday - self.today).days)))
        self._scan(_B + r"(?:(?:this|the|on\s+the)\s+)?weekend\b",
                   lambda m: date_item(m, self._next_weekend(following=False),
                                       (self._next_weekend(following=False).weekday() == 5) + 1))
        self._scan(_B + r"next\s+month\b", lambda m: date_item(
            m, self._first_of_next(self.today), (self._first_of_next(
                self._first_of_next(self.today)) - self._first_of_next(self.today)).days))
        self._scan(_B + r"this\s+month\b", lambda m: date_item(
            m, self.today, (self._first_of_next(self.today) - self.today).days))

        def in_month(m):
            month = _MONTH_OF[m.group(1)]
            first = date(self.today.year, month, 1)
            if month < self.today.month:
                first = date(self.today.year + 1, month, 1)
            start = max(first, self.today)
            return date_item(m, start, (self._first_of_next(first) - start).days)

        self._scan(_B + r"(?:in|during)\s+(?:early\s+|late\s+|mid\s+)?(january|february|march|april|"
                   r"may|june|july|august|september|october|november|december)\b(?!\s*\d)", in_month)

        # "the 14th", "on the 3rd", "on the fifth"
        def ordinal(m):
            if _word_after(t, m.end()) in _NOT_TIME_FOLLOWERS:
                return None
            raw = m.group(1)
            if not raw[0].isdigit() and not m.group(0).startswith("on"):
                return None
            day = int(raw) if raw.isdigit() else _ORDINAL_WORDS[raw]
            if not 1 <= day <= 31:
                return None
            return explicit(m, self._ordinal_day(day))

        self._scan(_B + r"(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b", ordinal)
        self._scan(_B + r"on\s+the\s+(" + _ORDW + r")\b", ordinal)

    def _next_weekend(self, following: bool) -> date:
        wd = self.today.weekday()
        if wd >= 5:
            if following:
                return self.today + timedelta(days=12 - wd)
            return self.today
        return self.today + timedelta(days=5 - wd)

    @staticmethod
    def _first_of_next(d: date) -> date:
        return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)

    # -- parts of day
    def _near_day(self, a: int, b: int) -> bool:
        for it in self.items:
            if it.day is None:
                continue
            if it.end <= a and re.fullmatch(r"[\s,]*(?:on\s+)?", self.text[it.end:a]):
                return True
            if it.start >= b and re.fullmatch(r"[\s,]*(?:on\s+)?", self.text[b:it.start]):
                return True
        return False

    def _claim_parts(self) -> None:
        def part(m):
            raw = m.group(0)
            if raw.startswith(("first", "1st")):
                return _Item(m.start(), m.end(), part=_PARTS["morning"])
            if raw.startswith("lunch"):
                if _word_before(self.text, m.start()) in _BOUND_WORDS:
                    return None  # "after lunch" is a bound, claimed with the times
                return _Item(m.start(), m.end(), part=_PARTS["lunch"])
            if m.group(3):
                key = "morning" if m.group(3).startswith("a") else "afternoon"
                return _Item(m.start(), m.end(), part=_PARTS[key])
            name = _PART_WORDS[m.group(2)]
            if m.group(2) in ("night", "nite") and _word_before(self.text, m.start()) in (
                    "last", "all", "good", "every", "one", "other"):
                return None
            if m.group(2) == "eve" and not self._near_day(m.start(), m.end()):
                return None
            key = f"{m.group(1)} {name}" if m.group(1) else name
            return _Item(m.start(), m.end(), part=_PARTS.get(key, _PARTS[name]))

        self._scan(_B + r"(?:(?:in|during)\s+the\s+|this\s+|at\s+|around\s+|over\s+)?" + _PART_RE
                   + r"(?![\w])", part)

        def early_late(m):
            if not self._near_day(m.start(), m.end()):
                return None
            return _Item(m.start(), m.end(), part=_PARTS[m.group(1)])

        self._scan(_B + r"(early|late)(?![\w-])(?!\s+(?:next|this|in|on\b))", early_late)

        def meridiem(m):  # "tmrw am", "monday p.m.": am/pm right next to a day, no number before it
            if not self._near_day(m.start(), m.end()):
                return None
            return _Item(m.start(), m.end(), part=_PARTS["morning" if m.group(1).startswith("a") else "afternoon"])

        self._scan(_B + r"(?<!\d\s)(am|pm|a\.m\.|p\.m\.)(?![\w])(?!\s+i\b)", meridiem)  # not "tuesday am i booked"

    # -- times
    def _near_part(self, a: int, b: int) -> bool:
        for it in self.items:
            if it.part is None and it.day is None:
                continue
            if it.start >= b and re.fullmatch(r"[\s,]*", self.text[b:it.start]) and it.part:
                return True
            if it.end <= a and re.fullmatch(r"[\s,]*(?:at\s+|@\s*)?", self.text[it.end:a]):
                return True
        return False

    def _after_alternative(self, a: int) -> bool:
        """True for the 3 in "at 2 or 3": a bare number offered as another time."""
        return any(it.time is not None and it.end <= a
                   and re.fullmatch(r"\s*(?:or|,|/)\s*(?:maybe\s+)?", self.text[it.end:a])
                   for it in self.items)

    def _claim_times(self) -> None:
        t = self.text
        A = r"(" + _ATOM + r")"

        def ok_follower(m) -> bool:
            return _word_after(t, m.end()) not in _NOT_TIME_FOLLOWERS

        def rng(m, need_context: bool):
            a, b = _parse_atom(m.group(1)), _parse_atom(m.group(2))
            if a is None or b is None or not ok_follower(m):
                return None
            if need_context and not (a.strong or b.strong or self._near_part(m.start(), m.end())
                                     or _word_before(t, m.start()) in (
                                         "at", "@", "around", "anytime", "time", "free",
                                         "available", "about", "avail", "like", "any", "do",
                                         "could", "can", "say", "maybe", "try")):
                return None
            return _Item(m.start(), m.end(), time=_TimeSpec("range", a, b))

        self._scan(_B + r"(?:between|btwn|btw|b/w|betw)\s+" + A + r"\s*(?:and|&|-|to|n)\s*" + A + _E,
                   lambda m: rng(m, False))
        self._scan(_B + r"(?:from|frm|anytime|any\s+time)\s+" + A +
                   r"\s*(?:to|till?|until|-|through|thru)\s*" + A + _E, lambda m: rng(m, False))
        self._scan(_B + A + r"\s*(?:-|to|till?|until)\s*" + A + _E, lambda m: rng(m, True))

        def bounded(m, kind):
            target = m.group(1)
            if target in ("lunch", "lunchtime", "lunch time"):
                return _Item(m.start(), m.end(), time=_TimeSpec(kind, bound=_PARTS["lunch"]))
            if target in ("work", "school"):
                if kind == "before":
                    return None
                at = 1020 if target == "work" else 900
                return _Item(m.start(), m.end(), time=_TimeSpec(kind, bound=(at, at)))
            a = _parse_atom(target)
            if a is None or not ok_follower(m):
                return None
            return _Item(m.start(), m.end(), time=_TimeSpec(kind, a))

        tail = r"\s*(" + _ATOM + r"|lunch\s*time|lunch|work|school)" + _E
        self._scan(_B + r"(?:(?:any\s*time|anything|sometime|only|just)\s+)?(?:after|aftr|afer|"
                   r"later\s+than|no\s+earlier\s+than|(?:not|nothing)\s+(?:before|earlier\s+than))" + tail,
                   lambda m: bounded(m, "after"))
        self._scan(_B + r"(?:(?:any\s*time|anything|sometime|only|just)\s+)?(?:before|b4|bfore|by|"
                   r"until|till?|no\s+later\s+than|(?:not|nothing)\s+(?:after|later\s+than)|earlier\s+than)" + tail,
                   lambda m: bounded(m, "before"))

        def exact(m, need_context: bool):
            a = _parse_atom(m.group(1))
            # "the 9:30 one" is a time; "2 kids" is not: only weak numbers need the follower check.
            if a is None or (not a.strong and not ok_follower(m)):
                return None
            if need_context and not a.strong:
                compact_ok = (re.fullmatch(r"\d{3,4}|\d{1,2}\.\d\d", m.group(1).strip())
                              and a.minute in (15, 30, 45))
                if not (compact_ok or self._near_part(m.start(), m.end())
                        or self._after_alternative(m.start())):
                    return None
            return _Item(m.start(), m.end(), time=_TimeSpec("exact", a))

        self._scan(_B + r"(?:at|@|around|about|abt|approx|approximately|~|round|'round|say|"
                   r"arnd|aroun)\s*" + A + _E, lambda m: exact(m, False))
        self._scan(_B + A + _E, lambda m: exact(m, True))

    # -- grouping and resolution
    def run(self) -> list[When]:
        self._claim_days()
        self._claim_parts()
        self._claim_times()
        self.items.sort(key=lambda it: it.start)
        groups: list[_Item] = []
        for it in self.items:
            g = groups[-1] if groups else None
            if g is not None and self._mergeable(g, it):
                self._merge(g, it)
            else:
                groups.append(_Item(it.start, it.end, it.day, it.day_is_weekday,
                                    it.day_is_explicit_date, it.part, it.time, it.instant))
        results: list[When] = []
        previous: _Item | None = None
        for g in groups:
            if g.day is None and g.instant is None and previous is not None \
                    and previous.day is not None and self._connective(previous.end, g.start):
                g.day, g.inherited = previous.day, True
                if g.part is None and previous.part is not None and g.time is not None:
                    g.part = previous.part
                    g.inherited = True
            results.append(self._resolve(g))
            previous = g
        return results

    def _connective(self, a: int, b: int) -> bool:
        words = re.findall(r"[\w']+|[,/]", self.text[a:b])
        return len(words) <= 3 and all(w in _CONNECTIVES for w in words) and bool(words)

    def _mergeable(self, g: _Item, it: _Item) -> bool:
        if g.instant is not None or it.instant is not None:
            return False
        gap = re.findall(r"[\w'@&/]+", self.text[g.end:it.start])
        if len(gap) > 4 or any(w in _BREAKERS for w in gap) or not all(
                w in _FILLER for w in gap):
            return False
        if g.day is not None and it.day is not None and g.day != it.day:
            if not ((g.day_is_weekday and it.day_is_explicit_date)
                    or (g.day_is_explicit_date and it.day_is_weekday)) or len(gap) > 1:
                return False
        if g.part is not None and it.part is not None and g.part != it.part and \
                it.day is None:
            return False
        if g.time is not None and it.time is not None:
            return False
        return True

    @staticmethod
    def _merge(g: _Item, it: _Item) -> None:
        if it.day is not None and (g.day is None or it.day_is_explicit_date):
            g.day, g.day_is_explicit_date = it.day, it.day_is_explicit_date
        if it.part is not None and g.part is None:
            g.part = it.part
        elif it.part is not None and it.day is None:
            g.part = it.part
        if it.time is not None:
            g.time = it.time
        g.end = it.end

    def _at(self, d: date, minutes: int) -> datetime:
        """Wall-clock time on day `d`; 1440 is the midnight that ends it."""
        if minutes >= 1440:
            d, minutes = d + timedelta(days=minutes // 1440), minutes % 1440
        local = datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=self.zone)
        # Round-trip through UTC so a wall time skipped by spring-forward comes out valid.
        return local.astimezone(timezone.utc).astimezone(self.zone)

    def _interval(self, g: _Item) -> tuple[int, int] | None:
        pm_hint = None
        if g.part is not None:
            pm_hint = g.part[0] >= 720 if g.part[0] != 690 else None
            if g.part[0] < 720 and g.part[1] <= 720:
                pm_hint = False
        if g.time is None:
            return g.part
        start, end = g.time.interval(pm_hint)
        if g.part is not None and g.time.kind in ("after", "before") and not g.inherited:
            start, end = max(start, g.part[0]), min(end, g.part[1])
            if start > end:
                start, end = g.time.interval(pm_hint)
        return start, end

    def _resolve(self, g: _Item) -> When:
        if g.instant is not None:
            return When(g.instant, g.instant)
        span = self._interval(g)
        if g.day is not None:
            d0, d1 = g.day
            if span is None or (d1 - d0).days > 1:
                return When(self._at(d0, 0), self._at(d1, 0))
            return When(self._at(d0, span[0]), self._at(d0, span[1]))
        start, end = self._at(self.today, span[0]), self._at(self.today, span[1])
        ahead = start > self.now if start == end else end > self.now
        if ahead:
            return When(start, end)
        tomorrow = self.today + timedelta(days=1)
        return When(self._at(tomorrow, span[0]), self._at(tomorrow, span[1]))

