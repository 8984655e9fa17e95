"""Keyword safety net that spots medical emergencies in a patient's text.

The NLU model learns the `emergency` intent too, but a classifier can be
unsure about a casual or misspelled text ("lol my chest kinda hurts", "cant
breath"). This module is the backstop: plain regular expressions over a
normalised copy of the text, tuned for recall. A false alarm costs the
patient one extra line telling them to call 911; a miss is unacceptable, so
when in doubt a pattern triggers. Negations ("no chest pain") are *not*
handled on purpose: "not breathing" is the most urgent text there is.

`emergency_reason(text)` returns a short category such as "chest pain" or
"self-harm" (callers may choose wording by category, e.g. the 988 line for
self-harm), or None. Pure Python, no Rasa imports, so it can be used by the
NLU component, actions and the SMS channel alike.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["emergency_reason", "is_emergency"]


def _gap(n: int) -> str:
    """Up to `n` arbitrary words between two parts of a pattern."""
    return rf"(?:\w+ ){{0,{n}}}"


_BREATH = r"\bbr(?:ea|e|ae|a)(?:th|h|te|ti|ht)\w*"
_CANT = (
    r"\b(?:cant|cannot|can not|cnt|couldnt|unable to|not able to|hard to|hard time|"
    r"trouble|difficult\w*|struggl\w*|stopped|not|isnt|wasnt|arent|barely|hardly|no longer)"
)
_CHEST = r"\b(?:chest|chst|chset|chets)\b"
_CHEST_PAIN = (
    r"(?:pain\w*|pian\w*|hurt\w*|tight\w*|pressure|heavy|heaviness|squeez\w*|crush\w*|"
    r"ach\w*|discomfort|sore|burning|stabbing|sharp|clutch\w*|grabb\w*|holding|funny|weird|strange)"
)
_NOT_CHEST = r"(?! (?:x ?rays?|xrays?|film|ct|scan|congestion|cold|infection|cough))"
_PILLS = (
    r"(?:pills?|meds|medications?|medicine|tablets?|tylenol|advil|ibuprofen|aspirin|"
    r"insulin|oxy\w*|xanax|benadryl|acetaminophen|fentanyl|opioids?|heroin|gummies)"
)
_SWALLOWED_THINGS = (
    r"(?:pills?|meds|medications?|tablets?|bleach|poison\w*|detergent|laundry pods?|"
    r"tide pods?|antifreeze|cleaner|batter(?:y|ies)|magnets?|gasoline|lighter fluid|"
    r"vape juice|nicotine)"
)
_SELF = r"(?:my ?self|him ?self|her ?self|them ?selves|themselves)"
_FEVER = r"(?:fever\w*|temp\w*|febrile|burning up|hot to the touch)"
_HIGH_TEMP = r"\b(?:10[4-9]|11\d|4[0-3])\b"
_YOUNG_INFANT = (
    r"\b(?:newborn|new born|infant|\d+ ?(?:day|days|week|weeks|wk|wks) old|"
    r"[0-2] ?(?:month|months|mo|mos) old)\b"
)
_CHILD = r"\b(?:baby|infant|newborn|toddler|son|daughter|kid|child|boy|girl)\b"

# (category, pattern) in priority order: the first match names the reason.
_PATTERNS: list[tuple[str, str]] = [
    ("self-harm", r"\bkill(?:ing)? " + _SELF),
    ("self-harm", r"\b(?:kms|kys|su(?:ici|ic|ci|isi|si)d\w*|unalive\w*)\b"),
    ("self-harm", r"\bend " + _SELF + r"|\bgive up on (?:life|living)\b|\b(?:hurt|kill)\w* (?:someone|somebody|people|others)\b"),
    ("self-harm", r"\bend(?:ing|s)? (?:it all|my life|my own life|his life|her life|things|everything)\b"),
    ("self-harm", r"\btake (?:my|his|her) (?:own )?life\b"),
    ("self-harm", r"\b(?:wants?|wanted|wanting|wanna|going|gonna|plan\w*|ready|trying) (?:to )?(?:die|end it|be dead|not be here)\b"),
    ("self-harm", r"\bwish (?:i|he|she) (?:was|were|could be) dead\b"),
    ("self-harm", r"\bbetter off (?:dead|without me|if i (?:was|were) dead|if i wasnt here)\b"),
    ("self-harm", r"\b(?:dont|do not) want to (?:live|be alive|be here|wake up|exist)\b"),
    ("self-harm", r"\b(?:no|(?:do ?n[o']?t|cant|can'?t|cannot) see (?:the|any|a)|what'?s the|whats the|lost (?:the|any)) "
                  r"(?:reason|point|purpose) (?:to|in|of) " + _gap(2) + r"(?:live|living|life|going on|go on|being alive)\b"),
    ("self-harm", r"\bnot worth living\b"),
    ("self-harm", r"\b(?:hurt|hurting|harm|harming|cutting|burn|burning|starve|starving) " + _SELF),
    ("self-harm", r"\bcut " + _SELF + r" (?:on purpose|again|deep)"),
    ("self-harm", r"\bself ?harm\w*|\bcut (?:my|his|her) wrists?\b"),
    ("self-harm", r"\b(?:hang|shoot|drown) " + _SELF),
    ("self-harm", r"\bjump off (?:a|the) (?:bridge|building|roof)\b"),

    ("overdose", r"\bover ?dos\w*|\bod\b|\boded\b|\boding\b"),
    ("overdose", r"\btook " + _gap(2) + r"(?:too many|too much|(?:a |an |the )?(?:whole|entire|full) (?:bottle|pack|box)|"
                 r"all (?:of )?(?:my|his|her|the|their|those) " + _gap(3) + _PILLS + r"|double|triple|twice)"),
    ("overdose", r"\b(?:took|taken|swallowed|ate|downed|popped) " + _gap(3)
                 + r"(?:bunch|handful|fistful|lot|lots|bottle|box|pack) of " + _gap(3) + _PILLS),
    ("overdose", r"\b(?:took|taken|swallowed|ate) (?:like |about |around |maybe )?(?:[1-9]\d|twenty|thirty|forty|fifty) " + _gap(2) + _PILLS),
    ("overdose", r"\b(?:gave|given|give) " + _gap(3) + r"(?:too much|too many|double|the wrong)\b"),
    ("overdose", r"\b(?:accidentally took|took the wrong) " + _gap(2) + _PILLS),
    ("overdose", r"\b(?:mixed|took|taken|had) " + _gap(3) + _PILLS + " " + _gap(3)
                 + r"(?:alcohol|vodka|whiskey|booze|liquor|wine|beer|drinks)"),
    ("poisoning", r"\b(?:swallowed|ate|got into|drank|ingested|eaten|drunk) " + _gap(3) + _SWALLOWED_THINGS),
    ("poisoning", r"\bpoison control\b|\bpoisoned\b|\bpoisoning\b"),

    ("chest pain", _CHEST + _NOT_CHEST + " " + _gap(5) + _CHEST_PAIN),
    ("chest pain", _CHEST_PAIN + " " + _gap(4) + _CHEST + _NOT_CHEST),
    ("chest pain", r"\bcp\b|\bheart ?attack|\bcardiac arrest|\bheart (?:stopped|stopping)\b|\belephant " + _gap(2) + r"(?:on|sitting)"),
    ("chest pain", r"\bleft arm\b " + _gap(3) + r"(?:pain\w*|hurt\w*|ach\w*|heavy)"),

    ("allergic reaction", r"\bthroat\b " + _gap(3) + r"(?:clos\w*|clsoing|tight\w*|swell\w*|swoll\w*)"),
    ("allergic reaction", r"(?:clos\w*|swell\w*|swoll\w*) " + _gap(2) + r"throat\b"),
    ("allergic reaction", r"\b(?:tongue|lips?|face|mouth)\b " + _gap(3) + r"(?:swell\w*|swoll\w*|puff\w* up|blow\w* up|blew up)"),
    ("allergic reaction", r"\b(?:swell\w*|swoll\w*) " + _gap(3) + r"(?:tongue|lips?|face)\b"),
    ("allergic reaction", r"\banaphyla\w*|\ballergic reaction\b"),
    ("allergic reaction", r"\b(?:used|use|gave|give|giving|using|injected) " + _gap(3) + r"epi ?pen"),

    ("breathing", _CANT + " " + _gap(2) + _BREATH),
    ("breathing", r"\b(?:short\w* of|out of) breath|\bcant get (?:any )?air|\bgasp\w*|\bsuffocat\w*|\bchok\w*"),
    ("breathing", r"\bturn\w* (?:blue|purple|gray|grey)|\blips (?:are |r |look |turned )?(?:blue|purple|gray|grey)|\bblue lips"),
    ("breathing", r"\basthma attack|\binhaler (?:is |isnt |not |wont |doesnt )" + _gap(1) + r"(?:work\w*|help\w*)|\bwheez\w*"),

    ("stroke", r"\bstrokes?\b|\bdroop\w*|\bslur\w*"),
    ("stroke", r"\bface\b " + _gap(3) + r"(?:crooked|lopsided|uneven|sagging|saggy|numb\w*|paraly\w*|frozen|fell|falling)"),
    ("stroke", r"\b(?:one|left|right|1) side\b " + _gap(5) + r"(?:numb\w*|weak\w*|paraly\w*|tingl\w*|dead|limp|cant move)"),
    ("stroke", r"\b(?:numb\w*|weak\w*|paraly\w*) " + _gap(4) + r"(?:one|left|right) side\b"),
    ("stroke", r"\b(?:arm|leg|hand|face)s?\b " + _gap(4) + r"(?:numb\w*|limp|paraly\w*)"),
    ("stroke", r"\bnumb\w* " + _gap(3) + r"(?:arm|leg|face)s?\b"),
    ("stroke", r"\b(?:cant|cannot|can not|couldnt) (?:lift|move|raise|feel) " + _gap(2) + r"(?:arm|leg|hand|face|side)"),
    ("stroke", r"\bsudden\w* " + _gap(2) + r"(?:confus\w*|weak\w*|numb\w*|paraly\w*|cant (?:speak|talk|see)|blind\w*)"),
    ("stroke", r"\b(?:cant|cannot|can not) (?:speak|talk|get (?:his|her|my) words out) (?:properly|clearly|right|normally)"),
    ("stroke", r"\b(?:talk|speak|speech|words|saying)\w* " + _gap(3) + r"(?:not making sense|no sense|gibberish|garbled|jumbled)"),
    ("stroke", r"\b(?:not making|making no) sense when\b|\bworst headache|\bthunderclap"),
    ("stroke", r"\bcant see out of\b|\blost (?:my |his |her )?(?:vision|sight)\b|\bwent blind\b"),

    ("seizure", r"\bseiz\w*|\bsiez\w*|\bconvuls\w*|\bfoaming at the mouth|\bhaving a fit\b|\bshaking uncontrollabl\w*"),

    ("unresponsive", r"\bunrespons\w*|\bunconscious\w*|\b(?:not|isnt|wont|stopped) respond\w*"),
    ("unresponsive", r"\b(?:wont|will not|cant|cannot|can not|couldnt|isnt|not) (?:wake|waking|rouse)\b"),
    ("unresponsive", r"\bpass(?:ed|ing)? out\b|\bblack(?:ed)? out\b|\bfaint(?:ed|ing)\b|\bfeel\w* faint\b"),
    ("unresponsive", r"\bcollaps\w*|\bno pulse\b|\blifeless\b|\bknocked out\b|\bkeeled over\b|\b(?:went|gone|is) limp\b|\b(?:isnt|not|stopped) moving\b"),
    ("unresponsive", _CHILD + " " + _gap(6) + r"(?:limp|floppy|lethargic)\b"),

    ("bleeding", r"\b(?:wont|will not|doesnt|does not|cant|cannot|can not|not|isnt|hasnt|havent|never) "
                 + _gap(2) + r"stop\w* " + _gap(2) + r"(?:bleed\w*|blood)"),
    ("bleeding", r"\b(?:bleed\w*|blood) " + _gap(3) + r"(?:wont|will not|doesnt|does not|isnt|not|hasnt|cant) " + _gap(1) + r"stop"),
    ("bleeding", r"\bbleed\w* " + _gap(2) + r"(?:a lot|alot|heavily|heavy|badly|bad|profusely|everywhere|so much|"
                 r"like crazy|nonstop|non stop|through|out)\b"),
    ("bleeding", r"\b(?:heavy|heavily|severe|uncontrol\w*|massive|profuse\w*) " + _gap(1) + r"bleed\w*"),
    ("bleeding", r"\bblood (?:is )?everywhere|\b(?:lots|lot|so much|pool|puddle|covered) (?:of |in )?blood\b"),
    ("bleeding", r"\b(?:cough\w*|vomit\w*|throw\w* up|threw up|puk\w*) " + _gap(2) + r"blood\b"),
    ("bleeding", r"\bgush\w*|\bspurt\w*|\bsoak\w* through|\bhemorrhag\w*|\bhaemorrhag\w*"),

    ("head injury", r"\b(?:hit|bang\w*|bump\w*|smack\w*|slam\w*|struck|cracked|whacked|fell on) " + _gap(2) + r"(?:head|skull)\b"),
    ("head injury", r"\bhead (?:injury|trauma|wound)|\bskull fracture|\bconcussion"),

    ("infant fever", _YOUNG_INFANT + r".*" + _FEVER),
    ("infant fever", _FEVER + r".*" + _YOUNG_INFANT),
    ("infant fever", r"\b(?:baby|infant)\b.*" + _FEVER + r".*\b10[2-9]\b|\b10[2-9]\b.*" + _FEVER + r".*\b(?:baby|infant)\b"),
    ("high fever", _FEVER + " " + _gap(3) + _HIGH_TEMP),
    ("high fever", _HIGH_TEMP + " " + _gap(2) + r"(?:degree\w*|fever|temp\w*|f)\b"),
    ("high fever", r"\b(?:very|really|super|extremely) high " + _FEVER),
    ("meningitis signs", r"\bstiff neck\b.*\b" + _FEVER + r"|\b" + _FEVER + r".*\bstiff neck\b"),
    ("meningitis signs", r"\brash\b " + _gap(4) + r"(?:doesnt|dont|wont|does not) fade|\bpurple (?:rash|spots)"),

    ("injury", r"\bcar (?:accident|crash|wreck)|\bhit by a (?:car|truck|bus)|\bmotorcycle (?:accident|crash)"),
    ("injury", r"\b(?:badly|severely|bad) burn\w*|\bburn\w* (?:badly|bad|severely)|\b(?:third|3rd|second|2nd) degree burn"),
    ("injury", r"\bskin (?:is )?peeling off|\bbone " + _gap(2) + r"sticking out|\bcompound fracture|\bbroken (?:neck|back)\b"),
    ("injury", r"\belectrocut\w*|\bdrown\w*|\bgunshot|\b(?:been|got|was) (?:shot|stabbed)\b|\bstabbed\b"),
    ("injury", r"\bfell " + _gap(2) + r"(?:cant|cannot|can not|unable to) get up\b"),
    ("pregnancy", r"\bwater (?:just )?broke\b|\bin labou?r\b|\bcontractions\b"),
    ("severe pain", r"\bworst pain\b|\bsevere (?:abdominal|stomach|belly) pain|\bexcruciating\b|\bunbearable pain\b"),
    ("emergency", r"\b911\b|\bambulance|\bemergency room|\bparamedics?\b|\bcall (?:an|the) ambulance\b"),
]
_COMPILED = [(reason, re.compile(pattern)) for reason, pattern in _PATTERNS]

# "emergency" by itself triggers, except in everyday phrases like "family emergency".
_EMERGENCY_WORD = re.compile(r"\b(\w+ )?emergenc(?:y|ies)\b")
_NOT_MEDICAL_EMERGENCY = {
    "family", "work", "personal", "pet", "vet", "house", "home", "financial",
    "childcare", "babysitting", "scheduling", "plumbing", "car",
}


def _normalise(text: str) -> str:
    """Lower-case, drop apostrophes ("can't" -> "cant"), turn punctuation into spaces."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = re.sub(r"\bo\.?d'd\b|\bod'ed\b|\bo\.d\.", " overdosed ", lowered)
    lowered = re.sub(r"(?<=\w)'(?=\w)", "", lowered)
    lowered = re.sub(r"[^a-z0-9]+", " ", lowered)
    return f" {lowered.strip()} "


def emergency_reason(text: str) -> Optional[str]:
    """Return a short category if `text` describes an emergency anywhere in it, else None.

    Categories: "self-harm", "overdose", "poisoning", "chest pain",
    "allergic reaction", "breathing", "stroke", "seizure", "unresponsive",
    "bleeding", "head injury", "infant fever", "high fever",
    "meningitis signs", "injury", "pregnancy", "severe pain", "emergency".
    """
    if not text:
        return None
    normalised = _normalise(text)
    for reason, pattern in _COMPILED:
        if pattern.search(normalised):
            return reason
    for match in _EMERGENCY_WORD.finditer(normalised):
        previous = (match.group(1) or "").strip()
        if previous not in _NOT_MEDICAL_EMERGENCY:
            return "emergency"
    if re.search(r"\bER\b|\bE\.R\.", text):
        return "emergency"
    return None


def is_emergency(text: str) -> bool:
    """True when `emergency_reason(text)` finds an emergency."""
    return emergency_reason(text) is not None
