"""Resolution: claimed items grouped into expressions and turned into local intervals (`When`).

Neighbouring claims joined only by filler words are one expression ("thursday, ideally in the
afternoon"); a time right after "or" keeps the day before it; then each expression becomes
wall-clock datetimes in the zone of `now` (the conventions are in bot/language/dates/__init__.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.language.dates.claims import Claims, Item
from bot.language.dates.parts import NOON, PARTS


@dataclass(frozen=True)
class When:
    """A local interval named by the patient; exact times have start == end.

    ``each_day`` is set when the interval spans several days and the patient also named a time of
    day ("next week after 3", "any morning next week"): minutes after midnight, [from, to), of
    every day in the span (from == to: that exact time each day). None means the whole of each day.
    """

    start: datetime
    end: datetime
    each_day: tuple[int, int] | None = None

    @property
    def is_exact_time(self) -> bool:
        return self.start == self.end


class Parser(Claims):
    """One pass over one text: claim days, then parts of day, then times; group; resolve."""

    def run(self) -> list[When]:
        self._claim_days()
        self._claim_parts()
        self._claim_times()
        self.items.sort(key=lambda it: it.start)
        groups: list[Item] = []
        for it in self.items:
            g = groups[-1] if groups else None
            if g is not None and self._mergeable(g, it):
                self._merge(g, it)
            else:
                groups.append(Item(it.start, it.end, it.day, it.day_is_weekday,
                                    it.day_is_explicit_date, it.part, it.time, it.instant))
        results: list[When] = []
        previous: Item | None = None
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
        return len(words) <= 3 and all(w in self.words.CONNECTIVES for w in words) and bool(words)

    def _mergeable(self, g: Item, it: Item) -> bool:
        if g.instant is not None or it.instant is not None:
            return False
        gap = re.findall(r"[\w'@&/]+", self.text[g.end:it.start])
        if len(gap) > 4 or any(w in self.words.BREAKERS for w in gap) or not all(
                w in self.words.FILLER for w in gap):
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
    def _merge(g: Item, it: Item) -> None:
        if it.day is not None and (g.day is None or it.day_is_explicit_date):
            g.day, g.day_is_explicit_date = it.day, it.day_is_explicit_date
            g.day_is_weekday = g.day_is_weekday or it.day_is_weekday
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

    def _interval(self, g: Item) -> tuple[int, int] | None:
        pm_hint = None
        if g.part is not None:
            pm_hint = g.part[0] >= NOON if g.part[0] != PARTS["lunch"][0] else None
            if g.part[0] < NOON and g.part[1] <= NOON:
                pm_hint = False
        if g.time is None:
            return g.part
        start, end = g.time.interval(pm_hint)
        if g.part is not None and g.time.kind in ("after", "before") and not g.inherited:
            start, end = max(start, g.part[0]), min(end, g.part[1])
            if start > end:
                start, end = g.time.interval(pm_hint)
        return start, end

    def _resolve(self, g: Item) -> When:
        if g.instant is not None:
            return When(g.instant, g.instant)
        span = self._interval(g)
        if g.day is not None:
            d0, d1 = g.day
            if span is None or (d1 - d0).days > 1:
                return When(self._at(d0, 0), self._at(d1, 0), each_day=span)
            return When(self._at(d0, span[0]), self._at(d0, span[1]))
        start, end = self._at(self.today, span[0]), self._at(self.today, span[1])
        ahead = start > self.now if start == end else end > self.now
        if ahead:
            return When(start, end)
        tomorrow = self.today + timedelta(days=1)
        return When(self._at(tomorrow, span[0]), self._at(tomorrow, span[1]))
