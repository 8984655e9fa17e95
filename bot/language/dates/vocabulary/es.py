"""Spanish: the words US patients text for days, months, times and parts of the day, and their patterns.

The same names as vocabulary/en.py, the same conventions (bot/language/dates/__init__.py). Texts are
folded first (accents dropped, so "mañana", "manana" and "mañána" read alike, and "ñ" is "n"): every
word here is written without accents. What is particular to Spanish:
- "mañana" alone is tomorrow; after "la"/"las"/"esta" ("en la mañana", "por la mañana", "de la
  mañana", "esta mañana") it is the morning; "mañana en la mañana" is tomorrow 08:00-12:00;
  "pasado mañana" the day after tomorrow;
- a part of the day needs its article ("en la tarde", "por la noche", "las mañanas"), so "buenos días",
  "buenas tardes" and "buenas noches" are greetings, never times; "tarde" and "temprano" bare, next to a
  day, are late afternoon and early morning, like "late" and "early" ("el jueves tarde", "mañana temprano");
- minutes after the hour: "3 y media" 15:30, "4 y cuarto" 16:15, "5 menos cuarto" 16:45, "3 y 20";
  "a las 3", "a la 1", "a las 10 de la mañana"; "mediodía" 12:00, "medianoche" 00:00;
- "el 14", "el día 14", "el lunes 14" are that day of the month (a weekday with a number is the date);
  a caller reading a numbered choice ("el 2") must look for it before asking for a date;
- numeric dates are month/day like the practice's ("11/14" is November 14): that is how Spanish speakers
  in the US mostly write them, and a day/month reading would silently book the wrong month;
- "mar" is Tuesday only after "próximo"/"este" (it is also the sea, and March in "14 de mar").
"""
from __future__ import annotations

import unicodedata

from bot.language.dates.vocabulary.common import alt

CODE = "es"


def fold(text: str) -> str:
    """The lowered text without accents ("miércoles" -> "miercoles", "mañana" -> "manana")."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


QUE = r"(?:que|q|k)"
PROX = r"(?:proxim[oa]|prox\.?)"
NEVER = r"(?!)"

WEEKDAYS: dict[int, tuple[str, ...]] = {
    0: ("lunes", "lunez", "lun"),
    1: ("martes", "martez", "mart", "mar"),
    2: ("miercoles", "miercole", "mircoles", "miercoles", "mierc", "mier", "mie"),
    3: ("jueves", "juebes", "juev", "jue"),
    4: ("viernes", "biernes", "vier", "vie"),
    5: ("sabado", "sabados", "savado", "sab"),
    6: ("domingo", "domingos", "dom"),
}
WEEKDAY_OF = {w: n for n, words in WEEKDAYS.items() for w in words}
RISKY_WEEKDAYS: set[str] = set()
RISKY_PRECEDERS: set[str] = set()
RISKY_FOLLOWERS: set[str] = set()
# "mar" is the sea: a Tuesday only after a strong lead ("el próximo mar", "este mar").
STRICT_WEEKDAYS = {"mar"}
STRONG_WEEKDAY_LEAD = r"(?:el\s+)?(?:" + PROX + r"|siguiente)|este"

MONTHS: dict[int, tuple[str, ...]] = {
    1: ("enero", "ene"), 2: ("febrero", "feb"), 3: ("marzo", "mar"), 4: ("abril", "abr"),
    5: ("mayo",), 6: ("junio", "jun"), 7: ("julio", "jul"), 8: ("agosto", "ago"),
    9: ("septiembre", "setiembre", "sept", "sep"), 10: ("octubre", "oct"),
    11: ("noviembre", "novienbre", "nov"), 12: ("diciembre", "dic"),
}
MONTH_OF = {w: n for n, words in MONTHS.items() for w in words}

# Days of the month in words are cardinals in Spanish ("el quince de noviembre"), but the 1st is "primero".
_CARDINALS = ("uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis "
              "diecisiete dieciocho diecinueve veinte veintiuno veintidos veintitres veinticuatro veinticinco "
              "veintiseis veintisiete veintiocho veintinueve treinta").split()
ORDINAL_WORDS = dict({w: n for n, w in enumerate(_CARDINALS, start=1)}, primero=1, **{"treinta y uno": 31})
HOUR_WORDS = {
    "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}
# Minutes after ("y") or before ("menos") the hour: "3 y media", "4 y cuarto", "5 menos cuarto", "3 y 20".
MINUTE_WORDS = {
    "cinco": 5, "diez": 10, "cuarto": 15, "quince": 15, "veinte": 20, "veinticinco": 25, "media": 30,
    "treinta": 30, "cuarenta": 40, "cuarenta y cinco": 45,
    "5": 5, "05": 5, "10": 10, "15": 15, "20": 20, "25": 25, "30": 30, "35": 35, "40": 40, "45": 45,
    "50": 50, "55": 55,
}
PAST_WORDS = ("y",)
TO_WORDS = ("menos",)
RANGE_CUES = {"de", "desde", "entre", "libre", "disponible", "cualquier"}
GREETING_LEADS = {"buenos", "buenas", "buen", "bns", "buenass", "muy"}
WEEKDAY_ORDINALS = {"primer": 1, "primero": 1, "1er": 1, "1ro": 1, "segundo": 2, "2do": 2, "tercer": 3,
                    "tercero": 3, "3er": 3, "3ro": 3, "cuarto": 4, "4to": 4, "quinto": 5, "5to": 5,
                    "ultimo": -1}

COUNT_WORDS = dict(HOUR_WORDS, un=1, **{"un par de": 2, "par de": 2})

PART_WORDS = {
    "manana": "morning", "mananas": "morning", "mananita": "morning",
    "tarde": "afternoon", "tardes": "afternoon", "tardecita": "afternoon",
    "noche": "evening", "noches": "evening", "nochecita": "evening",
}

NOT_TIME_FOLLOWERS = {
    "nino", "ninos", "nina", "ninas", "hijo", "hijos", "hija", "hijas", "persona", "personas", "pacientes",
    "dia", "dias", "semana", "semanas", "mes", "meses", "ano", "anos", "hora", "horas", "hr", "hrs",
    "minuto", "minutos", "min", "mins", "dolares", "dlls", "veces", "vez", "pastilla", "pastillas", "mg",
    "ml", "libras", "kilos", "opcion", "opciones", "cita", "citas", "consulta", "consultas", "piso", "grado",
    "dosis", "vacuna", "vacunas", "calle", "cuadras", "millas", "x", "otro", "otra", "otros", "otras",
    "cosas", "preguntas", "pregunta", "meds", "inyecciones", "recetas", "anitos", "meses", "uno", "una",
}

FILLER = {"a", "al", "en", "el", "la", "las", "los", "de", "del", "por", "para", "como", "tipo", "sobre",
          "si", "se", "puede", "pueden", "seria", "sera", "es", "este", "esta", "mejor", "preferible",
          "preferiblemente", "idealmente", "ideal", "bien", "ok", "okay", "porfa", "porfavor", "favor", "pf",
          "xfa", "xfavor", "plis", "pls", "solo", "nomas", "cualquier", "hora", "me", "queda", "quedaria",
          "funciona", "sirve", "puedo", "ir", "venir", "yo", "q", "que", "pues", "entonces", "eso", "osea",
          "digamos", "um", "eh", "ya", "sea", "alguna", "algun", "ese", "mismo", "x", "posible"}
BREAKERS = {"o", "u", "y", "e", "no", "ni", "sino", "cancelar", "cancela", "cancelen", "cancelo", "pero",
            "mover", "moverla", "cambiar", "cambiarla", "/", "&", "tambien", "hasta", "desde", "vez"}
BOUND_WORDS = {"despues", "dsp", "antes", "hasta"}
CONNECTIVES = {"o", "u", "y", "tal", "vez", "quizas", "quiza", "tambien", "si", "no", "sino", ",", "/",
               "entonces", "mejor", "a", "las", "la"}
NOT_TIME_LEADS = {"opcion", "opciones", "numero", "no", "presione", "oprima", "marque", "responda", "sala",
                  "cuarto", "#", "la"}
MONTH_SHIFTS = {"este": 0, "proximo": 1, "siguiente": 1}

# ------------------------------------------------------------------ patterns

WD = alt(WEEKDAY_OF)
MON = alt(MONTH_OF)
ORDW = alt(ORDINAL_WORDS)
HW = alt(HOUR_WORDS)
CNT = r"(?:\d{1,3}|un\s+par\s+de|par\s+de|" + HW + r"|un)"
MINW = alt(MINUTE_WORDS)
HOUR = r"(?:\d{1,2}|" + HW + r")"
_MINUTE_UNIT = r"(?:\s+min(?:uto)?s?)?"
MIN_PAST = r"(?P<hour>" + HOUR + r")\s+y\s+(?P<min>" + MINW + r")" + _MINUTE_UNIT
MIN_TO = r"(?P<hour>" + HOUR + r")\s+menos\s+(?P<min>" + MINW + r")" + _MINUTE_UNIT
WORDED_MINUTES = HOUR + r"\s+(?:y|menos)\s+(?:" + MINW + r")" + _MINUTE_UNIT + r"(?![\w:])"
ISH = r"(?:\s*-?ish)"
_LAS = r"(?:\s+las?)?"
AFTER_RE = (r"(?:(?<!no\s)(?:despues|dsp|dps|desp|luego)\s+del?" + _LAS + r"|a\s+partir\s+del?" + _LAS
            + r"|mas\s+tarde\s+de" + _LAS + r"|no\s+antes\s+de" + _LAS + r")")
BEFORE_RE = (r"(?:antes\s+del?" + _LAS + r"|hasta" + _LAS + r"|no\s+despues\s+de" + _LAS
             + r"|a\s+mas\s+tardar(?:\s+a)?" + _LAS + r")")
BOUND_LEAD = r"(?:(?:cualquier\s+hora|lo\s+" + QUE + r"\s+sea|solo|solamente|nomas)\s+)?"
BOUNDS_JOINT = r"\s*,?\s*(?:(?:pero|y)\s+)?"
ORD_SUFFIX = r"(?:ro|er|do|to|vo|no|º|°)"
DAY_NUMBER = r"(\d{1,2}(?=" + ORD_SUFFIX + r"|\b)|" + ORDW + r")" + ORD_SUFFIX + r"?"
DAY_RANGE_FROM = r"(?:(?P<lead>del|de|entre|desde\s+el)\s+)?"
DAY_RANGE_SEP = r"\s*(?P<sep>-|al|a|hasta\s+el|y)\s*"
DAY_RANGE_AND = "y"  # only after "entre"
DAY_RANGE_BETWEEN = ("entre",)
THE = r"(?:el\s+)?"
OF = r"(?:del?\s+)?"
ON = r"(?:para\s+)?"
ARTICLE_RE = r"\bel\b|\bdel\b"
YEAR_JOINT = r",?\s+(?:del?\s+)?"
MONTH_SHIFT = r"(" + alt(MONTH_SHIFTS) + r")\s+mes"
ORDINAL_WEEKDAY = r"(" + alt(WEEKDAY_ORDINALS) + r")"
OF_MONTH = r"\s+(?:del?|en(?:\s+el)?)\s+(?:(este|proximo|siguiente|)\s*mes|(" + MON + r"))"
WEEKEND = r"(?:fin(?:es)?\s+de\s+semana|finde|weekend)"
_NEXT_WEEK = r"(?:" + PROX + r"\s+semana|semana\s+" + QUE + r"\s+viene|semana\s+" + PROX + r")"
UPCOMING_WEEK = r"(?:la\s+)?(?:semana\s+entrante|siguiente\s+semana|semana\s+siguiente)(?![-\w])"
WEEK_OF_BEFORE = r"(?:la\s+)?semana\s+(?:del?\s+)?$"
AFTER_DAY_BEFORE = r"(?:(?:cualquier\s+dia|solo|solamente)\s+)?(?:despues|dsp|a\s+partir)\s+(?:del?\s+)?$"
BEFORE_DAY_BEFORE = r"(?:(?:cualquier\s+dia|solo|solamente)\s+)?antes\s+(?:del?\s+)?$"
GREETING_BEFORE = r"\b(?:" + alt(GREETING_LEADS) + r")\s+$"
_TOMORROW = r"(?:manana|mannana|mnana|manan|mnn|tmrw|tomorrow)"
# "mañana" after "la"/"las"/"esta"/"media"/"cualquier" is the morning ("pasado mañana" is claimed first).
TMRW = r"(?<!la\s)(?<!las\s)(?<!esta\s)(?<!pasado\s)(?<!una\s)(?<!media\s)(?<!cualquier\s)" + _TOMORROW
TODAY = r"(?:hoy|hoi)"
TONIGHT = r"(?:esta\s+noche|esta\s+nochecita)"
MER = r"(?:\s*(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])|[ap](?![a-z]))"
OCLOCK = r"en\s+punto"
ATOM = (r"(?:(?:12\s+del\s+)?(?:mediodia|medio\s+dia)" + ISH + r"?|medianoche|media\s+noche|"
        + WORDED_MINUTES + r"(?:" + MER + r")?"
        r"|(?:\d{1,2}[:.]\d{2}|\d{3,4}|\d{1,2}|(?:" + HW + r"))(?:" + MER + r")?(?:\s+" + OCLOCK + r")?"
        + ISH + r"?)")

_PART_NAMES = alt(PART_WORDS)
# A part of the day needs its article ("en la tarde"), so "buenas tardes" is no time; modifiers before
# ("temprano en la mañana", "a media tarde") or after ("en la mañana temprano").
PART_LEAD = ""
PART_RE = (r"(?:(?P<mod>temprano|tempranito|tarde)\s+(?:en|por|de)\s+la\s+|a\s+(?P<mod2>media)\s+"
           r"|(?:(?:en|por|de|durante|a|para|hacia|x|toda|todas)\s+)?(?:la|las)\s+|cualquier\s+)"
           r"(?P<name>" + _PART_NAMES + r")(?:\s+(?P<mod3>temprano|tempranito))?"
           r"|(?P<first>(?:a\s+)?primera\s+hora(?:\s+de\s+la\s+manana)?)"
           r"|(?P<lunch>(?:(?:a|en|para)\s+la\s+)?hora\s+del?\s+(?:almuerzo|comida|comer|lonche|lunch)"
           r"|(?:al|en\s+el|durante\s+el|para\s+el)\s+(?:almuerzo|lonche|lunch))"
           r"|(?<=la\s)(?P<mer>am|pm|a\.m\.|p\.m\.)")
PART_MODIFIERS = {"temprano": "early", "tempranito": "early", "tarde": "late", "media": "mid"}
NOT_A_PART_AFTER: dict[str, set[str]] = {}
PARTS_NEEDING_A_DAY: set[str] = set()
EARLY_LATE = r"(temprano|tempranito|tarde)(?![\w-])(?!\s+(?:en|por|de|a)\s+la\b)"
MERIDIEM_PART = r"(?<!\d\s)(am|pm|a\.m\.|p\.m\.)(?![\w])"
DAY_GAP = r"[\s,]*(?:el\s+)?"
AT_GAP = r"[\s,]*(?:a\s+las?\s+|@\s*)?"
ALTERNATIVE_GAP = r"\s*(?:o|u|,|/)\s*(?:tal\s+vez\s+|quizas?\s+|mejor\s+)?(?:a\s+las?\s+)?"

AMOUNT_UNITS = r"dolares|dlls|dls|usd|%|mg|ml|mcg|lbs?|kg|libras|kilos|pesos"
DASH_DATE_LEADS = ("el", "dia", "para", "fecha")
DASH_DATE_NOT_AFTER = ("entre", "de", "desde", "a", "las", "como", "hora", "libre")

DAY_AFTER_TOMORROW = r"pasado\s+" + _TOMORROW + r"\b"
DAY_AFTER_TODAY = NEVER
WEEK_UNIT = r"semanas?"
NOW_WORDS = ("ahora",)
IN_N_DAYS = r"(?:en|dentro\s+de)\s+(?:unos\s+|unas\s+|como\s+)?(" + CNT + r")\s+(dias?|semanas?)\b"
N_DAYS_FROM = (r"(" + CNT + r")\s+(dias?|semanas?)\s+(?:a\s+partir\s+de|despues\s+de|desde)\s+(ahora|"
               + TODAY + r"|" + _TOMORROW + r")\b")
HALF_AN_HOUR = r"media"
HOUR_UNIT = r"horas?|hrs?"
IN_MINUTES = r"(?:en|dentro\s+de)\s+(?:unos\s+)?(media|" + CNT + r")\s*(horas?|hrs?|minutos?|mins?)\b"
TODAY_RE = r"(?:(?:mas\s+tarde|luego)\s+)?(?:el\s+dia\s+de\s+)?" + TODAY + r"(?:\s+mas\s+tarde)?\b"
THIS_PART = r"esta\s+(manana|tarde|mananita|tardecita)\b"
WEEK_AFTER_NEXT = (r"(?:la\s+)?semana\s+(?:despues\s+de\s+la\s+(?:" + PROX + r"|" + QUE + r"\s+viene)"
                   r"|subsiguiente)\b")
WEEKDAY_RE = (r"(?:(el\s+" + PROX + r"|el\s+siguiente|" + PROX + r"|este|el|para\s+el)\s+)?"
              r"((?:(?:la\s+)?" + _NEXT_WEEK + r",?\s+(?:el\s+)?)?)(" + WD + r")\.?(?![\w])"
              r"((?:,?\s+de\s+la\s+" + _NEXT_WEEK + r")?)(?:\s+(?:" + QUE + r"\s+viene|" + PROX + r"))?()")
WEEK_LATER_LEAD = NEVER
# "el lunes 14": a weekday with its day of the month (not "el lunes 3 de la tarde", "el lunes 3pm").
WEEKDAY_DAY_NUMBER = (r"(?:el\s+)?(" + WD + r")\.?,?\s+(?:el\s+)?(\d{1,2})" + ORD_SUFFIX + r"?(?![\w:.])"
                      r"(?!\s*(?:[ap]\.?m\b|[ap]\b|de\s+la|y\s+(?:media|cuarto|\d)|menos|hrs?\b|horas?|-\s*\d"
                      r"|a\s+\d|o\s+\d|en\s+punto))")
EARLY_NEXT_WEEK = r"(?:a\s+)?(?:principios|inicios|comienzos)\s+de\s+la\s+" + _NEXT_WEEK + r"\b"
NEXT_WEEK_OR_WEEKEND = (r"(?:(?:el|la|para\s+el|para\s+la)\s+)?(?:(?P<weekend>(?:" + PROX + r"|siguiente)\s+"
                        + WEEKEND + r"|" + WEEKEND + r"\s+(?:" + QUE + r"\s+viene|" + PROX + r"))|"
                        + _NEXT_WEEK + r")\b")
THIS_WEEKEND = r"(?:(?:este|el|para\s+el|en\s+el)\s+)?" + WEEKEND + r"\b"
THIS_WEEK = r"(?:(?P<later>mas\s+adelante|mas\s+tarde)\s+)?(?:en\s+)?esta\s+semana\b"
NEXT_MONTH = r"(?:el\s+)?(?:" + PROX + r"\s+mes|mes\s+" + QUE + r"\s+viene|mes\s+" + PROX + r"|siguiente\s+mes)\b"
THIS_MONTH = r"(?:en\s+)?este\s+mes\b"
IN_MONTH = (r"(?:en|durante|para)\s+(?:(?:a\s+)?(?:principios|mediados|finales|fines)\s+de\s+)?("
            + alt(names[0] for names in MONTHS.values()) + r")\b(?!\s*\d)")
# "el 14", "el día 14", "para el 14", "antes del 14": (the day)
ORDINAL_DAY = (r"(?:(?:para|hasta|desde)\s+)?(?:(?:el|del|al)\s+(?:dia\s+)?|dia\s+)(\d{1,2})" + ORD_SUFFIX
               + r"?(?![\w:.])(?!\s*(?:[ap]\.?m\b|[ap]\b|de\s+la|y\s+(?:media|cuarto)|menos|hrs?\b|horas?|-\s*\d))")
ORDINAL_WORD_DAY = NEVER

RANGE_BETWEEN = r"entre\s+(?:las?\s+)?"
RANGE_BETWEEN_JOINT = r"\s*(?:y|-|a)\s*(?:las?\s+)?"
RANGE_FROM = r"(?:de|desde|cualquier\s+hora\s+de)\s+(?:las?\s+)?"
RANGE_FROM_JOINT = r"\s*(?:a|hasta|-)\s*(?:las?\s+)?"
RANGE_JOINT = r"(?:\s*-\s*|\s+(?:a|hasta)\s+(?:las?\s+)?)"
RANGE_CONTEXT_LEADS = {"a", "las", "como", "tipo", "cualquier", "hora", "libre", "disponible", "puedo",
                       "puede", "podria", "mejor", "de", "entre"}
BOUND_TARGET = r"almuerzo|lonche|lunch|comer|comida|trabajo|trabajar|la\s+escuela|escuela|clases"
LUNCH_TARGETS = {"almuerzo", "lonche", "lunch", "comer", "comida"}
WORK_TARGETS = {"trabajo", "trabajar"}
SCHOOL_TARGETS = {"escuela", "la escuela", "clases"}
EXACT_LEAD = (r"(?:a\s+eso\s+de\s+las?|como\s+a\s+las?|como\s+las?|alrededor\s+de\s+las?|sobre\s+las?"
              r"|para\s+las?|por\s+ahi\s+de\s+las?|aprox(?:imadamente)?(?:\s+a\s+las?)?|tipo|a\s+las?"
              r"|las|al|a|@|~)\s*")

NOON_WORDS = {"mediodia", "12delmediodia"}
MIDNIGHT_WORDS = {"medianoche"}
COMPOUND_MINUTES: dict[str, int] = {}
DIGITS_TO_MAY_BE_A_RANGE = False  # "7 menos 5" is 6:55
