"""Which language a patient's text is written in, and whether it asks for a language.

No model and nothing downloaded: Spanish and English function words, the words of the practice's world
("cita", "appointment"), texting shorthand ("q", "xq", "porfa", "pls") and Spanish letters (á, ñ, ¿, ¡)
are counted, and the language with more wins. A text too short or too mixed to tell (a bare "Y", "1",
"ok", "Dr. Patel") is None: the conversation's language stands.

:func:`requested_language` reads "español", "en español por favor", "English please", "in english":
the patient choosing the conversation's language (stored on ``Conversation.language``).
"""
from __future__ import annotations

import re
import unicodedata

SPANISH, ENGLISH = "es", "en"

# Words either language uses ("no", "me", "a", "ok", "hospital", names, numbers) are in neither list.
_SPANISH_WORDS = frozenset("""
    de del la las el los lo le les al un una unos unas que q porque xq pq por para con sin mi mis su sus
    tu tus es son esta estoy estamos esto eso ese esa hay tengo tiene tenemos quiero quisiera necesito puedo
    puede pueden podria seria hacer ver ir voy va vamos tambien muy bien mas pero cuando donde como cual
    cuanto quien yo usted ustedes nosotros ella ellos hola buenos buenas dias tardes noches gracias porfa favor
    disculpe perdon claro si cita citas cambiar cancelar confirmar confirmo reprogramar mover doctor doctora
    hijo hija hijos esposo esposa mama papa nino nina manana hoy ayer semana proxima proximo despues antes
    tarde temprano hora horas horario lunes martes miercoles jueves viernes sabado domingo llamar llamen llame
    ayuda dolor duele medico tienen estacionamiento consultorio oficina dentista muela seguro pago factura cobro receta
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre ya aqui alli
    """.split())
_ENGLISH_WORDS = frozenset("""
    the to of and or i im i'm my is are was be been you your can could would will should do does did have has
    had need want like it its it's this that there what when where how which who why with for from at on in
    into about after before not dont don't cant can't please pls plz thanks thank thx hi hello hey yes yeah
    sure okay appointment appointments appt appts cancel confirm reschedule move book schedule change doctor
    son daughter kids wife husband mom dad tomorrow today yesterday week next morning afternoon evening time
    times monday tuesday wednesday thursday friday saturday sunday call help pain insurance bill payment
    prescription office dentist tooth get got just also see would we us our later earlier running bit late
    sorry wrong number
    """.split())
_SPANISH_LETTERS = re.compile(r"[áíóúñ¿¡]")
_WORD = re.compile(r"[a-z']+")

# "en español" anywhere asks for Spanish; a bare "español" only when the text is little else (see _POLITE):
# "mi hijo habla español" is not a request.
_PLEASE = r"(?:please|pls|plz|por\s+favor|porfa)"
_ASK_ES = re.compile(rf"\b(?:en|in)\s+(?:espanol|castellano|spanish)\b|\b(?:espanol|spanish)\s+{_PLEASE}\b")
_ASK_EN = re.compile(rf"\b(?:en|in)\s+(?:ingles|english)\b|\b(?:ingles|english)\s+{_PLEASE}\b")
_NAME_ES = re.compile(r"\b(?:espanol|castellano|spanish)\b")
_NAME_EN = re.compile(r"\b(?:ingles|english)\b")
# What may surround a language's name when the text only asks for it ("¿me puede escribir en español, porfa?").
_POLITE = frozenset("""
    por favor porfa porfavor pls plz please thanks thank you gracias puede puedes podria podrian me escribe
    escribame escribeme escribir escribirme mande mandeme manden mensajes textos hablar hable habla hablo hablame
    hablan en in el a de solo only just text write speak speaks talk do can could you i me send messages
    texts si yes ok okay quiero prefiero want prefer would like
    """.split())


def _plain(text: str) -> str:
    """Lower case, accents removed: how texting patients often write anyway."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def detect_language(text: str) -> str | None:
    """'es' or 'en' when the text says which, else None (too short, only names or numbers, or evenly mixed)."""
    words = _WORD.findall(_plain(text))
    spanish = sum(word in _SPANISH_WORDS for word in words) + 2 * len(_SPANISH_LETTERS.findall(text.lower()))
    english = sum(word in _ENGLISH_WORDS for word in words)
    if spanish > english:
        return SPANISH
    if english > spanish:
        return ENGLISH
    return None


def requested_language(text: str) -> str | None:
    """The language the patient asks to be texted in ('español', 'English please'), else None."""
    plain = _plain(text)
    spanish, english = _ASK_ES.search(plain), _ASK_EN.search(plain)
    if not spanish and not english and _only_a_language_name(plain):
        spanish, english = _NAME_ES.search(plain), _NAME_EN.search(plain)
    if bool(spanish) == bool(english):  # neither, or "do you speak english or spanish?"
        return None
    return SPANISH if spanish else ENGLISH


def only_asks_for_language(text: str) -> bool:
    """True when the text is nothing but a language request: no question for the assistant left in it."""
    return requested_language(text) is not None and _only_a_language_name(_plain(text))


def _only_a_language_name(plain: str) -> bool:
    rest = _NAME_ES.sub(" ", _NAME_EN.sub(" ", plain))
    return rest != plain and all(word in _POLITE for word in _WORD.findall(rest))


DETECTED = (SPANISH, ENGLISH)  # the languages detect_language tells apart


def reply_language(stored: str | None, text: str) -> str | None:
    """The language to answer ``text`` in: the one it asks for, else the one it is written in, else ``stored``.

    A stored language the detector does not know (a record saying "fr") stands: a text that reads as English
    may be written in it, as far as the detector can tell.
    """
    if stored is not None and stored not in DETECTED:
        return requested_language(text) or stored
    return requested_language(text) or detect_language(text) or stored
