"""The safety net catches emergencies written in Spanish (and Spanglish), before Spanish is supported in full.

Written for this file, the way patients text in US Spanish: with and without
accents, lower case, inside longer texts, about someone else ("a mi papá le
duele el pecho"), mixing English. Everyday Spanish that only sounds dire
("me muero de hambre") and ordinary practice texts must not trigger.
"""

from __future__ import annotations

import pytest

from bot import wording
from bot.language.safety import emergency_language, emergency_reason, is_emergency

EMERGENCIES_ES = [
    # chest pain / heart
    "me duele mucho el pecho",
    "a mi papá le duele el pecho y está sudando",
    "a mi papa le duele el pecho y esta sudando",
    "tengo un dolor fuerte en el pecho desde hace una hora",
    "siento presión en el pecho y se me duerme el brazo izquierdo",
    "mi esposo dice que siente el pecho apretado",
    "creo que le está dando un infarto a mi abuelo",
    "Buenas tardes, mi mamá tiene 70 años y dice que tiene dolor de pecho, qué hago?",
    "ataque al corazon",
    "me duele el chest bien feo",
    "le duele el brazo izquierdo y tiene nauseas",
    # breathing
    "no puedo respirar",
    "mi hijo no puede respirar bien",
    "mi nieta no puede resprar",
    "le cuesta mucho respirar a mi mamá",
    "tiene dificultad para respirar desde anoche",
    "me falta el aire",
    "mi bebé se está ahogando",
    "se atoró con un dulce y no le entra el aire",
    "tiene los labios morados",
    "mi hija tiene un ataque de asma y el inhalador no le funciona",
    "mi mom no puede breathe",
    "dejó de respirar por unos segundos",
    # stroke signs
    "creo que mi abuela tiene un derrame cerebral",
    "a mi papá se le cayó la cara de un lado",
    "tiene la boca torcida y habla raro",
    "mi esposa arrastra las palabras",
    "de repente no puede mover el brazo derecho",
    "tengo el lado izquierdo del cuerpo dormido",
    "le dio una embolia",
    "tengo el peor dolor de cabeza de mi vida",
    "mi tío de repente no puede hablar",
    # heavy bleeding
    "mi hijo se cortó y está sangrando mucho",
    "no para de sangrar",
    "la herida no deja de sangrar",
    "después de la extracción me sigue sangrando y no para",
    "estoy vomitando sangre",
    "hay mucha sangre, ayuda",
    "estoy embarazada y estoy sangrando",
    "mi papá está tosiendo sangre",
    "he is bleeding mucho de la cabeza",
    # overdose / poisoning
    "creo que tuvo una sobredosis",
    "mi hermano se tomó todas sus pastillas",
    "me tomé un frasco entero de tylenol",
    "se tomó demasiadas pastillas para dormir",
    "mi niño de 2 años se tomó unas pastillas de la presión",
    "mi hija se tomó el cloro por accidente",
    "el bebé se tragó una pila",
    "mi hijo se comió un pod de detergente",
    "le di doble dosis del jarabe al niño sin querer",
    "se tomó las pastillas con alcohol",
    # self-harm and suicidal thoughts
    "me quiero morir",
    "ya no quiero vivir",
    "estoy pensando en suicidarme",
    "tengo pensamientos suicidas",
    "quiero quitarme la vida",
    "me quiero matar",
    "mi hijo dice que se quiere matar",
    "todos estarían mejor sin mí",
    "me he estado cortando los brazos otra vez",
    "no le veo sentido a la vida",
    "quiero acabar con todo",
    "ojalá no despertar mañana",
    # severe allergic reaction
    "se me está cerrando la garganta",
    "se le hinchó la cara después de comer camarones",
    "tiene los labios hinchados y le pica todo",
    "tengo la lengua hinchada por la medicina nueva",
    "está teniendo una reacción alérgica fuerte",
    "le puse el epipen a mi hijo, ahora qué",
    # unconscious / seizure
    "mi abuelo se desmayó",
    "mi esposo perdió el conocimiento",
    "mi mamá no responde",
    "no lo puedo despertar",
    "está inconsciente en el piso",
    "mi hija está convulsionando",
    "le dio un ataque epiléptico",
    "se cayó en la cocina y no se mueve",
    # other
    "es una emergencia",
    "necesito una ambulancia",
    "lo llevamos a urgencias?",
    "se me rompió la fuente y tengo 33 semanas",
    "mi bebé recién nacido tiene fiebre",
    "mi hijo se golpeó la cabeza y está vomitando",
    # inside longer texts
    "hola buenos días, quería saber a qué hora es la cita de mi hija el martes, y también mi papá dice que "
    "le duele el pecho desde la mañana",
    "Buenas noches disculpe la hora, mi esposo no puede respirar bien y tiene los labios morados, qué hacemos",
    "hola soy la mamá de Sofía, se tomó como 20 pastillas de ibuprofeno, por favor ayuda",
]

NOT_EMERGENCIES_ES = [
    "me muero de hambre",
    "me muero de risa jajaja",
    "me muero de ganas de ver al doctor",
    "estoy muerta de cansancio",
    "me muero de sueño, puedo cambiar mi cita a la tarde?",
    "me quiero morir de la vergüenza, se me olvidó la cita",
    "tengo dolor de muela",
    "me duele la muela desde ayer",
    "necesito una cita para limpieza dental",
    "quiero cambiar mi cita del martes",
    "puedo cancelar mi cita",
    "confirmo mi cita",
    "sí, ahí estaré",
    "gracias",
    "hola",
    "a qué hora abren mañana",
    "dónde están ubicados",
    "necesito una receta para mi presión",
    "tengo una pregunta sobre mi factura",
    "aceptan medicaid?",
    "mi hijo necesita un examen físico para la escuela",
    "necesito el récord de vacunas de mi hija",
    "voy a llegar 10 minutos tarde",
    "estoy atorado en el tráfico, llego en 15",
    "número equivocado",
    "tengo la garganta irritada y un poco de tos",
    "tengo gripa y congestión",
    "me sangran un poco las encías cuando me cepillo",
    "me tomo mis pastillas todos los días en la mañana",
    "tuve una emergencia familiar y no pude ir a la cita",
    "mi jefe me va a matar si llego tarde",
    "me mata el tráfico de la mañana",
    "el doctor no responde mis mensajes",
    "quiero hablar con una persona",
    "necesito una radiografía de pecho para el trabajo",
    "tengo la pierna un poco adolorida después del ejercicio",
    "mi hija tiene fiebre de 38 y tos",
    "me puede mandar el formulario para la escuela",
    "cuánto cuesta una limpieza",
    "ya pagué la cuenta",
    "me duele la espalda cuando me siento mucho tiempo",
    "no puedo ir el lunes, tiene algo el miércoles?",
    "puedo tomar ibuprofeno antes de la cita?",
]


@pytest.mark.parametrize("text", EMERGENCIES_ES)
def test_every_spanish_emergency_triggers(text: str) -> None:
    assert emergency_reason(text) is not None, text


@pytest.mark.parametrize("text", [text for text in EMERGENCIES_ES if "á" in text or "é" in text or "ó" in text])
def test_a_spanish_emergency_triggers_without_its_accents_and_in_capitals(text: str) -> None:
    plain = text.translate(str.maketrans("áéíóúñ", "aeioun"))
    assert is_emergency(plain), plain
    assert is_emergency(text.upper()), text.upper()


def test_the_spanish_lists_are_large_enough() -> None:
    assert len(EMERGENCIES_ES) >= 60
    assert len(NOT_EMERGENCIES_ES) >= 40


def test_everyday_spanish_raises_no_false_alarm() -> None:
    false_alarms = [(text, emergency_reason(text)) for text in NOT_EMERGENCIES_ES if is_emergency(text)]
    assert false_alarms == []


@pytest.mark.parametrize(("text", "reason"), [
    ("a mi papá le duele el pecho", "chest pain"),
    ("mi hijo no puede respirar", "breathing"),
    ("se le cayó la cara de un lado", "stroke"),
    ("no para de sangrar", "bleeding"),
    ("se tomó todas sus pastillas", "overdose"),
    ("mi hija se tomó el cloro", "poisoning"),
    ("me quiero morir", "self-harm"),
    ("se me está cerrando la garganta", "allergic reaction"),
    ("se desmayó", "unresponsive"),
    ("está convulsionando", "seizure"),
])
def test_a_spanish_emergency_gets_the_english_category(text: str, reason: str) -> None:
    assert emergency_reason(text) == reason


@pytest.mark.parametrize("text", [
    "me duele el pecho", "mi mom no puede breathe", "tengo chest pain y estoy sudando",
    "my dad se desmayó", "le duele el chest",
])
def test_spanish_and_bilingual_emergencies_get_the_advice_in_spanish(text: str) -> None:
    assert is_emergency(text)
    assert emergency_language(text) == "es"


@pytest.mark.parametrize("text", ["my chest hurts", "cant breath", "i want to kill myself", "no chest pain but dizzy"])
def test_english_emergencies_get_the_advice_in_english(text: str) -> None:
    assert emergency_language(text) == "en"


# --- the advice a Spanish emergency gets ------------------------------------------------

def test_the_spanish_advice_is_the_english_one_plus_the_spanish_line_in_gsm7():
    """Bilingual, within 320 characters, and GSM-7: an accent such as "envíe" would force UCS-2."""
    from bot import wording
    from bot.wording.texts import TEMPLATES, gsm7_length

    assistant, after_hours = (wording.catalog("en")[name] for name in ("utter_emergency_es", "utter_emergency_es_on_call"))
    for text in (TEMPLATES["emergency_es"], assistant, after_hours):
        assert text.startswith(TEMPLATES["emergency"])
        assert "llame al 911" in text and "988" in text.split("Si es una emergencia")[1]
        assert gsm7_length(text) is not None and gsm7_length(text) <= 320
    assert assistant.startswith(TEMPLATES["emergency_es"]) and after_hours.startswith(TEMPLATES["emergency_es"])


def test_the_override_says_the_emergency_is_in_spanish():
    from tests.ci import require

    require("rasa")
    from rasa.shared.nlu.training_data.message import Message

    from nlu.emergency_override import EmergencyOverride

    spanish, english = Message(data={"text": "a mi papá le duele el pecho"}), Message(data={"text": "my chest hurts"})
    for message in (spanish, english):
        message.set("intent", {"name": "nlu_fallback", "confidence": 0.3}, add_to_output=True)
    EmergencyOverride({}).process([spanish, english])
    assert spanish.get("intent")["name"] == "emergency" and spanish.get("emergency_reason") == "chest pain"
    assert spanish.as_dict(only_output_properties=True)["emergency_language"] == "es"
    assert english.get("emergency_language") == "en"


def _urgent_tickets(engine, phone):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bot.models import HandoffTicket

    with Session(engine) as session:
        return session.execute(select(HandoffTicket).where(HandoffTicket.phone == phone,
                                                           HandoffTicket.queue == "urgent")).scalars().all()


@pytest.mark.parametrize("extra", [
    {"emergency_reason": "chest pain", "emergency_language": "es"},  # as the override leaves it
    {},  # the classifier alone said emergency: the action reads the text's language itself
])
def test_a_spanish_emergency_gets_the_advice_in_both_languages_and_an_urgent_ticket(demo_engine, now, converse, extra):

    chat = converse("+15035550111", demo_engine, now)
    reply = chat.say("a mi papá le duele el pecho", "emergency", **extra)
    assert reply.startswith(wording.render("emergency_es", "es"))  # Spanish first, then English
    assert chat.responses == ["utter_emergency_es"]
    [ticket] = _urgent_tickets(demo_engine, "+15035550111")
    assert "le duele el pecho" in ticket.reason
    assert chat.paused


def test_an_english_emergency_still_gets_the_english_advice(demo_engine, now, converse):
    chat = converse("+15035550111", demo_engine, now)
    chat.say("my chest hurts", "emergency", emergency_reason="chest pain", emergency_language="en")
    assert chat.responses == ["utter_emergency"]


def test_a_spanish_emergency_while_staff_have_the_chat_gets_the_spanish_advice_at_once(engine, now):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bot.messaging import inbound
    from bot.models import OutboundMessage
    from bot.staff import handoff

    phone = "+15035550123"
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=phone, queue="billing", reason="bill", now=now)
        message, _ = inbound.store_inbound(session, message_sid="SM" + "7" * 32, phone=phone, to_number="+15035550199",
                                           body="mi esposo se desmayó y no responde", media=[], now=now)
        result = inbound.triage_inbound(session, message, now=now, advanced_opt_out=False)
    with Session(engine) as session:
        [reply] = session.execute(select(OutboundMessage).where(OutboundMessage.phone == phone)).scalars().all()
    assert reply.body == wording.render("emergency_es", "es")  # in office hours (on-call is paged on its own phone)
    assert result.opened_ticket_id is not None and len(_urgent_tickets(engine, phone)) == 1


# --- an independent set, written by someone who had not read the patterns ----------------

def _independent_set() -> dict:
    import yaml

    from bot.settings import ROOT

    return yaml.safe_load((ROOT / "tests" / "safety_es_texts.yml").read_text())


def test_every_emergency_of_the_independent_spanish_set_is_caught_and_answered_in_spanish():
    emergencies = _independent_set()["emergencies"]
    assert len(emergencies) >= 100
    missed = [item["text"] for item in emergencies if not is_emergency(item["text"])]
    assert missed == []
    assert [item["text"] for item in emergencies if emergency_language(item["text"]) != "es"] == []


def test_the_independent_spanish_non_emergencies_raise_few_false_alarms():
    """The net does not read tense, as it does not read negations: a past episode ("el dolor de pecho
    de la semana pasada era acidez") still gets the one-line advice. 10 of the 72 do, all of that kind
    or hyperbole ("me va a dar un infarto con este bill"); none may be added."""
    ordinary = _independent_set()["not_emergencies"]
    false_alarms = [(text, emergency_reason(text)) for text in ordinary if is_emergency(text)]
    assert len(false_alarms) <= 10, false_alarms
