"""Reading patients' short answers: numbered choices, providers, visit types, names, birth dates.

The NLU says *that* a text is an answer (intent ``inform``); these functions say
*which* answer, from the text and the options the bot offered. They are pure
so the conversation rules can be tested without Rasa.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Sequence

from bot.language.dates import parse_when

ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1,
}
# Number words count only when no ordinal does: in "the second one", "one" is not a position.
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}
NONE_OF_THOSE = re.compile(
    r"\b(none|neither|nothing|no good|not those|don'?t work|doesn'?t work|can'?t do (any|those|them)|other (times|days|options)|more (times|options))\b",
    re.I,
)


def pick_choice(text: str, options: Sequence[datetime], now: datetime, language: str = "en") -> int | None:
    """The 0-based index of the offered time the patient picked, or None.

    Understands "2", "#2", "option 2", "the second one", "the 9:30", "the
    thursday one" and "thursday at 9:30"; a day or time that matches more than
    one option is not a pick.
    """
    cleaned = text.strip().lower()
    number = re.fullmatch(r"(?:option|number|no\.?|#)?\s*([1-9])\s*[.!)]?(?:\s*(?:please|pls|plz|thanks|thx|ty))?[.!]?", cleaned)
    if number:
        return _listed(int(number.group(1)), len(options))
    position = None if re.search(r"\d{1,2}[:.]\d{2}", cleaned) else _ordinal(cleaned)
    if position is not None:
        return _listed(position, len(options))
    when = parse_when(text, now, language)
    if when is None:
        return None
    zone = now.tzinfo
    matches = []
    for index, start in enumerate(options):
        local = start.astimezone(zone)
        if when.start == when.end:  # an exact time: match the clock time, and the day if it was said
            same_clock = (local.hour, local.minute) == (when.start.hour, when.start.minute)
            said_day = _names_day(text)
            if same_clock and (not said_day or local.date() == when.start.date()):
                matches.append(index)
        elif when.start <= local < when.end:
            matches.append(index)
    return matches[0] if len(matches) == 1 else None


def _names_day(text: str) -> bool:
    return bool(re.search(
        r"\b(mon|tue|wed|thu|fri|sat|sun|tmrw|tomorrow|today|\d{1,2}/\d{1,2}|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
        text, re.I))


def says_none_of_those(text: str) -> bool:
    return bool(NONE_OF_THOSE.search(text))


def pick_numbered(text: str, count: int) -> int | None:
    """A plain numbered pick ("2", "the second one") among ``count`` listed items."""
    cleaned = text.strip().lower()
    number = re.search(r"\b([1-9])\b", cleaned)
    if number and len(cleaned) <= 20:
        return _listed(int(number.group(1)), count)
    position = _ordinal(cleaned)
    return None if position is None else _listed(position, count)


def _ordinal(cleaned: str) -> int | None:
    """The 1-based position an ordinal word names ("second" -> 2, "last" -> -1), if any."""
    for words in (ORDINALS, NUMBER_WORDS):
        for word, value in words.items():
            if re.search(rf"\b{word}\b", cleaned):
                return value
    return None


def _listed(position: int, count: int) -> int | None:
    """The 0-based index of a 1-based position (-1: the last) among ``count`` items, if it is one."""
    index = count - 1 if position == -1 else position - 1
    return index if 0 <= index < count else None


def match_by_words(text: str, names: dict[str, Sequence[str]]) -> str | None:
    """The key whose names appear in the text (whole words, case-insensitive), if exactly one does."""
    lowered = text.lower()
    found = {
        key for key, words in names.items()
        if any(re.search(rf"\b{re.escape(word.lower())}\b", lowered) for word in words)
    }
    return found.pop() if len(found) == 1 else None


def parse_date_of_birth(text: str, today: date) -> date | None:
    """04/12/1985, 4-12-85, 1985-04-12 or 'April 12 1985'; None if unreadable or not a past date."""
    text = text.strip()
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text)
    us = re.search(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b", text)
    try:
        if iso:
            born = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        elif us:
            year = int(us.group(3))
            if year < 100:
                year += 1900 if year > today.year % 100 else 2000
            born = date(year, int(us.group(1)), int(us.group(2)))
        else:
            months = "jan feb mar apr may jun jul aug sep oct nov dec".split()
            words = re.search(r"\b([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", text.lower())
            if not words or words.group(1) not in months:
                return None
            born = date(int(words.group(3)), months.index(words.group(1)) + 1, int(words.group(2)))
    except ValueError:
        return None
    if born >= today or born.year < today.year - 120:
        return None
    return born


def parse_full_name(text: str) -> tuple[str, str] | None:
    """'jane smith' -> ('Jane', 'Smith'); 'my name is Mary Ann O'Neil' -> ('Mary Ann', "O'Neil")."""
    cleaned = re.sub(r"^(hi|hello|hey)?[,!\s]*(my name is|this is|i am|i'm|name is|it's|its)\s+", "", text.strip(), flags=re.I)
    cleaned = re.sub(r"[^A-Za-z'\-\s]", " ", cleaned)
    words = [w for w in cleaned.split() if w]
    if len(words) < 2 or len(words) > 5:
        return None
    words = [w[:1].upper() + w[1:] for w in words]
    return " ".join(words[:-1]), words[-1]


WAITLIST_WORDS = re.compile(
    r"\b(sooner|earlier|wait ?list|cancellation list|if (something|anything|a spot) (opens|comes up|frees))", re.I)


def asks_for_waitlist(text: str) -> bool:
    """"Let me know if something sooner opens", "put me on the waitlist"."""
    return bool(WAITLIST_WORDS.search(text))


# Short replies that mean "yes, noted": after a reminder they confirm the reminded visit.
_ACK_EMOJI = re.compile("[\U0001F44D\U0001F44C\u2705\u2714\u2611\U0001F64F\U0001F60A\U0001F642\U0001F600\U0001F601"
                        "\u263A\U0001F44F\U0001F4AF\u2764\U0001F3FB-\U0001F3FF\uFE0F\u200D]")
_ACK_PHRASES = re.compile(
    r"\b(?:see (?:you|u|ya) (?:then|there|soon|tomorrow|tmrw|tmw)|see (?:you|u|ya)|will be there|ill be there|"
    r"i will be there|be there|we will be there|well be there|sounds good|got it|works for me|all good|"
    r"thank you|no problem|will do|for sure|"
    r"ahi estare|ahi estaremos|alli estare|nos vemos|muchas gracias|de acuerdo|esta bien|con gusto|claro que si)\b")
_ACK_WORDS = frozenset(
    "ok okay okey okie oki k kk kay c y ya yes yep yup yeah yea ye sure confirm confirmed confirming "
    "perfect great thanks thx thanx thnx tnx ty tyvm cool good fine awesome gracias si correct right "
    "claro confirmo confirmado confirmada vale bueno listo perfecto okis sale orale".split())  # Spanish, unaccented


def _unaccented(text: str) -> str:
    """"sí, ahí estaré" as "si, ahi estare" (the words above are written without accents; emoji stay)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def is_acknowledgement(text: str) -> bool:
    """"👍", "ok 👍", "k", "c thx", "✅", "yes see you then": a short reply made only of yes-words and emoji.

    Read this way after a reminder, it confirms the visit the reminder named; a
    text with anything else in it ("ok but can I come later") is not one.
    """
    lowered = _unaccented(text.lower().replace("\u2019", "'"))
    if not lowered.strip() or len(lowered) > 40:
        return False
    had_emoji = bool(_ACK_EMOJI.search(lowered))
    rest = _ACK_PHRASES.sub(" ", _ACK_EMOJI.sub(" ", lowered))
    rest = re.sub(r"[^\w\s]|_", " ", rest)
    words = rest.split()
    if not words:
        return had_emoji or bool(_ACK_PHRASES.search(lowered))
    return all(word in _ACK_WORDS for word in words)


_BARE_YES = frozenset({"y", "yes", "yeah", "yep", "si", "sii", "siii", "sip", "claro", "claro que si", "dale", "ok si",
                       "si por favor", "si porfa", "si gracias", "simon", "por supuesto"})
_BARE_NO = frozenset({"n", "no", "nop", "nope", "nel", "no gracias", "mejor no", "ahorita no", "no por ahora"})


def bare_yes_or_no(text: str) -> bool | None:
    """A whole answer to a yes/no question, in either language: "Sí", "claro", "Y" (True); "no", "N", "nel"
    (False); anything more ("si pero el jueves", "no puedo") is None, for the NLU to read."""
    words = " ".join(re.sub(r"[^\w\s]", " ", _unaccented(text.lower())).split())
    if words in _BARE_YES:
        return True
    return False if words in _BARE_NO else None
