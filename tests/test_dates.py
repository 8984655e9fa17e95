"""bot.language.dates: the held-out table of patient phrasings, then the behaviours by name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.language.dates import When, join_day_alternatives, parse_all_when, parse_when

TABLE = Path(__file__).with_name("time_expressions.yml")
SPANISH_TABLE = Path(__file__).with_name("time_expressions_es.yml")
LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")
FRIDAY_BEFORE_FALL_BACK = datetime(2026, 10, 30, 12, 0, tzinfo=LA)


def _each_day(raw: str) -> tuple[int, int]:
    """ "each day 15:00-24:00" -> (900, 1440)."""
    lo, hi = (int(h) * 60 + int(m) for h, m in (part.split(":") for part in raw.removeprefix("each day ").split("-")))
    return lo, hi


def _cases(table: Path = TABLE) -> list[tuple[str, datetime, str, When | None]]:
    cases = []
    for group in yaml.safe_load(table.read_text()):
        now = datetime.fromisoformat(group["now"]).replace(tzinfo=ZoneInfo(group["zone"]))
        for case in group["cases"]:
            text, *bounds = case
            each_day = _each_day(bounds.pop()) if str(bounds[-1]).startswith("each day") else None
            if bounds == [None]:
                expected = None
            else:
                start = datetime.fromisoformat(bounds[0])
                end = datetime.fromisoformat(bounds[-1])
                expected = When(start, end, each_day)
            cases.append((group["group"], now, text, expected))
    return cases


def _same(got: When | None, expected: When | None) -> bool:
    """Equal instants AND equal UTC offsets, so a wrong DST offset counts as a miss.

    Timestamps, not ==: Python never finds a wall time in the repeated fall-back
    hour equal to a datetime in another zone (PEP 495).
    """
    if got is None or expected is None:
        return got is expected
    return got.each_day == expected.each_day and all(g.timestamp() == e.timestamp() and g.utcoffset() == e.utcoffset()
               for g, e in ((got.start, expected.start), (got.end, expected.end)))


def _misses(table: Path, language: str) -> tuple[int, list[str]]:
    """How many rows ``table`` has, and one line per row parse_when gets wrong in ``language``."""
    cases = _cases(table)
    misses = []
    for group, now, text, expected in cases:
        got = parse_when(text, now, language)
        if not _same(got, expected):
            misses.append(f"[{group}] {text!r}\n    expected {_show(expected)}\n    got      {_show(got)}")
    for miss in misses:
        print(miss)
    print(f"{len(cases) - len(misses)}/{len(cases)} right")
    return len(cases), misses


def test_table_of_patient_phrasings_is_at_least_95_percent_right():
    rows, misses = _misses(TABLE, "en")
    assert rows >= 280
    assert (rows - len(misses)) / rows >= 0.95, "\n".join(misses)


def test_spanish_table_of_patient_phrasings_is_at_least_95_percent_right():
    rows, misses = _misses(SPANISH_TABLE, "es")
    assert rows >= 90
    assert (rows - len(misses)) / rows >= 0.95, "\n".join(misses)


def _show(when: When | None) -> str:
    if when is None:
        return "None"
    each_day = f" each day {when.each_day}" if when.each_day else ""
    return f"{when.start.isoformat()} .. {when.end.isoformat()}{each_day}"


def _at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, zone=LA) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone)


def test_weekday_is_nearest_future_day_never_today():
    friday = FRIDAY_BEFORE_FALL_BACK
    for text in ("friday", "next friday", "this friday", "fri"):
        assert parse_when(text, friday).start == _at(2026, 11, 6), text
    assert parse_when("saturday", friday).start == _at(2026, 10, 31)


def test_bare_hour_one_to_seven_is_pm():
    morning = _at(2026, 6, 17, 6, 0)
    assert parse_when("at 1", morning).start == _at(2026, 6, 17, 13)
    assert parse_when("at 7", morning).start == _at(2026, 6, 17, 19)
    assert parse_when("at 8", morning).start == _at(2026, 6, 17, 8)
    assert parse_when("at 11", morning).start == _at(2026, 6, 17, 11)
    assert parse_when("at 12", morning).start == _at(2026, 6, 17, 12)


def test_part_of_day_decides_meridiem_of_a_bare_hour():
    morning = _at(2026, 6, 17, 6, 0)
    assert parse_when("tonight at 8", morning).start == _at(2026, 6, 17, 20)
    assert parse_when("tmrw at 7 in the morning", morning).start == _at(2026, 6, 18, 7)


def test_am_or_pm_next_to_a_day_is_its_morning_or_afternoon():
    wednesday = _at(2026, 11, 18, 10, 0)
    assert parse_when("tmrw am", wednesday) == When(_at(2026, 11, 19, 8), _at(2026, 11, 19, 12))
    assert parse_when("Monday PM", wednesday) == When(_at(2026, 11, 23, 12), _at(2026, 11, 23, 17))
    assert parse_when("fri a.m. if possible", wednesday) == When(_at(2026, 11, 20, 8), _at(2026, 11, 20, 12))
    # a number before it makes it a time, and "am" the verb is no part of day
    assert parse_when("tuesday 3 pm", wednesday).start == _at(2026, 11, 24, 15)
    assert parse_when("tuesday am i booked?", wednesday) == When(_at(2026, 11, 24), _at(2026, 11, 25))
    assert parse_when("i am free tuesday", wednesday) == When(_at(2026, 11, 24), _at(2026, 11, 25))
    assert parse_when("i am free", wednesday) is None


def test_neighbouring_days_as_alternatives_join_into_one_span_for_the_offer():
    wednesday = _at(2026, 11, 18, 10, 0)
    monday, tuesday, thursday = (When(_at(2026, 11, d), _at(2026, 11, d + 1)) for d in (23, 24, 19))

    def joined(text):
        return join_day_alternatives(text, parse_all_when(text, wednesday))

    assert parse_when("monday or tuesday", wednesday) == monday  # parse_when's contract: the first
    assert joined("monday or tuesday") == [When(monday.start, tuesday.end)]
    assert joined("tues or thurs") == [tuesday, thursday]  # not side by side
    assert len(joined("monday or tuesday morning")) == 2  # not whole days
    assert joined("cancel monday and put me in tuesday") == [monday, tuesday]  # no "or"


def test_monday_nine_after_fall_back_is_nine_local():
    got = parse_when("monday 9am", FRIDAY_BEFORE_FALL_BACK)
    assert got.is_exact_time
    assert got.start == _at(2026, 11, 2, 9)
    assert got.start.utcoffset() == timedelta(hours=-8)
    assert got.start.astimezone(timezone.utc).hour == 17


def test_whole_day_across_fall_back_is_twenty_five_hours():
    got = parse_when("sunday", FRIDAY_BEFORE_FALL_BACK)
    assert (got.end - got.start) == timedelta(days=1)  # wall clock
    assert got.end.astimezone(timezone.utc) - got.start.astimezone(timezone.utc) == timedelta(hours=25)


def test_wall_time_skipped_by_spring_forward_comes_out_valid():
    got = parse_when("sunday at 2:30am", _at(2027, 3, 12, 9))
    assert (got.start.hour, got.start.minute) == (3, 30)
    assert got.start.utcoffset() == timedelta(hours=-7)


def test_numbers_that_are_not_times_give_none():
    for text in ("2", "the second one", "option 3", "2 kids", "$40", "it was $40.50",
                 "call 503-555-0100", "(503) 555-0100", "press 1", "a", "at", "the 2nd one",
                 "I sat down", "may I ask something", "march on", "room 204"):
        assert parse_when(text, FRIDAY_BEFORE_FALL_BACK) is None, text


def test_day_without_time_is_the_whole_day():
    got = parse_when("tuesday", FRIDAY_BEFORE_FALL_BACK)
    assert (got.start, got.end) == (_at(2026, 11, 3), _at(2026, 11, 4))
    assert not got.is_exact_time


def test_time_without_day_is_today_if_ahead_else_tomorrow():
    assert parse_when("at 3", FRIDAY_BEFORE_FALL_BACK).start == _at(2026, 10, 30, 15)
    assert parse_when("at 11", FRIDAY_BEFORE_FALL_BACK).start == _at(2026, 10, 31, 11)


def test_after_runs_to_end_of_day_and_before_from_its_start():
    after = parse_when("tmrw after 3", FRIDAY_BEFORE_FALL_BACK)
    assert (after.start, after.end) == (_at(2026, 10, 31, 15), _at(2026, 11, 1))
    before = parse_when("tmrw before noon", FRIDAY_BEFORE_FALL_BACK)
    assert (before.start, before.end) == (_at(2026, 10, 31), _at(2026, 10, 31, 12))


def test_between_two_and_four_is_afternoon_range():
    got = parse_when("monday between 2 and 4", FRIDAY_BEFORE_FALL_BACK)
    assert (got.start, got.end) == (_at(2026, 11, 2, 14), _at(2026, 11, 2, 16))


def test_next_week_is_monday_to_monday():
    got = parse_when("next week", FRIDAY_BEFORE_FALL_BACK)
    assert (got.start, got.end) == (_at(2026, 11, 2), _at(2026, 11, 9))


def test_month_day_without_year_is_next_on_or_after_today():
    new_years_eve = _at(2026, 12, 31, 9)
    assert parse_when("dec 31", new_years_eve).start == _at(2026, 12, 31)
    assert parse_when("dec 30", new_years_eve).start == _at(2027, 12, 30)


def test_parse_all_when_returns_every_expression_in_order():
    found = parse_all_when("cancel tuesday and put me in thursday at 10", FRIDAY_BEFORE_FALL_BACK)
    assert [w.start for w in found] == [_at(2026, 11, 3), _at(2026, 11, 5, 10)]
    assert parse_when("cancel tuesday and put me in thursday", FRIDAY_BEFORE_FALL_BACK).start \
        == _at(2026, 11, 3)


def test_alternative_time_keeps_the_day():
    found = parse_all_when("tuesday at 2 or 3", FRIDAY_BEFORE_FALL_BACK)
    assert [w.start for w in found] == [_at(2026, 11, 3, 14), _at(2026, 11, 3, 15)]


def test_new_york_zone_is_kept():
    got = parse_when("tomorrow at 3", _at(2026, 11, 30, 8, 30, zone=NY))
    assert got.start == _at(2026, 12, 1, 15, zone=NY)
    assert got.start.tzinfo is NY


def test_fixed_offset_zone_is_handled():
    now = datetime(2026, 10, 30, 12, 0, tzinfo=timezone(timedelta(hours=-7)))
    got = parse_when("monday 9am", now)
    assert got.start == datetime(2026, 11, 2, 9, 0, tzinfo=timezone(timedelta(hours=-7)))


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        parse_when("tomorrow", datetime(2026, 10, 30, 12, 0))


def test_a_clock_time_before_one_or_slot_is_still_a_time():
    now = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    for text, hour, minute in [("the 9:30 one", 9, 30), ("the 1pm one", 13, 0), ("the 10:00 slot", 10, 0)]:
        when = parse_when(text, now)
        assert when is not None and (when.start.hour, when.start.minute) == (hour, minute), text
    assert parse_when("the 2 one", now) is None


def test_lunch_after_a_lead_word_is_the_lunch_hour():
    """ "at lunch" used to raise KeyError: the part's lead hid that the words were "lunch"."""
    wednesday = _at(2026, 11, 18, 10, 0)
    assert parse_when("tuesday at lunch", wednesday) == When(_at(2026, 11, 24, 11, 30), _at(2026, 11, 24, 13, 30))
    assert parse_when("around lunchtime", wednesday) == When(_at(2026, 11, 18, 11, 30), _at(2026, 11, 18, 13, 30))


# -- Spanish: the same conventions, its own words (vocabulary/es.py)

WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=LA)


def test_every_vocabulary_has_every_name_the_parser_reads_from_english():
    from bot.language.dates.vocabulary import VOCABULARIES, en

    names = {n for n in vars(en) if n.isupper() or n == "fold"}
    for code, vocabulary in VOCABULARIES.items():
        assert names <= set(vars(vocabulary)), (code, sorted(names - set(vars(vocabulary))))


def test_spanish_manana_alone_is_tomorrow_after_its_article_the_morning():
    tomorrow = When(_at(2026, 11, 19), _at(2026, 11, 20))
    tomorrow_morning = When(_at(2026, 11, 19, 8), _at(2026, 11, 19, 12))
    assert parse_when("mañana", WEDNESDAY, "es") == tomorrow
    assert parse_when("hasta mañana", WEDNESDAY, "es") == tomorrow
    assert parse_when("mañana en la mañana", WEDNESDAY, "es") == tomorrow_morning
    assert parse_when("MAÑANA POR LA MANANA porfa", WEDNESDAY, "es") == tomorrow_morning
    assert parse_when("esta mañana", WEDNESDAY, "es") == When(_at(2026, 11, 18, 8), _at(2026, 11, 18, 12))
    assert parse_when("pasado mañana", WEDNESDAY, "es") == When(_at(2026, 11, 20), _at(2026, 11, 21))
    # "tomorrow" is English: the English vocabulary does not read "mañana"
    assert parse_when("mañana", WEDNESDAY) is None


def test_spanish_greetings_are_not_times():
    for text in ("buenos días", "buenas tardes", "Buenas noches!", "muy buenas tardes doctora"):
        assert parse_when(text, WEDNESDAY, "es") is None, text
    assert parse_when("buenas tardes, el jueves por la tarde?", WEDNESDAY, "es") == When(
        _at(2026, 11, 19, 12), _at(2026, 11, 19, 17))


def test_spanish_minutes_count_after_y_and_before_menos():
    for text, hour, minute in (("a las 3 y media", 15, 30), ("a las 4 y cuarto", 16, 15),
                               ("a las 5 menos cuarto", 16, 45), ("a las 7 menos 5", 18, 55),
                               ("a la una y diez", 13, 10)):
        assert parse_when(text, WEDNESDAY, "es").start == _at(2026, 11, 18, hour, minute), text


def test_spanish_mar_is_a_tuesday_only_after_a_strong_lead():
    tuesday = When(_at(2026, 11, 24), _at(2026, 11, 25))
    assert parse_when("el proximo mar", WEDNESDAY, "es") == tuesday
    assert parse_when("este mar a las 10", WEDNESDAY, "es").start == _at(2026, 11, 24, 10)
    for text in ("mar", "fuimos al mar", "el mar esta frio"):
        assert parse_when(text, WEDNESDAY, "es") is None, text
    assert parse_when("14 de mar", WEDNESDAY, "es").start == _at(2027, 3, 14)


def test_spanish_numeric_dates_are_month_day_like_the_practice():
    assert parse_when("el 12/3", WEDNESDAY, "es").start == _at(2026, 12, 3)
    assert parse_when("3/12", WEDNESDAY, "es").start == _at(2027, 3, 12)


def test_spanish_alternative_time_keeps_the_day():
    found = parse_all_when("el martes a las 2 o 3", WEDNESDAY, "es")
    assert [w.start for w in found] == [_at(2026, 11, 24, 14), _at(2026, 11, 24, 15)]
    found = parse_all_when("cancela el lunes y ponme el jueves a las 10", WEDNESDAY, "es")
    assert [w.start for w in found] == [_at(2026, 11, 23), _at(2026, 11, 19, 10)]
