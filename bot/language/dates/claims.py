"""Claims: the spans of a text that name a day, a part of the day or a time, each as an Item.

Days are claimed first, then parts of the day, then times, each only where no earlier claim lies,
so "tuesday at 2" is a day and a time and "2 kids" stays nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from types import ModuleType

from bot.language.dates.atoms import TimeSpec, parse_atom
from bot.language.dates.parts import PARTS, SCHOOL_ENDS, WORK_ENDS
from bot.language.dates.vocabulary import en
from bot.language.dates.vocabulary.common import B, E, word_after, word_before

# "after the 10th": the days after it, for this many days (as long as an offer's widest search).
AFTER_A_DAY_DAYS = 30


@dataclass
class Item:
    start: int
    end: int
    day: tuple[date, date] | None = None
    day_is_weekday: bool = False
    day_is_explicit_date: bool = False
    part: tuple[int, int] | None = None
    time: TimeSpec | None = None
    instant: datetime | None = None
    inherited: bool = field(default=False)


class Claims:
    """The first half of one pass over one text: claim spans for days, then parts of day, then times.

    Each claim is an Item over characters no earlier claim holds; resolution.py groups and resolves them.
    """

    def __init__(self, text: str, now: datetime, words: ModuleType = en) -> None:
        self.words = words
        self.now = now
        self.zone: tzinfo = now.tzinfo
        self.today = now.date()
        self.text = self._normalise(text, words)
        self.items: list[Item] = []

    # -- text preparation
    @staticmethod
    def _normalise(text: str, words: ModuleType) -> str:
        s = words.fold(text.lower()).replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")

        def mask(m: re.Match) -> str:
            return "#" * len(m.group(0))

        # phone numbers, money and long digit runs are never times
        s = re.sub(r"(?<![\d/])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)", mask, s)
        s = re.sub(r"(?<![\d/-])\d{3}-\d{4}(?![\d-])", mask, s)
        s = re.sub(r"\$\s?\d[\d,]*(?:\.\d+)?", mask, s)
        s = re.sub(r"\d[\d.,]*\s?(?:" + words.AMOUNT_UNITS + r")\b", mask, s)
        s = re.sub(r"(?<![\d-])\d{5,}", mask, s)
        return s

    # -- claiming spans
    def _free(self, a: int, b: int) -> bool:
        return all(b <= it.start or a >= it.end for it in self.items)

    def _add(self, item: Item) -> None:
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
        v = self.words
        raw = re.sub(r"\s+", " ", raw.strip())
        return int(raw) if raw.isdigit() else v.COUNT_WORDS[raw]

    def _claim_days(self) -> None:
        v = self.words
        t = self.text
        date_item = lambda m, d, n=1: Item(m.start(), m.end(), day=self._day(d, n))  # noqa: E731

        def explicit(m, d):
            if d is None:
                return None
            it = date_item(m, d)
            it.day_is_explicit_date = True
            return it

        self._claim_day_ranges()
        self._claim_days_of_a_month()

        # ISO and numeric dates
        self._scan(B + r"(\d{4})-(\d{1,2})-(\d{1,2})" + E, lambda m: explicit(
            m, self._month_day(int(m.group(2)), int(m.group(3)), int(m.group(1)))))

        def numeric(m):
            sep_dash = "-" in m.group(0)
            month, day = int(m.group(1)), int(m.group(2))
            year = int(m.group(3)) if m.group(3) else None
            if not (1 <= month <= 12 and 1 <= day <= 31):
                return None
            if word_after(t, m.end()) in v.NOT_TIME_FOLLOWERS:
                return None
            if sep_dash and year is None:
                before = word_before(t, m.start())
                after = t[m.end():m.end() + 6]
                if re.match(r"\s*(?:[ap]\.?m|[ap](?![a-z]))", after) or before in v.DASH_DATE_NOT_AFTER:
                    return None
                if day <= 12 and before not in v.DASH_DATE_LEADS:
                    return None
            return explicit(m, self._month_day(month, day, year))

        self._scan(B + r"(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?" + E, numeric)

        # month-name dates
        def month_first(m):
            day = int(m.group(2)) if m.group(2).isdigit() else v.ORDINAL_WORDS[m.group(2)]
            year = int(m.group(3)) if m.group(3) else None
            return explicit(m, self._month_day(v.MONTH_OF[m.group(1)], day, year))

        def day_first(m):
            day = int(m.group(1)) if m.group(1).isdigit() else v.ORDINAL_WORDS[m.group(1)]
            year = int(m.group(3)) if m.group(3) else None
            return explicit(m, self._month_day(v.MONTH_OF[m.group(2)], day, year))

        self._scan(B + r"(" + v.MON + r")\.?\s*" + v.THE + r"(\d{1,2}(?=" + v.ORD_SUFFIX + r"|\b)|" + v.ORDW +
                   r")" + v.ORD_SUFFIX + r"?(?!\s*(?::\d|[ap]\.?m\b|[ap]\b|-\d))"
                   r"(?:" + v.YEAR_JOINT + r"(\d{4}))?" + E, month_first)
        self._scan(B + v.THE + r"(\d{1,2}|" + v.ORDW + r")" + v.ORD_SUFFIX + r"?\s+" + v.OF + r"(" + v.MON +
                   r")\.?(?:" + v.YEAR_JOINT + r"(\d{4}))?(?![\w])", day_first)

        # relative days
        self._scan(B + v.DAY_AFTER_TOMORROW,
                   lambda m: date_item(m, self.today + timedelta(days=2)))
        self._scan(B + v.DAY_AFTER_TODAY,
                   lambda m: date_item(m, self.today + timedelta(days=1)))

        def in_n(m):
            n = self._count(m.group(1)) * (7 if re.fullmatch(v.WEEK_UNIT, m.group(2)) else 1)
            if m.lastindex == 3 and m.group(3) not in v.NOW_WORDS and not re.fullmatch(v.TODAY, m.group(3)):
                n += 1  # "a week from tomorrow"
            return date_item(m, self.today + timedelta(days=n))

        self._scan(B + v.IN_N_DAYS, in_n)
        self._scan(B + v.N_DAYS_FROM, in_n)

        def in_minutes(m):
            raw = m.group(1).strip()
            if re.fullmatch(v.HALF_AN_HOUR, raw):
                mins = 30
            else:
                n = self._count(raw)
                mins = n * 60 if re.fullmatch(v.HOUR_UNIT, m.group(2)) else n
            instant = (self.now.astimezone(timezone.utc) + timedelta(minutes=mins)).astimezone(self.zone)
            return Item(m.start(), m.end(), instant=instant)

        self._scan(B + v.IN_MINUTES, in_minutes)

        self._scan(B + v.TMRW + r"(?!\w)", lambda m: date_item(m, self.today + timedelta(days=1)))
        self._scan(B + v.TODAY_RE, lambda m: date_item(m, self.today))
        self._scan(B + v.TONIGHT + r"\b", lambda m: Item(
            m.start(), m.end(), day=self._day(self.today), part=PARTS["evening"]))
        self._scan(B + v.THIS_PART, lambda m: Item(
            m.start(), m.end(), day=self._day(self.today),
            part=PARTS["morning" if v.PART_WORDS.get(m.group(1)) == "morning" else "afternoon"]))

        monday = self._next_monday()
        self._scan(B + v.WEEK_AFTER_NEXT,
                   lambda m: date_item(m, monday + timedelta(days=7), 7))

        # weekdays (before "next week" so "tuesday next week" stays one piece)
        def weekday(m):
            lead, word = m.group(1), m.group(3)
            wd = v.WEEKDAY_OF[word]
            if word in v.STRICT_WEEKDAYS and not (m.group(2) or m.group(4) or (
                    lead and re.fullmatch(v.STRONG_WEEKDAY_LEAD, lead))):
                return None  # Spanish "mar": the sea, unless "el próximo mar"
            if word in v.RISKY_WEEKDAYS and not (lead or m.group(2) or m.group(4)):
                if word_before(t, m.start()) in v.RISKY_PRECEDERS:
                    return None
                if word_after(t, m.end()) in v.RISKY_FOLLOWERS:
                    return None
            if m.group(2) or m.group(4):
                d = monday + timedelta(days=wd)
            elif m.group(5) or (lead and re.fullmatch(v.WEEK_LATER_LEAD, lead)):
                d = self._next_weekday(wd) + timedelta(days=7)
            else:
                d = self._next_weekday(wd)
            it = date_item(m, d)
            it.day_is_weekday = True
            return it

        def weekday_date(m):  # "el lunes 14": the date, as with "Thu, Oct 8"
            it = explicit(m, self._ordinal_day(int(m.group(2))))
            if it is not None:
                it.day_is_weekday = True
            return it

        self._scan(B + v.WEEKDAY_DAY_NUMBER, weekday_date)
        self._scan(B + v.WEEKDAY_RE, weekday)

        self._scan(B + v.EARLY_NEXT_WEEK, lambda m: date_item(m, monday, 2))
        self._scan(B + v.NEXT_WEEK_OR_WEEKEND, lambda m: (
            date_item(m, self._next_weekend(following=True), 2) if m.group("weekend")
            else date_item(m, monday, 7)))
        self._scan(B + v.UPCOMING_WEEK, lambda m: date_item(m, monday, 7))
        self._scan(B + v.THIS_WEEKEND,
                   lambda m: date_item(m, self._next_weekend(following=False),
                                       (self._next_weekend(following=False).weekday() == 5) + 1))
        self._scan(B + v.THIS_WEEK, lambda m: (
            date_item(m, self.today + timedelta(days=1), (monday - self.today).days - 1)
            if m.group("later") and (monday - self.today).days > 1
            else date_item(m, self.today, (monday - self.today).days)))
        self._scan(B + v.NEXT_MONTH, lambda m: date_item(
            m, self._first_of_next(self.today), (self._first_of_next(
                self._first_of_next(self.today)) - self._first_of_next(self.today)).days))
        self._scan(B + v.THIS_MONTH, lambda m: date_item(
            m, self.today, (self._first_of_next(self.today) - self.today).days))

        def in_month(m):
            month = v.MONTH_OF[m.group(1)]
            first = date(self.today.year, month, 1)
            if month < self.today.month:
                first = date(self.today.year + 1, month, 1)
            start = max(first, self.today)
            return date_item(m, start, (self._first_of_next(first) - start).days)

        self._scan(B + v.IN_MONTH, in_month)

        # "the 14th", "on the 3rd", "on the fifth"
        def ordinal(m):
            if word_after(t, m.end()) in v.NOT_TIME_FOLLOWERS:
                return None
            raw = m.group(1)
            day = int(raw) if raw.isdigit() else v.ORDINAL_WORDS[raw]
            if not 1 <= day <= 31:
                return None
            return explicit(m, self._ordinal_day(day))

        self._scan(B + v.ORDINAL_DAY, ordinal)
        self._scan(B + v.ORDINAL_WORD_DAY, ordinal)
        self._widen_named_days()

    def _day_number(self, raw: str) -> int:
        return int(raw) if raw.isdigit() else self.words.ORDINAL_WORDS[raw]

    def _span(self, m: re.Match, first: date | None, last: date | None) -> Item | None:
        """Days ``first`` to ``last``, both included, as one explicit span (at most two months)."""
        if first is None or last is None or not timedelta(0) < last - first <= timedelta(days=62):
            return None
        item = Item(m.start(), m.end(), day=(first, last + timedelta(days=1)))
        item.day_is_explicit_date = True
        return item

    def _claim_day_ranges(self) -> None:
        """ "Nov 3 to 6", "Nov 3-6", "from the 3rd to the 6th of Nov", "between 11/3 and 11/6"."""
        v = self.words
        not_a_time = r"(?!\s*(?::\d|[ap]\.?m\b|[ap]\b|" + v.OCLOCK + r"))"

        def joined(m) -> bool:  # "and" joins two days only after "between"
            return m.group("sep") != v.DAY_RANGE_AND or m.group("lead") in v.DAY_RANGE_BETWEEN

        def month_first(m):
            if not joined(m):
                return None
            month = v.MONTH_OF[m.group("m1")]
            year = int(m.group("year")) if m.group("year") else None
            first = self._month_day(month, self._day_number(m.group("d1")), year)
            if first is None:
                return None
            month2 = v.MONTH_OF[m.group("m2")] if m.group("m2") else month
            last = self._month_day_from(first, month2, self._day_number(m.group("d2")))
            return self._span(m, first, last)

        self._scan(B + v.DAY_RANGE_FROM
                   + r"(?P<m1>" + v.MON + r")\.?\s*" + v.THE + v.DAY_NUMBER.replace("(", "(?P<d1>", 1)
                   + v.DAY_RANGE_SEP + r"(?:(?P<m2>" + v.MON + r")\.?\s*)?"
                   + v.THE + v.DAY_NUMBER.replace("(", "(?P<d2>", 1) + not_a_time
                   + r"(?:" + v.YEAR_JOINT + r"(?P<year>\d{4}))?" + E, month_first)

        def day_first(m):
            if not joined(m):
                return None
            if not (m.group("lead") or re.search(v.ARTICLE_RE, m.group(0))
                    or re.search(r"\d" + v.ORD_SUFFIX, m.group(0))
                    or not m.group("d1").isdigit()):
                return None  # "2-4 nov" could be a time before a date; "the 3rd to the 6th of nov" is not
            month = v.MONTH_OF[m.group("m")]
            last = self._month_day(month, self._day_number(m.group("d2")), None)
            if last is None:
                return None
            d1 = self._day_number(m.group("d1"))
            try:
                first = date(last.year, last.month, d1) if d1 <= last.day else None
            except ValueError:
                first = None
            if first is None:  # "the 28th to the 3rd of March": the month before
                prev = last.replace(day=1) - timedelta(days=1)
                try:
                    first = date(prev.year, prev.month, d1)
                except ValueError:
                    return None
            return self._span(m, max(first, self.today) if first < self.today <= last else first, last)

        self._scan(B + v.DAY_RANGE_FROM + v.THE
                   + v.DAY_NUMBER.replace("(", "(?P<d1>", 1) + v.DAY_RANGE_SEP
                   + v.THE + v.DAY_NUMBER.replace("(", "(?P<d2>", 1) + r"\s+" + v.OF + r"(?P<m>" + v.MON
                   + r")\.?(?!\s*\d)(?![\w])", day_first)

        def ordinals(m):  # "the 1st to the 3rd": the next such 1st, and the 3rd after it
            if not joined(m) or any(m.group(k).isdigit() and not re.search(
                    m.group(k) + v.ORD_SUFFIX, m.group(0)) for k in ("d1", "d2")):
                return None
            first = self._ordinal_day(self._day_number(m.group("d1")))
            if first is None:
                return None
            d2 = self._day_number(m.group("d2"))
            month = first.month if d2 > first.day else self._first_of_next(first).month
            return self._span(m, first, self._month_day_from(first, month, d2))

        self._scan(B + v.DAY_RANGE_FROM + v.THE
                   + v.DAY_NUMBER.replace("(", "(?P<d1>", 1) + v.DAY_RANGE_SEP
                   + v.THE + v.DAY_NUMBER.replace("(", "(?P<d2>", 1) + not_a_time + r"(?![\w])", ordinals)

        def numeric(m):
            if not joined(m):
                return None
            m1, d1, m2, d2 = (int(m.group(k)) for k in ("m1", "d1", "m2", "d2"))
            if not (1 <= m1 <= 12 and 1 <= m2 <= 12):
                return None
            first = self._month_day(m1, d1, None)
            return self._span(m, first, None if first is None else self._month_day_from(first, m2, d2))

        self._scan(B + v.DAY_RANGE_FROM
                   + r"(?P<m1>\d{1,2})/(?P<d1>\d{1,2})" + v.DAY_RANGE_SEP
                   + r"(?P<m2>\d{1,2})/(?P<d2>\d{1,2})" + E, numeric)

    def _month_day_from(self, first: date, month: int, day: int) -> date | None:
        """The first ``month``/``day`` on or after ``first`` (the end of a range of days)."""
        for year in (first.year, first.year + 1):
            try:
                d = date(year, month, day)
            except ValueError:
                return None
            if d >= first:
                return d
        return None

    def _shifted_month(self, shift: int) -> date:
        first = self.today.replace(day=1)
        for _ in range(shift):
            first = self._first_of_next(first)
        return first

    def _claim_days_of_a_month(self) -> None:
        """ "the 12th of next month", "next month on the 3rd", "the second friday of next month"."""
        v = self.words

        def nth_of(m, day_raw: str, shift: str):
            if not (re.search(v.ARTICLE_RE, m.group(0)) or re.search(r"\d" + v.ORD_SUFFIX, m.group(0))
                    or not day_raw.isdigit()):
                return None
            try:
                d = self._shifted_month(v.MONTH_SHIFTS[re.sub(r"\s+", " ", shift)]).replace(
                    day=self._day_number(day_raw))
            except ValueError:
                return None
            return Item(m.start(), m.end(), day=self._day(d), day_is_explicit_date=True)

        self._scan(B + v.ON + v.THE + v.DAY_NUMBER + r"\s+" + v.OF + v.MONTH_SHIFT + r"\b",
                   lambda m: nth_of(m, m.group(1), m.group(2)))
        self._scan(B + v.MONTH_SHIFT + r",?\s+" + v.ON + v.THE + v.DAY_NUMBER + r"(?![\w])",
                   lambda m: nth_of(m, m.group(2), m.group(1)))

        def weekday_of(m):
            nth, wd = v.WEEKDAY_ORDINALS[m.group(1)], v.WEEKDAY_OF[m.group(2)]
            if m.group(4):
                month = v.MONTH_OF[m.group(4)]
                year = self.today.year + (month < self.today.month)
                candidates = [date(year, month, 1), date(year + 1, month, 1)]
            else:
                shift = v.MONTH_SHIFTS.get(re.sub(r"\s+", " ", m.group(3)), 0)
                first = self._shifted_month(shift)
                candidates = [first] if shift or m.group(3) in v.MONTH_SHIFTS else [first, self._first_of_next(first)]
            for first in candidates:
                d = self._nth_weekday(first, wd, nth)
                if d is not None and (d >= self.today or first == candidates[-1]):
                    return Item(m.start(), m.end(), day=self._day(d), day_is_explicit_date=True)
            return None

        self._scan(B + v.ON + v.THE + v.ORDINAL_WEEKDAY + r"\s+(" + v.WD + r")" + v.OF_MONTH
                   + r"(?![\w])", weekday_of)

    def _nth_weekday(self, first: date, weekday: int, nth: int) -> date | None:
        """The ``nth`` ``weekday`` of the month starting ``first`` (-1: the last), or None (no fifth one)."""
        days = [first + timedelta(days=i) for i in range((self._first_of_next(first) - first).days)]
        matching = [d for d in days if d.weekday() == weekday]
        if nth == -1:
            return matching[-1]
        return matching[nth - 1] if nth <= len(matching) else None

    def _widen_named_days(self) -> None:
        """ "the week of the 14th" is that week; "after the 10th" the days after it; "before friday" until it."""
        v = self.words
        for it in self.items:
            if it.day is None or (it.day[1] - it.day[0]).days != 1 or not (
                    it.day_is_explicit_date or it.day_is_weekday):
                continue
            before = self.text[:it.start]
            d = it.day[0]
            if (m := re.search(v.WEEK_OF_BEFORE, before)):
                monday = d - timedelta(days=d.weekday())
                it.day = (max(monday, self.today), monday + timedelta(days=7))
            elif (m := re.search(v.AFTER_DAY_BEFORE, before)):
                it.day = (d + timedelta(days=1), d + timedelta(days=1 + AFTER_A_DAY_DAYS))
            elif (m := re.search(v.BEFORE_DAY_BEFORE, before)) and d > self.today:
                it.day = (self.today, d)
            else:
                continue
            it.start = m.start()
            it.day_is_explicit_date = it.day_is_weekday = False

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
            if it.end <= a and re.fullmatch(self.words.DAY_GAP, self.text[it.end:a]):
                return True
            if it.start >= b and re.fullmatch(self.words.DAY_GAP, self.text[b:it.start]):
                return True
        return False

    def _claim_parts(self) -> None:
        v = self.words
        def part(m):
            if m.group("first"):
                return Item(m.start(), m.end(), part=PARTS["morning"])
            if m.group("lunch"):
                if word_before(self.text, m.start("lunch")) in v.BOUND_WORDS:
                    return None  # "after lunch" is a bound, claimed with the times
                return Item(m.start(), m.end(), part=PARTS["lunch"])
            if m.group("mer"):
                key = "morning" if m.group("mer").startswith("a") else "afternoon"
                return Item(m.start(), m.end(), part=PARTS[key])
            word = m.group("name")
            name = v.PART_WORDS[word]
            mod = next((v.PART_MODIFIERS[g] for k, g in m.groupdict().items() if k.startswith("mod") and g), None)
            if re.search(v.GREETING_BEFORE, self.text[:m.start()]) and not mod:
                return None  # "Good morning, ...", "good afternoon Dr. Patel"
            if word_before(self.text, m.start()) in v.NOT_A_PART_AFTER.get(word, ()):
                return None  # "last night"
            if word in v.PARTS_NEEDING_A_DAY and not self._near_day(m.start(), m.end()):
                return None
            key = f"{mod} {name}" if mod else name
            return Item(m.start(), m.end(), part=PARTS.get(key, PARTS[name]))

        self._scan(B + v.PART_LEAD + r"(?:" + v.PART_RE + r")(?![\w])", part)

        def early_late(m):
            if not self._near_day(m.start(), m.end()):
                return None
            return Item(m.start(), m.end(), part=PARTS[v.PART_MODIFIERS[m.group(1)]])

        self._scan(B + v.EARLY_LATE, early_late)

        def meridiem(m):  # "tmrw am", "monday p.m.": am/pm right next to a day, no number before it
            if not self._near_day(m.start(), m.end()):
                return None
            return Item(m.start(), m.end(), part=PARTS["morning" if m.group(1).startswith("a") else "afternoon"])

        self._scan(B + v.MERIDIEM_PART, meridiem)

    # -- times
    def _near_part(self, a: int, b: int) -> bool:
        for it in self.items:
            if it.part is None and it.day is None:
                continue
            if it.start >= b and re.fullmatch(r"[\s,]*", self.text[b:it.start]) and (
                    it.part or word_before(self.text, a) not in self.words.NOT_TIME_LEADS):
                return True  # "3 this afternoon", "10 tomorrow"
            if it.end <= a and re.fullmatch(self.words.AT_GAP, self.text[it.end:a]):
                return True
        return False

    def _after_alternative(self, a: int) -> bool:
        """True for the 3 in "at 2 or 3": a bare number offered as another time."""
        return any(it.time is not None and it.end <= a
                   and re.fullmatch(self.words.ALTERNATIVE_GAP, self.text[it.end:a])
                   for it in self.items)

    def _minutes_to_an_hour(self, m: re.Match) -> bool:
        """True for "10 to 1" (12:50) as opposed to "10 to 2" after "from" or "free" (a range)."""
        v = self.words
        first, sep = m.group(1).strip(), self.text[m.end(1):m.start(2)].strip()
        if first not in v.MINUTE_WORDS or sep not in v.TO_WORDS:
            return False
        if word_before(self.text, m.start()) in v.RANGE_CUES:
            return False
        return parse_atom(f"{first} {sep} {m.group(2).strip()}", v) is not None

    def _claim_times(self) -> None:
        v = self.words
        t = self.text
        A = r"(" + v.ATOM + r")"

        def ok_follower(m) -> bool:
            return word_after(t, m.end()) not in v.NOT_TIME_FOLLOWERS

        def rng(m, need_context: bool):
            a, b = parse_atom(m.group(1), v), parse_atom(m.group(2), v)
            if a is None or b is None or not ok_follower(m):
                return None
            if need_context and self._minutes_to_an_hour(m):
                return None  # "at 10 to 1" is 12:50, claimed as one time below
            if need_context and not (a.strong or b.strong or self._near_part(m.start(), m.end())
                                     or word_before(t, m.start()) in v.RANGE_CONTEXT_LEADS):
                return None
            return Item(m.start(), m.end(), time=TimeSpec("range", a, b))

        self._scan(B + v.RANGE_BETWEEN + A + v.RANGE_BETWEEN_JOINT + A + E, lambda m: rng(m, False))
        self._scan(B + v.RANGE_FROM + A + v.RANGE_FROM_JOINT + A + E, lambda m: rng(m, False))
        self._scan(B + A + v.RANGE_JOINT + A + E, lambda m: rng(m, True))

        def bounded(m, kind):
            target = m.group(1)
            if target in v.LUNCH_TARGETS:
                return Item(m.start(), m.end(), time=TimeSpec(kind, bound=PARTS["lunch"]))
            if target in v.WORK_TARGETS or target in v.SCHOOL_TARGETS:
                if kind == "before":
                    return None
                at = WORK_ENDS if target in v.WORK_TARGETS else SCHOOL_ENDS
                return Item(m.start(), m.end(), time=TimeSpec(kind, bound=(at, at)))
            a = parse_atom(target, v)
            if a is None or not ok_follower(m):
                return None
            return Item(m.start(), m.end(), time=TimeSpec(kind, a))

        # "after 1:30 but before 3": one range
        gap = r"(?:\s+|(?=\d))"  # "after 3", "after3"; never "afternoon"
        self._scan(B + v.BOUND_LEAD + v.AFTER_RE + gap + A + v.BOUNDS_JOINT + v.BEFORE_RE + gap + A + E,
                   lambda m: rng(m, False))
        tail = gap + r"(" + v.ATOM + r"|" + v.BOUND_TARGET + r")" + E
        self._scan(B + v.BOUND_LEAD + v.AFTER_RE + tail, lambda m: bounded(m, "after"))
        self._scan(B + v.BOUND_LEAD + v.BEFORE_RE + tail, lambda m: bounded(m, "before"))

        def exact(m, need_context: bool):
            a = parse_atom(m.group(1), v)
            # "the 9:30 one" is a time; "2 kids" is not: only weak numbers need the follower check.
            if a is None or (not a.strong and not ok_follower(m)):
                return None
            if need_context and not a.strong:
                compact_ok = (re.fullmatch(r"\d{3,4}|\d{1,2}\.\d\d", m.group(1).strip())
                              and a.minute in (15, 30, 45))
                if not (compact_ok or self._near_part(m.start(), m.end())
                        or self._after_alternative(m.start())):
                    return None
            return Item(m.start(), m.end(), time=TimeSpec("exact", a))

        self._scan(B + v.EXACT_LEAD + A + E, lambda m: exact(m, False))
        self._scan(B + A + E, lambda m: exact(m, True))
