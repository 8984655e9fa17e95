"""Inbound texts in the domain: hygiene, storage keyed by MessageSid, triage before the bot."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import consent, inbound
from bot.models import ConsentRecord, HandoffTicket, InboundMessage, OutboundMessage, OutboundStatus
from bot.practice import get_practice
from bot.staff import handoff
from bot.wording import texts

PHONE = "+15035550123"


# --- hygiene ---------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ("/restart", "restart"),
    ("//restart", "restart"),
    ("  /restart", "restart"),
    (" / /affirm{\"time\": \"9am\"}", "affirm{\"time\": \"9am\"}"),
    ("can I come at 3/4?", "can I come at 3/4?"),
    ("hi\x00 there\x07", "hi there"),
    ("line one\nline two", "line one line two"),
    ("\u202eevil", "evil"),
    ("👍", "👍"),
    ("👨‍👩‍👧", "👨‍👩‍👧"),
])
def test_text_for_nlu_strips_leading_slashes_and_control_characters(body, expected):
    assert inbound.text_for_nlu(body) == expected


def test_long_texts_are_cut_for_nlu_but_stored_whole():
    body = "a" * 1600
    assert len(inbound.text_for_nlu(body)) == inbound.MAX_NLU_CHARS
    assert inbound.text_to_store(body) == body
    assert len(inbound.text_to_store(body + "b")) == 1600


def test_media_fields_become_a_list():
    form = {"NumMedia": "2", "MediaUrl0": "http://m/0.jpg", "MediaContentType0": "image/jpeg",
            "MediaUrl1": "http://m/1.png", "MediaContentType1": "image/png"}
    assert inbound.media_from_form(form) == [
        {"url": "http://m/0.jpg", "content_type": "image/jpeg"},
        {"url": "http://m/1.png", "content_type": "image/png"},
    ]
    assert inbound.media_from_form({"NumMedia": "x"}) == []


def test_channel_texts_fit_two_segments_and_never_ask_to_reply_cancel():
    for name in texts.TEMPLATES:
        text = texts.render(name, practice_name="Riverside Family Medicine and Dental Associates",
                            practice_phone="+15035550100", **texts.EXAMPLE_FIELDS)
        assert len(text) <= 320, name
        assert "CANCEL" not in text.upper(), name
        assert "{" not in text, name


# --- storage ---------------------------------------------------------------------

def test_a_replayed_message_sid_is_stored_once(any_engine, now):
    results = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        barrier.wait()
        with Session(any_engine) as session, session.begin():
            message, is_new = inbound.store_inbound(session, message_sid="SM" + "1" * 32, phone=PHONE,
                                                    to_number="+15035550199", body="hi", media=[], now=now)
            results.append((message.id, is_new))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(is_new for _, is_new in results) == [False] * 5 + [True]
    assert len({message_id for message_id, _ in results}) == 1
    with Session(any_engine) as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar() == 1


# --- triage ----------------------------------------------------------------------

def _triage(engine, now, body, *, media=(), advanced=False, opt_out_type=None, sid=None):
    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(
            session, message_sid=sid or f"SM{abs(hash((body, now))) % 10**32:032d}", phone=PHONE,
            to_number="+15035550199", body=body, media=list(media), now=now)
        return inbound.triage_inbound(session, message, now=now, advanced_opt_out=advanced,
                                      opt_out_type=opt_out_type)


def _outbound(engine) -> list[OutboundMessage]:
    with Session(engine) as session:
        return session.execute(select(OutboundMessage).order_by(OutboundMessage.id)).scalars().all()


def test_stop_records_the_opt_out_and_queues_one_confirmation(engine, now):
    result = _triage(engine, now, "Stop")

    assert not result.pass_to_rasa and result.keyword == "STOP"
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        assert session.execute(select(ConsentRecord.source)).scalar_one() == "keyword"
    [confirmation] = _outbound(engine)
    assert confirmation.status == OutboundStatus.PENDING and "no more texts" in confirmation.body
    assert result.outbound_ids == [confirmation.id]


def test_with_advanced_opt_out_twilio_confirms_and_we_send_nothing(engine, now):
    _triage(engine, now, "STOP", advanced=True)
    _triage(engine, now + timedelta(minutes=1), "HELP", advanced=True)
    _triage(engine, now + timedelta(minutes=2), "START", advanced=True)
    assert _outbound(engine) == []
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)


def test_cancel_opts_out_and_asks_the_front_desk_to_call(engine, now):
    result = _triage(engine, now, "CANCEL")

    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        ticket = session.get(HandoffTicket, result.opened_ticket_id)
        assert (ticket.queue, ticket.reason) == ("front_desk", inbound.CANCEL_TICKET_REASON)


def test_yes_opts_back_in_only_a_phone_that_opted_out(engine, now):
    assert _triage(engine, now, "yes").pass_to_rasa  # an answer for the bot
    _triage(engine, now + timedelta(minutes=1), "STOP")
    result = _triage(engine, now + timedelta(minutes=2), "Yes")
    assert result.keyword == "START" and not result.pass_to_rasa
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)


def test_help_answers_with_the_practice_name_and_phone(engine, now):
    _triage(engine, now, "help")
    [answer] = _outbound(engine)
    with Session(engine) as session:
        practice = get_practice(session)
    assert practice.name in answer.body and "(503) 555-0100" in answer.body and "STOP" in answer.body


def test_help_is_answered_even_after_an_opt_out(engine, now):
    _triage(engine, now, "STOP")
    _triage(engine, now + timedelta(minutes=1), "HELP")
    help_answer = _outbound(engine)[-1]
    assert "STOP" in help_answer.body and help_answer.status == OutboundStatus.PENDING
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)  # HELP answers, it does not opt back in


def test_a_picture_without_text_gets_the_picture_reply_and_a_ticket(engine, now):
    result = _triage(engine, now, "", media=[{"url": "http://media/card.jpg", "content_type": "image/jpeg"}])

    assert not result.pass_to_rasa
    [reply] = _outbound(engine)
    assert reply.body.startswith("Sorry, pictures can't be handled by text")
    with Session(engine) as session:
        ticket = session.get(HandoffTicket, result.opened_ticket_id)
        assert ticket.queue == "front_desk" and "http://media/card.jpg" in ticket.reason


def test_a_picture_with_text_goes_to_the_bot(engine, now):
    result = _triage(engine, now, "my new insurance card",
                     media=[{"url": "http://media/card.jpg", "content_type": "image/jpeg"}])
    assert result.pass_to_rasa and _outbound(engine) == []


def test_a_text_while_staff_have_the_chat_is_attached_to_their_ticket(engine, now):
    with Session(engine) as session, session.begin():
        ticket_id = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now).id
    later = now + timedelta(minutes=5)

    result = _triage(engine, later, "/restart")

    assert result.pass_to_rasa and result.nlu_text == "restart" and result.paused_ticket_id == ticket_id
    with Session(engine) as session:
        assert session.get(HandoffTicket, ticket_id).last_activity_at == later
        assert session.execute(select(InboundMessage.ticket_id)).scalar_one() == ticket_id


def test_an_emergency_while_paused_is_answered_at_once_with_an_urgent_ticket(engine, now):
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)

    result = _triage(engine, now, "I have chest pain right now")

    [reply] = [m for m in _outbound(engine) if m.phone == PHONE]  # the on-call page goes to the staff phone
    assert reply.body == texts.TEMPLATES["emergency"]
    assert [m.kind for m in _outbound(engine) if m.phone != PHONE] == ["on_call_page"]
    with Session(engine) as session:
        assert session.get(HandoffTicket, result.opened_ticket_id).queue == "urgent"
        # The text is the urgent ticket's (its team reads it), not the paused billing ticket's.
        assert session.execute(select(InboundMessage.ticket_id)).scalar_one() == result.opened_ticket_id
    assert result.pass_to_rasa


def test_an_emergency_with_the_bot_in_charge_is_left_to_the_bot(engine, now):
    result = _triage(engine, now, "I have chest pain right now")
    assert result.pass_to_rasa and _outbound(engine) == []


def test_stop_acts_even_while_paused(engine, now):
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
    result = _triage(engine, now, "STOP")
    assert not result.pass_to_rasa
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)


# --- an emergency anywhere in a long letter ------------------------------------------

_POLITE = ("Good afternoon, I hope this note finds everyone at the office well. I am writing about my "
           "husband's visit next month, and about the new insurance card that came in the mail last week, "
           "which has a different group number than the one on file. ")
_EMERGENCY = "Also my chest hurts and my arm is numb."


def long_letter(where: str) -> str:
    """A letter of about 1,000 characters with the emergency at its start, its middle or past character 500."""
    filler = (_POLITE * 5)[:900]
    if where == "start":
        return _EMERGENCY + " " + filler
    if where == "middle":
        return filler[:300] + " " + _EMERGENCY + " " + filler[300:]
    return filler + " " + _EMERGENCY


@pytest.mark.parametrize("where", ["start", "middle", "past 500"])
def test_an_emergency_anywhere_in_a_long_text_is_caught_while_staff_have_the_chat(engine, now, where):
    body = long_letter(where)
    assert len(body) > 900 and (where != "past 500" or body.index(_EMERGENCY) > inbound.MAX_NLU_CHARS)
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)

    result = _triage(engine, now, body)

    [reply] = [m for m in _outbound(engine) if m.phone == PHONE]  # the on-call page goes to the staff phone
    assert reply.body == texts.TEMPLATES["emergency"]
    with Session(engine) as session:
        ticket = session.get(HandoffTicket, result.opened_ticket_id)
        assert ticket.queue == "urgent" and "chest pain" in ticket.reason


@pytest.mark.parametrize("where", ["start", "middle", "past 500"])
def test_the_bot_gets_the_whole_text_for_its_safety_net_though_the_classifier_gets_a_cut(engine, now, where):
    body = long_letter(where)
    result = _triage(engine, now, body)
    assert result.pass_to_rasa and len(result.nlu_text) <= inbound.MAX_NLU_CHARS
    assert result.whole_text == body.strip() and _EMERGENCY in result.whole_text


# --- consent keywords, written out (not taken from the code) ---------------------------

@pytest.mark.parametrize("body", [
    "STOP", "stop", "Stop.", "STOPALL", "StopAll!", "UNSUBSCRIBE", "unsubscribe", "END", "end!", "QUIT",
    "Quit.", "REVOKE", "revoke", "OPTOUT", "OptOut!", "  stop  ", "CANCEL", "cancel.",
])
def test_every_opt_out_keyword_in_any_case_with_punctuation_opts_out(engine, now, body):
    result = _triage(engine, now, body)
    assert not result.pass_to_rasa and result.keyword == body.strip().strip(".!").upper()
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
    [confirmation] = [row for row in _outbound(engine) if row.kind == "consent_confirmation"]
    assert "no more texts" in confirmation.body


@pytest.mark.parametrize("body", ["START", "start", "Start!", "UNSTOP", "unstop.", "YES", "yes", "Yes!"])
def test_every_opt_in_keyword_opts_an_opted_out_phone_back_in(engine, now, body):
    _triage(engine, now, "STOP")
    result = _triage(engine, now + timedelta(minutes=1), body)
    assert not result.pass_to_rasa and result.keyword in ("START", "UNSTOP")
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)


@pytest.mark.parametrize("body", ["HELP", "help", "Help!", "INFO", "info."])
def test_help_and_info_are_answered_and_change_no_consent(engine, now, body):
    result = _triage(engine, now, body)
    assert not result.pass_to_rasa and result.keyword in ("HELP", "INFO")
    [answer] = _outbound(engine)
    assert "STOP" in answer.body
    with Session(engine) as session:
        assert consent.current_status(session, PHONE) is None


@pytest.mark.parametrize("body", ["stop by tomorrow?", "the end", "quit smoking tips", "yes please", "cancel my appt"])
def test_words_that_only_contain_a_keyword_go_to_the_bot(engine, now, body):
    result = _triage(engine, now, body)
    assert result.pass_to_rasa and result.keyword is None
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)


@pytest.mark.parametrize("body", ["STOPX", "XSTOP", "stop now", "stopp", "start over", "helpme"])
def test_a_keyword_with_anything_added_is_not_a_keyword(body):
    assert consent.keyword_of(body) is None


def test_a_keyword_opt_out_and_opt_in_are_recorded_with_their_time_and_the_text_that_did_it(engine, now):
    _triage(engine, now, "STOP", sid="SM" + "1" * 32)
    _triage(engine, now + timedelta(minutes=1), "START", sid="SM" + "2" * 32)
    with Session(engine) as session:
        records = session.execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars().all()
    assert [(r.status.value, r.created_at, r.detail) for r in records] == [
        ("opted_out", now, "inbound SM" + "1" * 32 + ": STOP"),
        ("opted_in", now + timedelta(minutes=1), "inbound SM" + "2" * 32 + ": START"),
    ]


# --- Spanish consent keywords, written out ----------------------------------------------------------

@pytest.mark.parametrize("body", ["PARAR", "parar", "Parar.", "ALTO", "alto!", "BAJA", "baja", "DETENER", " Alto "])
def test_a_spanish_opt_out_keyword_opts_out_and_is_confirmed_in_spanish(engine, now, body):
    result = _triage(engine, now, body)
    assert not result.pass_to_rasa and result.keyword == "STOP"
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        assert session.scalar(select(func.count(HandoffTicket.id))) == 0  # not a bare CANCEL
    [confirmation] = [row for row in _outbound(engine) if row.kind == "consent_confirmation"]
    assert "ya no le enviaremos mensajes" in confirmation.body and "INICIAR" in confirmation.body


@pytest.mark.parametrize("body", ["INICIAR", "iniciar", "Reanudar.", "SI", "si", "Sí", "SÍ!"])
def test_a_spanish_way_back_in_opts_an_opted_out_phone_back_in_in_spanish(engine, now, body):
    _triage(engine, now, "PARAR")
    result = _triage(engine, now + timedelta(minutes=1), body)
    assert not result.pass_to_rasa and result.keyword == "START"
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)
    assert "de nuevo le enviaremos mensajes" in _outbound(engine)[-1].body


@pytest.mark.parametrize("body", ["si", "Sí"])
def test_si_from_a_phone_that_did_not_opt_out_is_an_answer_for_the_bot(engine, now, body):
    result = _triage(engine, now, body)
    assert result.pass_to_rasa and result.keyword is None


@pytest.mark.parametrize("body", ["AYUDA", "ayuda", "Ayuda!"])
def test_ayuda_is_answered_in_spanish_like_help_and_changes_no_consent(engine, now, body):
    result = _triage(engine, now, body)
    assert not result.pass_to_rasa and result.keyword == "HELP"
    [answer] = _outbound(engine)
    assert "para ayuda" in answer.body and "PARAR" in answer.body and "STOP" in answer.body
    with Session(engine) as session:
        assert consent.current_status(session, PHONE) is None


@pytest.mark.parametrize("body", ["cancelar", "CANCELAR", "cancelar mi cita", "quiero cancelar mi cita",
                                  "alto el dolor?", "parar de tomar la pastilla?", "si puedo", "baja de peso"])
def test_cancelar_and_sentences_with_a_spanish_keyword_go_to_the_bot(engine, now, body):
    result = _triage(engine, now, body)
    assert result.pass_to_rasa and result.keyword is None
    with Session(engine) as session:
        assert not consent.is_opted_out(session, PHONE)


@pytest.mark.parametrize("body", ["CANCELAR SUSCRIPCION", "Cancelar suscripción", "cancelar  suscripcion.",
                                  "DARME DE BAJA", "darse de baja", "Dar de baja"])
def test_the_few_spanish_ways_of_saying_baja_in_words_opt_out_like_it(engine, now, body):
    result = _triage(engine, now, body)
    assert not result.pass_to_rasa and result.keyword == "STOP"
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        assert session.scalar(select(func.count(HandoffTicket.id))) == 0


@pytest.mark.parametrize("body", ["cancelar suscripcion a la revista?", "quiero darme de baja de la lista de espera",
                                  "me dieron de baja"])
def test_those_words_inside_a_longer_sentence_are_for_the_bot(engine, now, body):
    result = _triage(engine, now, body)
    assert result.pass_to_rasa and result.keyword is None


def test_with_advanced_opt_out_a_spanish_keyword_twilio_did_not_mark_is_confirmed_by_us(engine, now):
    _triage(engine, now, "PARAR", advanced=True)
    _triage(engine, now + timedelta(minutes=1), "AYUDA", advanced=True)
    _triage(engine, now + timedelta(minutes=2), "INICIAR", advanced=True)
    bodies = [row.body for row in _outbound(engine)]
    assert len(bodies) == 3 and "ya no le enviaremos" in bodies[0] and "para ayuda" in bodies[1]
    assert "de nuevo le enviaremos" in bodies[2]


def test_with_advanced_opt_out_a_spanish_keyword_twilio_marked_is_left_to_twilio(engine, now):
    _triage(engine, now, "PARAR", advanced=True, opt_out_type="STOP")
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
    assert _outbound(engine) == []
