"""The conversation's language: the detector, the patient's requests, and a Spanish patient's conversation.

The detector's tables are short texts as patients send them (no accents, shorthand, Spanglish); a text
too short to tell ("Y", "2", "ok") must be None, so the conversation's language stands.
"""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.language.detect import detect_language, only_asks_for_language, reply_language, requested_language
from bot.models import Appointment, Conversation, OutboundMessage, Patient, Practice

SPANISH_TEXTS = [
    "necesito cambiar mi cita para el jueves", "hola buenos dias", "gracias", "quiero cancelar mi cita",
    "a que hora es mi cita", "se puede mover para la tarde?", "mi hijo tiene fiebre", "cuando abren mañana",
    "no puedo ir el lunes", "puedo llevar a mi hija tambien", "donde estan ubicados", "tienen estacionamiento?",
    "xq no me llamaron", "porfa llamenme", "q dias tienen disponibles", "confirmo la cita", "si, la de las 3",
    "mejor el viernes en la mañana", "hacer reschedule de mi appointment", "cuanto cuesta la consulta",
    "aceptan mi seguro?", "tengo una pregunta sobre mi factura", "necesito una receta", "me duele la muela",
    "buenas tardes, habla la mama de Sofia", "la proxima semana despues de las 3", "el martes esta bien",
    "¿Tienen citas el sábado?", "Estimados señores, les escribo para confirmar mi cita", "ya no puedo ir hoy",
    "quisiera hacer una cita para un chequeo", "mi esposo necesita cita", "llego un poco tarde",
    "perdon, me equivoque de numero", "me pueden mandar la direccion", "esta bien, gracias",
    "otra hora por favor", "es para mi papa", "que horario tienen", "no me llego el recordatorio",
    "buenos días doctora", "ok gracias", "sí",
]
ENGLISH_TEXTS = [
    "can i move my appt to thursday", "hi there", "thanks", "i need to cancel my appointment",
    "what time is my appointment", "can we do the afternoon instead?", "my son has a fever",
    "when do you open tomorrow", "i can't make it on monday", "can i bring my daughter too",
    "where are you located", "is there parking?", "why didn't anyone call me", "please call me",
    "what days do you have open", "i confirm", "yes the one at 3", "friday morning would be better",
    "how much is a visit", "do you take my insurance?", "i have a question about my bill",
    "i need a prescription refill", "my tooth hurts", "this is Sofia's mom", "next week after 3",
    "tuesday is fine", "Do you have appointments on Saturday?", "Dear sir, I am writing to confirm my visit",
    "i can't come today", "i'd like to book a checkup", "my husband needs an appointment",
    "running a bit late", "sorry wrong number", "can you send me the address", "that works, thank you",
    "another time please", "it's for my dad", "what are your hours", "i didn't get the reminder",
    "good morning doctor", "ok thanks", "yes please",
]
UNDECIDED = ["Y", "N", "C", "R", "1", "2", "ok", "Dr. Patel", "Maria Lopez", "04/12/1985", "", "!!", "3pm"]


@pytest.mark.parametrize("text", SPANISH_TEXTS)
def test_spanish_texts_are_detected_as_spanish(text):
    assert detect_language(text) == "es"


@pytest.mark.parametrize("text", ENGLISH_TEXTS)
def test_english_texts_are_detected_as_english(text):
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", UNDECIDED)
def test_a_text_too_short_to_tell_is_no_language(text):
    assert detect_language(text) is None


def test_the_tables_are_long_enough():
    assert len(SPANISH_TEXTS) >= 40 and len(ENGLISH_TEXTS) >= 40


@pytest.mark.parametrize("text, language", [
    ("español", "es"), ("Español por favor", "es"), ("en español por favor", "es"), ("en espanol porfa", "es"),
    ("¿me puede escribir en español?", "es"), ("Spanish please", "es"), ("in spanish", "es"),
    ("English please", "en"), ("in english", "en"), ("english", "en"), ("en inglés por favor", "en"),
    ("ingles porfa", "en"), ("can you text me in English?", "en"),
])
def test_a_text_that_only_asks_for_a_language_is_a_request(text, language):
    assert requested_language(text) == language
    assert only_asks_for_language(text)


@pytest.mark.parametrize("text, language", [
    ("en español, quiero cambiar mi cita", "es"), ("in english please, can I move my appt", "en"),
    ("English please, when is my appt", "en"), ("español por favor, cuando es mi cita", "es"),
])
def test_a_request_with_more_to_say_switches_and_goes_on_to_the_assistant(text, language):
    assert requested_language(text) == language
    assert not only_asks_for_language(text)


@pytest.mark.parametrize("text", [
    "mi hijo habla español y quiero cita", "do you speak english or spanish", "my english is not good",
    "quiero cambiar mi cita", "hello",
])
def test_naming_a_language_is_not_always_asking_for_it(text):
    assert requested_language(text) is None


def test_the_reply_follows_the_text_then_the_stored_language():
    assert reply_language("en", "necesito cambiar mi cita") == "es"
    assert reply_language("es", "can i move my appt") == "en"
    assert reply_language("es", "Y") == "es"
    assert reply_language(None, "2") is None
    assert reply_language("fr", "can i move my appt") == "fr"  # the detector cannot tell English from French
    assert reply_language("fr", "español") == "es"


# --- A Spanish patient's conversation (no model: the rules, the actions, the catalog) ---------------------

MARIA, STRANGER = "+15035550111", "+15035550150"


def record_says(engine, phone: str, language: str) -> None:
    with Session(engine) as session, session.begin():
        for patient in session.execute(select(Patient).where(Patient.phone == phone)).scalars():
            patient.language = language


def stored_language(engine, phone: str) -> str | None:
    with Session(engine) as session:
        return session.execute(select(Conversation.language).where(Conversation.address == phone)).scalar()


def test_a_patient_whose_record_says_spanish_is_answered_in_spanish(demo_engine, now, converse):
    record_says(demo_engine, MARIA, "es")
    chat = converse(MARIA, demo_engine, now)
    assert chat.slots["language"] == "es"
    assert chat.say("hola", "greet").startswith("¡Hola! Le escribe ")
    reply = chat.say("cuando es mi cita", "check_appointment")
    assert reply.startswith("Sus citas: ") and "Dr. Patel" in reply and " a las " in reply
    reply = chat.say("C", "confirm_appointment")  # too short to tell: the conversation's language
    assert reply.startswith("¡Gracias! Queda confirmado: ")


def test_a_spanish_patient_picks_a_time_named_in_spanish(demo_engine, now, converse):
    record_says(demo_engine, MARIA, "es")
    chat = converse(MARIA, demo_engine, now)
    reply = chat.say("quiero cambiar mi cita para el jueves en la tarde", "reschedule_appointment")
    assert reply.startswith("Horas libres:") and "1. jue 4 de mar a la" in reply and "PM" in reply
    reply = chat.say("1", "inform")
    assert reply.startswith("¡Listo! Cambiamos su cita al jue 4 de mar")


def test_english_please_switches_the_conversation_and_stays(demo_engine, now, converse):
    record_says(demo_engine, MARIA, "es")
    chat = converse(MARIA, demo_engine, now)
    assert chat.say("cuando es mi cita", "check_appointment").startswith("Sus citas")
    assert chat.say("English please, when is my appt", "check_appointment").startswith("Upcoming: ")
    assert stored_language(demo_engine, MARIA) == "en"
    assert chat.say("C", "confirm_appointment").startswith("Thank you! You're confirmed")
    assert chat.slots["language"] == "en"
    assert converse(MARIA, demo_engine, now).slots["language"] == "en"  # a new session: stored beats the record


def test_a_text_in_the_other_language_is_answered_in_it_without_switching(demo_engine, now, converse):
    record_says(demo_engine, MARIA, "es")
    chat = converse(MARIA, demo_engine, now)
    assert chat.say("when is my appointment", "check_appointment").startswith("Upcoming: ")
    assert stored_language(demo_engine, MARIA) is None
    assert chat.say("C", "confirm_appointment").startswith("¡Gracias! Queda confirmado")


def test_an_english_patient_who_writes_in_spanish_is_answered_in_spanish(demo_engine, now, converse):
    chat = converse(MARIA, demo_engine, now)
    assert chat.say("hola, buenos dias", "greet").startswith("¡Hola! Le escribe ")
    assert chat.say("hi", "greet").startswith("Hi! This is the text line of ")


def test_an_unknown_number_takes_the_language_it_writes_in(demo_engine, now, converse):
    chat = converse(STRANGER, demo_engine, now)
    assert chat.slots["language"] == "en"
    chat.say("hola, necesito una cita", "book_appointment")
    assert stored_language(demo_engine, STRANGER) == "es"
    assert converse(STRANGER, demo_engine, now).slots["language"] == "es"


def triage(engine, phone, body, now, sid):
    from bot.messaging import inbound
    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid="SM" + sid * 32, phone=phone, to_number=None,
                                           body=body, media=[], now=now)
        result = inbound.triage_inbound(session, message, now=now, advanced_opt_out=False)
        return result, [session.get(OutboundMessage, i).body for i in result.outbound_ids]


def test_a_text_that_only_asks_for_spanish_is_answered_by_the_channel_and_stored(demo_engine, now):
    result, [reply] = triage(demo_engine, MARIA, "en español por favor", now, "5")
    assert not result.pass_to_rasa
    assert "desde ahora le escribimos en español" in reply
    assert stored_language(demo_engine, MARIA) == "es"
    result, [reply] = triage(demo_engine, MARIA, "HELP", now + timedelta(minutes=1), "6")
    assert "para ayuda, llame al" in reply


def test_a_reminder_recall_and_offer_to_a_spanish_patient_are_spanish(demo_engine, now):
    from bot.messaging.reminders import reminder_text
    from bot.patients import language_for_phone
    from bot.scheduling.recall import recall_text

    record_says(demo_engine, MARIA, "es")
    with Session(demo_engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        patient = session.execute(select(Patient).where(Patient.phone == MARIA)).scalar_one()
        appointment = session.execute(select(Appointment).where(Appointment.patient_id == patient.id)).scalars().first()
        language = language_for_phone(session, MARIA)
        [reminder] = reminder_text(practice, [appointment], language)
        assert reminder.startswith("Recordatorio de ") and " con Dr. Patel" in reminder
        assert recall_text(practice, appointment, appointment.provider, False, language).count("ya es tiempo") == 1


def test_a_switch_to_english_makes_the_reminder_english(demo_engine, now):
    from bot.messaging.reminders import reminder_text
    from bot.patients import language_for_phone

    record_says(demo_engine, MARIA, "es")
    triage(demo_engine, MARIA, "English please", now, "8")
    with Session(demo_engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        appointment = session.execute(select(Appointment).join(Patient).where(Patient.phone == MARIA)).scalars().first()
        [reminder] = reminder_text(practice, [appointment], language_for_phone(session, MARIA))
        assert reminder.startswith("Reminder from ")

