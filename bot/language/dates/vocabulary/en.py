"""English: the words patients use for days, months, numbers and parts of the day, and their patterns.

A new language is a sibling module with the same names, registered in vocabulary/__init__.py.
"""
from __future__ import annotations

from bot.language.dates.vocabulary.common import alt

CODE = "en"

WEEKDAYS: dict[int, tuple[str, ...]] = {
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
WEEKDAY_OF = {w: n for n, words in WEEKDAYS.items() for w in words}
# Weekday abbreviations that are also everyday words ("I sat down", "the sun").
RISKY_WEEKDAYS = {"sat", "sun", "wed", "mon", "tu"}
RISKY_PRECEDERS = {"i", "we", "he", "she", "they", "it", "who", "just", "never",
                    "had", "have", "has", "was", "were", "got", "get", "the", "a", "in",
                    "im", "i'm", "to", "be", "been", "and"}

MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan"), 2: ("february", "febuary", "feb"), 3: ("march", "mar"),
    4: ("april", "apr"), 5: ("may",), 6: ("june", "jun"), 7: ("july", "jul"),
    8: ("august", "aug"), 9: ("september", "sept", "sep"), 10: ("october", "oct"),
    11: ("november", "nov"), 12: ("december", "dec"),
}
MONTH_OF = {w: n for n, words in MONTHS.items() for w in words}

ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
    "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "twenty-first": 21, "twenty-second": 22, "twenty-third": 23, "twenty-fourth": 24,
    "twenty-fifth": 25, "twenty-sixth": 26, "twenty-seventh": 27, "twenty-eighth": 28,
    "twenty-ninth": 29, "thirtieth": 30, "thirty-first": 31,
}
HOUR_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
COUNT_WORDS = dict(HOUR_WORDS, a=1, an=1, couple=2, **{"a couple": 2, "a couple of": 2,
                                                      "couple of": 2})

PART_WORDS = {
    "morning": "morning", "mornings": "morning", "morn": "morning", "mornin": "morning",
    "am": "morning", "afternoon": "afternoon", "afternoons": "afternoon",
    "aftn": "afternoon", "afternon": "afternoon", "arvo": "afternoon", "pm": "afternoon",
    "evening": "evening", "evenings": "evening", "evenin": "evening", "eve": "evening",
    "night": "evening", "nite": "evening",
}

# Words that show a number is a count, not a time ("2 kids", "at 3 weeks").
NOT_TIME_FOLLOWERS = {
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
FILLER = {"at", "@", "on", "in", "the", "around", "about", "for", "of", "sometime", "some",
           "maybe", "preferably", "ideally", "probably", "like", "is", "would", "be", "good",
           "best", "ok", "okay", "if", "possible", "please", "pls", "plz", "only", "any",
           "anytime", "time", "then", "that", "this", "works", "work", "either", "by",
           "can", "i", "come", "do", "me", "please,", "so", "um", "uh", "say", "right",
           "ish", "or", "so", "lets", "let's", "how", "what", "see"}
BREAKERS = {"or", "and", "not", "instead", "cancel", "than", "but", "to", "from", "move",
             "/", "&", "nor", "also"}
BOUND_WORDS = {"after", "aftr", "afer", "before", "b4", "bfore", "by", "until", "till", "til",
                "than"}
CONNECTIVES = {"or", "and", "maybe", "even", "also", "either", "perhaps", ",", "/", "else",
                "if", "not", "then"}

# ------------------------------------------------------------------ patterns

WD = alt(WEEKDAY_OF)
MON = alt(MONTH_OF)
ORDW = alt(ORDINAL_WORDS)
HW = alt(HOUR_WORDS)
CNT = r"(?:\d{1,3}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|" + HW + r"|an?)"
TMRW = (r"(?:tomorrow|tomorow|tommorow|tommorrow|tommorw|tomorrw|tmrw|tmrow|tmro|tmr|tmw|"
        r"tomm|tomoro|tomorro|2morrow|2morow|2moro|2mrw|2mrow|2mro)")
TODAY = r"(?:today|2day|tdy)"
TONIGHT = r"(?:tonight|tonite|2nite|2night|this\s+evening|this\s+eve)"
MER = r"(?:\s*(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])|[ap](?![a-z]))"
ATOM = (r"(?:12\s*noon|noon|mid-?day|midnight|"
        r"(?:half\s+past|quarter\s+past|quarter\s+(?:to|till|til|of))\s+(?:\d{1,2}|" + HW + r")"
        r"|(?:\d{1,2}[:.]\d{2}|\d{3,4}|\d{1,2}|(?:" + HW + r")(?:[\s-]+(?:thirty|fifteen|"
        r"forty[\s-]?five|o'?clock))?)(?:" + MER + r")?(?:\s*o'?clock)?(?:\s*-?ish)?)")

# Every word of PART_WORDS but the meridiems, which stand for a part only in context ("the am", "tmrw pm").
_PART_NAMES = alt(word for word in PART_WORDS if word not in ("am", "pm"))
PART_RE = (r"(?:(?!midnight)(?:(early|late|mid)[\s-]*)?(" + _PART_NAMES + r")|lunch\s*time|lunch|(?:first|1st)\s+thing"
           r"(?:\s+in\s+the\s+(?:morning|am|a\.m\.))?|(?<=the\s)(am|pm|a\.m\.|p\.m\.))")
