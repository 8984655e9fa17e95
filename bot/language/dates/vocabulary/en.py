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
# Minutes before or after an hour, in words or digits ("ten past 4", "quarter to 5", "20 past 9").
MINUTE_WORDS = {
    "five": 5, "ten": 10, "quarter": 15, "a quarter": 15, "fifteen": 15, "twenty": 20,
    "twenty-five": 25, "twenty five": 25, "half": 30, "5": 5, "10": 10, "15": 15, "20": 20, "25": 25,
}
PAST_WORDS = ("past", "after")
TO_WORDS = ("to", "till", "til", "of", "before")
# Words before "10 to 1" that make it a range from 10 to 1, not ten minutes to one.
RANGE_CUES = {"from", "between", "anytime", "free", "available", "avail", "open", "btwn"}
# "good morning", "good afternoon Dr. Patel": a greeting, not a part of the day.
GREETING_LEADS = {"good", "gd"}
# Ordinals that pick one weekday of a month ("the second friday of next month"); -1 is the last.
WEEKDAY_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
                    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "last": -1}

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

# Numbers after these are choices, not times, even right before a day ("option 2 tomorrow").
NOT_TIME_LEADS = {"option", "options", "press", "number", "no", "room", "reply", "choice", "pick", "#"}
# "the 12th of next month": how many months on from this one.
MONTH_SHIFTS = {"this": 0, "next": 1, "the following": 1, "following": 1}

# ------------------------------------------------------------------ patterns

WD = alt(WEEKDAY_OF)
MON = alt(MONTH_OF)
ORDW = alt(ORDINAL_WORDS)
HW = alt(HOUR_WORDS)
CNT = r"(?:\d{1,3}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|" + HW + r"|an?)"
MINW = alt(MINUTE_WORDS)
HOUR = r"(?:\d{1,2}|" + HW + r")"
# (?P<min>) minutes past or to (?P<hour>) the hour
MIN_PAST = r"(?P<min>" + MINW + r")(?:\s+min(?:ute)?s?)?\s+(?:" + alt(PAST_WORDS) + r")\s+(?P<hour>" + HOUR + r")"
MIN_TO = r"(?P<min>" + MINW + r")(?:\s+min(?:ute)?s?)?\s+(?:" + alt(TO_WORDS) + r")\s+(?P<hour>" + HOUR + r")"
WORDED_MINUTES = r"(?:" + MINW + r")(?:\s+min(?:ute)?s?)?\s+(?:" + alt(PAST_WORDS + TO_WORDS) + r")\s+" + HOUR
ISH = r"(?:\s*-?ish)"
# A time bound: "after 3", "no earlier than 10"; "before noon", "by 11", "not after 4".
AFTER_RE = r"(?:after|aftr|afer|later\s+than|no\s+earlier\s+than|(?:not|nothing)\s+(?:before|earlier\s+than))"
BEFORE_RE = (r"(?:before|b4|bfore|by|until|till?|no\s+later\s+than|(?:not|nothing)\s+(?:after|later\s+than)"
             r"|earlier\s+than)")
BOUND_LEAD = r"(?:(?:any\s*time|anything|sometime|only|just)\s+)?"
# "after 1:30 but before 3": the joint between two bounds that make one range.
BOUNDS_JOINT = r"\s*,?\s*(?:(?:but|and)\s+)?"
# Days: a range of days ("Nov 3 to 6", "between the 3rd and the 6th"), a day's place in a month, weeks.
DAY_NUMBER = r"(\d{1,2}(?=st|nd|rd|th|\b)|" + alt(ORDINAL_WORDS) + r")(?:st|nd|rd|th)?"
DAY_RANGE_FROM = r"(?:(?P<lead>from|between)\s+)?"
DAY_RANGE_SEP = r"\s*(?P<sep>-|to|till?|until|through|thru|and)\s*"
DAY_RANGE_AND = "and"  # only after "between"
THE = r"(?:the\s+)?"
MONTH_SHIFT = r"(" + alt(MONTH_SHIFTS) + r")\s+month"
ORDINAL_WEEKDAY = r"(" + alt(WEEKDAY_ORDINALS) + r")"
OF_MONTH = r"\s+(?:of|in)\s+(?:(the|this|next|the\s+following)\s+month|(" + alt(MONTH_OF) + r"))"
WEEKEND = r"week[-]?ends?"
UPCOMING_WEEK = r"(?:(?:the|this)\s+)?(?:coming|following|upcoming)\s+week(?![-\w])"
# Words right before a day that widen it: "the week of the 14th", "after the 10th", "before friday".
WEEK_OF_BEFORE = r"(?:the\s+)?week\s+(?:of|starting|beginning|commencing)\s+(?:on\s+)?$"
AFTER_DAY_BEFORE = r"(?:(?:any\s*time|anything|sometime|only|just)\s+)?(?:after|aftr|afer)\s+$"
BEFORE_DAY_BEFORE = r"(?:(?:any\s*time|anything|sometime|only|just)\s+)?(?:before|b4|bfore)\s+$"
# "good morning": the greeting words right before a part of the day.
GREETING_BEFORE = r"\b(?:" + alt(GREETING_LEADS) + r")\s+$"
TMRW = (r"(?:tomorrow|tomorow|tommorow|tommorrow|tommorw|tomorrw|tmrw|tmrow|tmro|tmr|tmw|"
        r"tomm|tomoro|tomorro|2morrow|2morow|2moro|2mrw|2mrow|2mro)")
TODAY = r"(?:today|2day|tdy)"
TONIGHT = r"(?:tonight|tonite|2nite|2night|this\s+evening|this\s+eve)"
MER = r"(?:\s*(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])|[ap](?![a-z]))"
ATOM = (r"(?:(?:12\s*noon|noon|mid-?day)" + ISH + r"?|midnight|"
        + WORDED_MINUTES + r"(?:" + MER + r")?"
        r"|(?:\d{1,2}[:.]\d{2}|\d{3,4}|\d{1,2}|(?:" + HW + r")(?:[\s-]+(?:thirty|fifteen|"
        r"forty[\s-]?five|o'?clock))?)(?:" + MER + r")?(?:\s*o'?clock)?" + ISH + r"?)")

# Every word of PART_WORDS but the meridiems, which stand for a part only in context ("the am", "tmrw pm").
_PART_NAMES = alt(word for word in PART_WORDS if word not in ("am", "pm"))
# Named groups: mod (a key of PART_MODIFIERS; any group whose name starts with "mod"), name (a key of
# PART_WORDS), first ("first thing": the morning), lunch, mer (a meridiem standing for a part).
PART_RE = (r"(?:(?!midnight)(?:(?P<mod>early|late|mid)[\s-]*)?(?P<name>" + _PART_NAMES + r")"
           r"|(?P<lunch>lunch\s*time|lunch)|(?P<first>(?:first|1st)\s+thing"
           r"(?:\s+in\s+the\s+(?:morning|am|a\.m\.))?)|(?<=the\s)(?P<mer>am|pm|a\.m\.|p\.m\.))")

# ------------------------------------------------------------------ phrases the claims are made of
# Each name below is one phrase claims.py scans for; a sibling language gives the same name, with the
# same (numbered or named) groups, in its own words.


def fold(text: str) -> str:
    """The lowered text as the patterns expect it (English: as written)."""
    return text


AMOUNT_UNITS = r"dollars|bucks|usd|%|mg|ml|mcg|lbs?|kg"
# "3-14" is a date after these, and never after those before it ("between 3-4").
DASH_DATE_LEADS = ("on", "date", "for")
DASH_DATE_NOT_AFTER = ("between", "from", "at", "around", "anytime", "@", "time", "free")
ORD_SUFFIX = r"(?:st|nd|rd|th)"
OF = r"(?:of\s+)?"
ON = r"(?:on\s+)?"
ARTICLE_RE = r"the"
YEAR_JOINT = r",?\s+"
OCLOCK = r"o'?clock"
NEVER = r"(?!)"

DAY_AFTER_TOMORROW = r"(?:the\s+)?day\s+after\s+" + TMRW + r"\b"
DAY_AFTER_TODAY = r"(?:the\s+)?day\s+after\s+" + TODAY + r"\b"
# "in 2 weeks", "3 days from tomorrow": (count)(unit)[(from what)]
WEEK_UNIT = r"weeks?|wks?"
NOW_WORDS = ("now",)
IN_N_DAYS = r"in\s+(?:about\s+|like\s+)?(" + CNT + r")\s+(days?|weeks?|wks?)\b"
N_DAYS_FROM = r"(" + CNT + r")\s+(days?|weeks?|wks?)\s+from\s+(now|" + TODAY + r"|" + TMRW + r")\b"
# "in half an hour", "in 20 min": (count)(unit)
HALF_AN_HOUR = r"half\s+an?"
HOUR_UNIT = r"hours?|hrs?"
IN_MINUTES = r"in\s+(half\s+an?|" + CNT + r")\s*(hours?|hrs?|minutes?|mins?)\b"
TODAY_RE = r"(?:later\s+)?" + TODAY + r"\b"
THIS_PART = r"this\s+(morning|afternoon|aft|arvo)\b"  # today's; (the part)
WEEK_AFTER_NEXT = r"(?:the\s+)?week\s+after\s+next\b"
# A weekday: (lead)(next week before it)(the weekday)(next week after it)(after next)
WEEKDAY_RE = (r"(?:(a\s+week\s+from|(?:this\s+)?coming|next|this|on)\s+)?"
              r"((?:next\s+week\s+(?:on\s+)?)?)(" + WD + r")\.?(?![\w])"
              r"((?:,?\s+(?:of\s+)?next\s+week)?)((?:\s+after\s+next)?)")
WEEK_LATER_LEAD = r"a\s+week\s+from"  # the weekday a week after the nearest one
RISKY_FOLLOWERS = {"is", "was", "will", "shines", "down", "up", "to", "me", "you", "him", "her", "them"}
# Weekday words that are a weekday only after a lead like "next" (none in English).
STRICT_WEEKDAYS: set[str] = set()
STRONG_WEEKDAY_LEAD = r"next|this|coming|this\s+coming"
WEEKDAY_DAY_NUMBER = NEVER  # "el lunes 14" in Spanish; English writes "monday the 14th"
EARLY_NEXT_WEEK = r"early\s+next\s+week\b"
NEXT_WEEK_OR_WEEKEND = r"next\s+(?:(?P<weekend>" + WEEKEND + r")|week)\b"
THIS_WEEKEND = r"(?:(?:this|the|on\s+the)\s+)?" + WEEKEND + r"\b"
THIS_WEEK = r"(?:(?P<later>later)\s+)?this\s+week\b"
NEXT_MONTH = r"next\s+month\b"
THIS_MONTH = r"this\s+month\b"
IN_MONTH = (r"(?:in|during)\s+(?:early\s+|late\s+|mid\s+)?(january|february|march|april|"
            r"may|june|july|august|september|october|november|december)\b(?!\s*\d)")
ORDINAL_DAY = r"(?:on\s+)?(?:the\s+)?(\d{1,2})" + ORD_SUFFIX + r"\b"  # "the 14th": (the day)
ORDINAL_WORD_DAY = r"on\s+the\s+(" + ORDW + r")\b"
DAY_RANGE_BETWEEN = ("between",)  # the leads after which DAY_RANGE_AND joins two days

# Parts of the day: the words before a part ("in the morning"), modifiers, and what needs care.
PART_LEAD = r"(?:(?:in|during)\s+the\s+|this\s+|at\s+|around\s+|over\s+)?"
PART_MODIFIERS = {"early": "early", "late": "late", "mid": "mid"}
NOT_A_PART_AFTER = {"night": {"last", "all", "every", "one", "other"},
                    "nite": {"last", "all", "every", "one", "other"}}
PARTS_NEEDING_A_DAY = {"eve"}
EARLY_LATE = r"(early|late)(?![\w-])(?!\s+(?:next|this|in|on\b))"  # next to a day; (the word)
MERIDIEM_PART = r"(?<!\d\s)(am|pm|a\.m\.|p\.m\.)(?![\w])(?!\s+i\b)"  # not "tuesday am i booked"
DAY_GAP = r"[\s,]*(?:on\s+)?"  # between a day and a part next to it
AT_GAP = r"[\s,]*(?:at\s+|@\s*)?"  # between a day or part and the time after it
ALTERNATIVE_GAP = r"\s*(?:or|,|/)\s*(?:maybe\s+)?"  # "at 2 or 3"

# Times: ranges, bounds and exact times.
RANGE_BETWEEN = r"(?:between|btwn|btw|b/w|betw)\s+"
RANGE_BETWEEN_JOINT = r"\s*(?:and|&|-|to|n)\s*"
RANGE_FROM = r"(?:from|frm|anytime|any\s+time)\s+"
RANGE_FROM_JOINT = r"\s*(?:to|till?|until|-|through|thru)\s*"
RANGE_JOINT = r"\s*(?:-|to|till?|until)\s*"
# Words before a bare "2-4" that make it a range of times.
RANGE_CONTEXT_LEADS = {"at", "@", "around", "anytime", "time", "free", "available", "about", "avail",
                       "like", "any", "do", "could", "can", "say", "maybe", "try"}
BOUND_TARGET = r"lunch\s*time|lunch|work|school"
LUNCH_TARGETS = {"lunch", "lunchtime", "lunch time"}
WORK_TARGETS = {"work"}
SCHOOL_TARGETS = {"school"}
EXACT_LEAD = r"(?:at|@|around|about|abt|approx|approximately|~|round|'round|say|arnd|aroun)\s*"

# Atoms: the words of one clock time.
NOON_WORDS = {"noon", "12noon", "midday", "mid-day"}
MIDNIGHT_WORDS = {"midnight"}
COMPOUND_MINUTES = {"thirty": 30, "fifteen": 15, "forty-five": 45, "fortyfive": 45}  # "two-thirty"
# "5 to 7" in digits, with fewer minutes than the hour, is a range, never 6:55.
DIGITS_TO_MAY_BE_A_RANGE = True
