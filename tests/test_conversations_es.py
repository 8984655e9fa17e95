"""Lucía Hernández, the Spanish-speaking demo patient, end to end: whole conversations in Spanish.

The same harness as tests/test_conversations.py (tests/conversation.py: the real rules, actions, database and
catalog, each turn's intent given, no model). Her record's language is "es" (tools/demo.py), so every reply
must be the Spanish catalog's words; the key words are spelled out here, not read from the catalog, so a
reply that falls back to English (or a catalog text that loses its meaning) fails.
"""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Appointment,
    AppointmentStatus,
    ConsentRecord,
    ConsentStatus,
    HandoffTicket,
    OutboundMessage,
    Patient,
    TicketStatus,
)
from bot.patients import upcoming_appointments

LUCIA = "+15035550116"


@pytest.fixture
def demo(demo_engine):
    return demo_engine


def upcoming(engine, now):
    with Session(engine) as session:
        ids = [p.id for p in session.execute(select(Patient).where(Patient.phone == LUCIA)).scalars()]
        return upcoming_appointments(session, ids, now)


def tickets(engine):
    with Session(engine) as session:
        return session.execute(select(HandoffTicket).where(HandoffTicket.phone == LUCIA)).scalars().all()


def english_free(reply: str) -> bool:
    """None of the English catalog's usual words (the Spanish texts keep only STOP, START, C, R, Y, N, YES)."""
    return not any(word in reply for word in ("You're", "Reply ", "appointment", "Thank", "Sorry", "We "))


def test_the_demo_has_a_spanish_speaking_patient_with_one_upcoming_visit(demo, now):
    with Session(demo) as session:
        [lucia] = session.execute(select(Patient).where(Patient.phone == LUCIA)).scalars().all()
        assert (lucia.full_name, lucia.language) == ("Lucía Hernández", "es")
    assert len(upcoming(demo, now)) == 1


def test_lucia_checks_and_confirms_in_spanish(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    assert chat.slots["language"] == "es"
    reply = chat.say("hola, cuando es mi cita?", "check_appointment")
    assert reply.startswith("Sus citas: ") and " a las " in reply and "con Dr. Okafor" in reply
    assert "Estamos en 1200 River Road" in reply
    reply = chat.say("C", "confirm_appointment")
    assert reply.startswith("¡Gracias! Queda confirmado: ") and "Le esperamos" in reply and english_free(reply)
    [visit] = upcoming(demo, now)
    assert visit.confirmed_at is not None


def test_lucia_cancels_in_spanish_and_is_offered_a_new_time(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    [before] = upcoming(demo, now)
    reply = chat.say("necesito cancelar mi cita", "cancel_appointment")
    assert reply.startswith("¿Cancelo la cita del ") and "Responda Y para cancelarla o N para dejarla" in reply
    reply = chat.say("si", "affirm")
    assert reply.startswith("Listo: la cita del ") and "queda cancelada" in reply and "buscar otra hora" in reply
    with Session(demo) as session:
        assert session.get(Appointment, before.id).status == AppointmentStatus.CANCELLED
    assert chat.say("si", "affirm").startswith("¿Qué día y hora le conviene?")


def test_lucia_says_no_to_the_cancel_question_and_keeps_her_visit(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    chat.say("quiero cancelar mi cita", "cancel_appointment")
    reply = chat.say("no, mejor la dejo", "deny")
    assert reply.startswith("Muy bien, la cita del ") and reply.endswith("sigue igual.")
    assert len(upcoming(demo, now)) == 1


def test_lucia_moves_her_visit_to_thursday_afternoon_said_in_spanish(demo, now, converse):  # now is a Monday
    chat = converse(LUCIA, demo, now)
    [old] = upcoming(demo, now)
    reply = chat.say("necesito cambiar mi cita para el jueves en la tarde", "reschedule_appointment")
    assert reply.startswith("Horas libres:\n1. jue 4 de mar a la") and "Responda con el 1, 2 o 3" in reply
    offered = chat.slots["offered_slots"]
    assert offered and all(" PM " in line for line in reply.splitlines()[1:1 + len(offered)]), reply
    reply = chat.say("1", "inform")
    assert reply.startswith("¡Listo! Cambiamos su cita al jue 4 de mar") and "Estamos en " in reply
    [new] = upcoming(demo, now)
    assert new.id != old.id
    with Session(demo) as session:
        assert session.get(Appointment, old.id).status == AppointmentStatus.CANCELLED


def test_lucia_books_a_checkup_next_week_in_spanish(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    reply = chat.say("quiero hacer una cita para un chequeo la semana que viene", "book_appointment")
    assert reply.startswith("Horas libres:\n1. ") and " de mar a las " in reply, reply
    reply = chat.say("1", "inform")
    assert reply.startswith("Listo, su cita es el ") and "Responda C para confirmarla" in reply
    assert len(upcoming(demo, now)) == 2


@pytest.mark.parametrize("text, intent, queue", [
    ("tengo una pregunta sobre mi factura", "billing_question", "billing"),
    ("le quiero preguntar a la doctora si puedo tomar ibuprofeno", "provider_question", "clinical"),
])
def test_lucias_billing_and_clinical_questions_go_to_staff_with_a_spanish_answer_time(
        demo, now, converse, text, intent, queue):
    chat = converse(LUCIA, demo, now)
    reply = chat.say(text, intent)
    assert reply.startswith("Le pasé su mensaje a ") and "Le contestarán antes de la " in reply, reply
    assert "Si es urgente, llame al (503) 555-0100" in reply
    [ticket] = tickets(demo)
    assert ticket.queue == queue and ticket.status == TicketStatus.OPEN
    assert chat.paused and chat.say("hola?", "greet") == ""


def test_lucias_emergency_gets_the_spanish_first_advice_and_an_urgent_ticket(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    reply = chat.say("a mi papá le duele el pecho y no puede hablar bien", "emergency",
                     emergency_reason="chest pain")
    assert reply.startswith("Si es una emergencia, llame al 911; para una crisis, llame o mande un mensaje al 988")
    assert "oprima 2 para español" in reply
    assert reply.index("llame al 911") < reply.index("If this is an emergency, call 911")
    assert "Ya avisé a nuestro personal" in reply
    [ticket] = tickets(demo)
    assert ticket.queue == "urgent" and "chest pain" in ticket.reason
    assert chat.paused


def test_lucia_opts_out_in_spanish_and_back_in(demo, now, converse):
    chat = converse(LUCIA, demo, now)
    reply = chat.say("ya no me manden mensajes", "opt_out")
    assert reply.startswith("Ya no recibirá mensajes de ") and "Responda INICIAR o START para volver a recibirlos" in reply
    reply = chat.say("quiero volver a recibir sus mensajes", "opt_in")
    assert reply.startswith("Volverá a recibir mensajes de ") and "Responda PARAR o STOP para no recibirlos" in reply
    with Session(demo) as session:
        statuses = session.execute(select(ConsentRecord.status).where(  # after the demo's billing opt-in
            ConsentRecord.phone == LUCIA, ConsentRecord.purpose != "billing").order_by(ConsentRecord.id)).scalars().all()
    assert statuses == [ConsentStatus.OPTED_OUT, ConsentStatus.OPTED_IN]


def test_lucias_reminder_goes_out_in_spanish_and_her_c_confirms_that_visit(demo, now, converse):
    from workers.reminder_worker import run_pass

    [visit] = upcoming(demo, now)
    due = visit.start - timedelta(days=2) + timedelta(minutes=1)
    run_pass(demo, lambda: due, rate=0, notify_rasa=False)
    with Session(demo) as session:
        [reminder] = session.execute(select(OutboundMessage.body).where(OutboundMessage.phone == LUCIA)).scalars()
    assert reminder.startswith("Recordatorio de ") and "Lucía tiene cita el mié 3 de mar a las " in reminder
    assert "con Dr. Okafor" in reminder and "Responda C para confirmar o R para cambiarla" in reminder
    assert len(reminder) <= 320
    reply = converse(LUCIA, demo, due + timedelta(minutes=5)).say("C", "confirm_appointment")
    assert reply.startswith("¡Gracias! Queda confirmado: mié 3 de mar")


@pytest.mark.parametrize("text, intent", [("sí, ahí estaré", "nlu_fallback"), ("Confirmo", "affirm"),
                                          ("ok gracias 👍", "out_of_scope")])
def test_lucias_spanish_yes_after_her_reminder_confirms_that_visit(demo, now, converse, text, intent):
    from workers.reminder_worker import run_pass

    [visit] = upcoming(demo, now)
    due = visit.start - timedelta(days=2) + timedelta(minutes=1)
    run_pass(demo, lambda: due, rate=0, notify_rasa=False)
    reply = converse(LUCIA, demo, due + timedelta(minutes=5)).say(text, intent)
    assert reply.startswith("¡Gracias! Queda confirmado: ") and english_free(reply)
    with Session(demo) as session:
        assert session.get(Appointment, visit.id).confirmed_at is not None


def _lucia_texts(engine, body, now, sid):
    """One text from Lucía through the SMS channel's triage (consent keywords act there, before any model)."""
    from bot.messaging import inbound

    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid="SM" + sid * 32, phone=LUCIA, to_number=None,
                                           body=body, media=[], now=now)
        result = inbound.triage_inbound(session, message, now=now, advanced_opt_out=False)
        return result, [session.get(OutboundMessage, i).body for i in result.outbound_ids]


def test_lucia_opts_out_with_parar_asks_ayuda_and_comes_back_with_si_all_answered_in_spanish(demo, now, converse):
    from bot.messaging import consent

    result, [reply] = _lucia_texts(demo, "Parar", now, "1")
    assert not result.pass_to_rasa and "ya no le enviaremos mensajes" in reply and "INICIAR" in reply
    result, [reply] = _lucia_texts(demo, "ayuda", now + timedelta(minutes=1), "2")
    assert "para ayuda, llame al" in reply and english_free(reply)
    result, [reply] = _lucia_texts(demo, "Sí", now + timedelta(minutes=2), "3")
    assert not result.pass_to_rasa and "de nuevo le enviaremos mensajes" in reply and english_free(reply)
    with Session(demo) as session:
        assert not consent.is_opted_out(session, LUCIA)
    result, _ = _lucia_texts(demo, "quiero cancelar mi cita", now + timedelta(minutes=3), "4")
    assert result.pass_to_rasa and result.keyword is None  # never an opt-out: the assistant asks which visit
    reply = converse(LUCIA, demo, now + timedelta(minutes=3)).say("quiero cancelar mi cita", "cancel_appointment")
    assert reply.startswith("¿Cancelo la cita del ")
    with Session(demo) as session:
        assert not consent.is_opted_out(session, LUCIA)


@pytest.mark.parametrize("said, intent", [("Sí", "nlu_fallback"), ("claro", "out_of_scope"), ("Y", "nlu_fallback")])
def test_lucias_bare_spanish_yes_to_the_cancel_question_cancels_whatever_the_classifier_made_of_it(
        demo, now, converse, said, intent):
    chat = converse(LUCIA, demo, now)
    [before] = upcoming(demo, now)
    chat.say("necesito cancelar mi cita", "cancel_appointment")
    reply = chat.say(said, intent)
    assert reply.startswith("Listo: la cita del ") and "queda cancelada" in reply
    with Session(demo) as session:
        assert session.get(Appointment, before.id).status == AppointmentStatus.CANCELLED
    reply = chat.say("no", "nlu_fallback")  # "¿Quiere buscar otra hora?"
    assert not reply.startswith("¿Qué día") and english_free(reply)
    assert chat.slots.get("awaiting") is None


@pytest.mark.parametrize("said", ["no", "N", "nel"])
def test_lucias_bare_spanish_no_to_the_cancel_question_keeps_her_visit(demo, now, converse, said):
    chat = converse(LUCIA, demo, now)
    chat.say("quiero cancelar mi cita", "cancel_appointment")
    reply = chat.say(said, "nlu_fallback")
    assert reply.startswith("Muy bien, la cita del ") and len(upcoming(demo, now)) == 1
