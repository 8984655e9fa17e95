"""On-call cover: an urgent ticket pages the on-call phone at once at any hour, escalates until claimed,
and the patient who texts outside office hours is told who calls back and by when.

The demo practice (bot/demo_practice.yml) pages +15035550191 (the weekend rota: +15035550192,
Sat noon to Mon 8 AM), escalates after 10 minutes to +15035550193, then +15035550194 again and
again, 6 pages at most; its urgent queue's goal is 15 wall-clock minutes.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import bot.settings
from bot.models import AuditEntry, HandoffTicket, OnCallPage, OutboundMessage, StaffRole
from bot.practice import get_practice
from bot.settings import Settings
from bot.staff import handoff, oncall
from bot.staff.accounts import create_staff_user
from channels.sms_twilio.client import make_twilio_client
from channels.sms_twilio.sender import OutboxSender
from workers import reminder_worker

ZONE = ZoneInfo("America/Los_Angeles")
PATIENT = "+15035550111"
ON_CALL, WEEKEND, DOCTOR, MANAGER = "+15035550191", "+15035550192", "+15035550193", "+15035550194"
INBOX = "https://inbox.example.org"
MONDAY_NIGHT = datetime(2027, 3, 1, 22, 45, tzinfo=ZONE)
SATURDAY_AFTERNOON = datetime(2027, 3, 6, 15, 0, tzinfo=ZONE)
THANKSGIVING_MORNING = datetime(2027, 11, 25, 11, 0, tzinfo=ZONE)  # a Thursday: open hours, but a closed date
MONDAY_MORNING = datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
AFTER_HOURS_REPLY = ("If this is an emergency, call 911. For a mental health crisis, call or text 988. "
                     "Our on-call nurse will call you back within 30 minutes.")


@pytest.fixture(autouse=True)
def inbox_url(monkeypatch):
    monkeypatch.setattr(bot.settings, "get_settings", lambda: Settings(staff_inbox_url=INBOX))


def emergency(converse, engine, at, **extra) -> str:
    chat = converse(PATIENT, engine, at)
    extra.setdefault("emergency_reason", "stroke signs")
    return chat.run_action("action_emergency", "my dad has chest pain and his face is drooping", "emergency", extra)


def pages(engine) -> list[tuple[int, str, str]]:
    """(step, number, body) of every page, in order."""
    with Session(engine) as session:
        rows = session.execute(
            select(OnCallPage.step, OnCallPage.phone, OutboundMessage.body)
            .join(OutboundMessage, OutboundMessage.id == OnCallPage.outbound_id).order_by(OnCallPage.id)).all()
    return [tuple(r) for r in rows]


def the_ticket(engine) -> HandoffTicket:
    with Session(engine) as session:
        return session.execute(select(HandoffTicket)).scalar_one()


def send_outbox(engine, stub, at) -> int:
    settings = dataclasses.replace(Settings(), twilio_api_base=stub.base_url, twilio_account_sid=stub.account_sid,
                                   twilio_auth_token=stub.auth_token, sms_send_rate=0,
                                   public_base_url="http://127.0.0.1:9")
    client = make_twilio_client(stub.account_sid, stub.auth_token, stub.base_url, timeout=10)
    return OutboxSender(engine, client, settings, clock=lambda: at).send_due()


def test_a_night_emergency_pages_on_call_at_once_through_twilio_and_names_the_callback(engine, converse,
                                                                                    twilio_stub):
    reply = emergency(converse, engine, MONDAY_NIGHT)

    assert reply == AFTER_HOURS_REPLY
    ticket = the_ticket(engine)
    assert ticket.queue == "urgent"
    assert ticket.due_at == MONDAY_NIGHT + timedelta(minutes=15)  # wall-clock, not 8:15 AM tomorrow
    assert pages(engine) == [(0, ON_CALL, f"Urgent patient message waiting: {INBOX}/tickets/{ticket.id}")]

    send_outbox(engine, twilio_stub, MONDAY_NIGHT)  # the real sender, quiet hours or not
    [page] = twilio_stub.messages(to=ON_CALL)
    assert page["body"] == f"Urgent patient message waiting: {INBOX}/tickets/{ticket.id}"
    assert "chest" not in page["body"] and PATIENT[2:] not in page["body"]
    with Session(engine) as session:
        [audit] = session.execute(select(AuditEntry).where(AuditEntry.action == "on_call_page")).scalars()
        assert audit.ticket_id == ticket.id and audit.staff_user_id is None and ON_CALL not in audit.detail


def test_a_weekend_emergency_pages_the_weekend_rota_and_escalates_until_claimed(engine, converse):
    emergency(converse, engine, SATURDAY_AFTERNOON)
    ticket_id = the_ticket(engine).id
    assert [p[:2] for p in pages(engine)] == [(0, WEEKEND)]

    def worker_pass(minutes: int) -> None:
        at = SATURDAY_AFTERNOON + timedelta(minutes=minutes)
        reminder_worker.run_pass(engine, lambda: at, rate=0, notify_rasa=False)

    worker_pass(9)
    assert len(pages(engine)) == 1
    worker_pass(10)
    worker_pass(10)  # a second worker, or the same one after a restart: the step is not paged twice
    assert [p[:2] for p in pages(engine)] == [(0, WEEKEND), (1, DOCTOR)]
    worker_pass(20)
    worker_pass(30)  # past the last number: that number again
    assert [p[:2] for p in pages(engine)] == [(0, WEEKEND), (1, DOCTOR), (2, MANAGER), (3, MANAGER)]

    with Session(engine) as session, session.begin():
        nurse = create_staff_user(session, "nurse", "a long enough password", StaffRole.CLINICAL.value, None,
                                  SATURDAY_AFTERNOON)
        handoff.claim_ticket(session, ticket_id, nurse.id, SATURDAY_AFTERNOON + timedelta(minutes=31))
    worker_pass(40)
    worker_pass(50)
    assert len(pages(engine)) == 4


def test_escalation_stops_at_the_cap_when_nobody_claims(engine, converse):
    emergency(converse, engine, MONDAY_NIGHT)
    for minutes in range(10, 200, 10):
        with Session(engine) as session, session.begin():
            oncall.escalate_due(session, MONDAY_NIGHT + timedelta(minutes=minutes))
    assert [p[0] for p in pages(engine)] == [0, 1, 2, 3, 4, 5]  # max_pages: 6


def test_a_holiday_is_after_hours_even_in_office_hours(engine, converse):
    reply = emergency(converse, engine, THANKSGIVING_MORNING)
    assert reply == AFTER_HOURS_REPLY
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


def test_in_office_hours_on_call_is_still_paged_and_the_reply_is_the_plain_advice(engine, converse):
    reply = emergency(converse, engine, MONDAY_MORNING)
    assert reply == ("If this is an emergency, call 911. For a mental health crisis, call or text 988. "
                     "I've also alerted our staff.")
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


# A Spanish text is answered in Spanish first, then English (bot/wording/catalog/es.yml).
SPANISH_ADVICE = ("Si es una emergencia, llame al 911; para una crisis, llame o mande un mensaje al 988 (oprima 2 "
                  "para español). If this is an emergency, call 911; for a crisis, call or text 988.")
SPANISH_CALLBACK = "Nuestra enfermera de guardia le va a llamar en menos de 30 minutos."
CALLBACK = "Our on-call nurse will call you back within 30 minutes."


@pytest.mark.parametrize("extra", [
    {"emergency_reason": "chest pain", "emergency_language": "es"},  # as the override leaves it
    {"emergency_reason": None, "intent": {"name": "emergency", "confidence": 0.97}},  # the action reads the text
])
def test_a_spanish_night_emergency_gets_the_advice_in_both_languages_and_the_callback(engine, converse, extra):
    chat = converse(PATIENT, engine, MONDAY_NIGHT)
    reply = chat.run_action("action_emergency", "a mi papá le duele mucho el pecho", "emergency", extra)
    assert reply == f"{SPANISH_ADVICE} {SPANISH_CALLBACK}"
    assert chat.responses == ["utter_emergency_es_on_call"]
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


def test_a_spanish_emergency_while_staff_have_the_chat_at_night_gets_both_languages_and_the_callback(engine):
    from bot.messaging import inbound

    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PATIENT, queue="billing", reason="bill", now=MONDAY_NIGHT)
        message, _ = inbound.store_inbound(session, message_sid="SM" + "8" * 32, phone=PATIENT,
                                           to_number="+15035550199", body="mi esposo se desmayó y no responde",
                                           media=[], now=MONDAY_NIGHT)
        inbound.triage_inbound(session, message, now=MONDAY_NIGHT, advanced_opt_out=False, opt_out_type=None)
    with Session(engine) as session:
        [reply] = session.execute(select(OutboundMessage.body).where(OutboundMessage.phone == PATIENT)).scalars()
    assert reply == f"{SPANISH_ADVICE} {SPANISH_CALLBACK}"
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


def test_a_low_confidence_classifier_only_emergency_gets_the_advice_but_no_page(engine, converse):
    reply = emergency(converse, engine, MONDAY_NIGHT, emergency_reason=None,
                      intent={"name": "emergency", "confidence": 0.55})
    assert reply.startswith("If this is an emergency, call 911. For a mental health crisis, call or text 988.")
    assert "call you back" not in reply  # nobody was paged: no promise
    assert pages(engine) == []
    with Session(engine) as session:
        [audit] = session.execute(select(AuditEntry).where(AuditEntry.action == "on_call_not_paged")).scalars()
        assert "0.55" in audit.detail


def test_a_practice_may_opt_in_to_paging_classifier_only_emergencies(engine, converse):
    with Session(engine) as session, session.begin():
        practice = get_practice(session)
        practice.config = {**practice.config, "on_call": {**practice.config["on_call"],
                                                          "page_classifier_emergencies": True}}
    reply = emergency(converse, engine, MONDAY_NIGHT, emergency_reason=None,
                      intent={"name": "emergency", "confidence": 0.55})
    assert reply == AFTER_HOURS_REPLY
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


def test_a_confident_classifier_emergency_pages(engine, converse):
    emergency(converse, engine, MONDAY_NIGHT, emergency_reason=None, intent={"name": "emergency", "confidence": 0.97})
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


def test_each_step_is_paged_once_whatever_the_workers(any_engine, converse):
    """The unique (ticket, step) refuses a second page of a step: no outbox text is written for it."""
    with Session(any_engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PATIENT, queue="urgent", reason="chest pain", now=MONDAY_NIGHT)
        ticket_id = ticket.id
    for step, number, paged in ((0, ON_CALL, False), (1, DOCTOR, True), (1, DOCTOR, False)):
        with Session(any_engine) as session, session.begin():
            page = oncall._page(session, session.get(HandoffTicket, ticket_id), step, number, MONDAY_NIGHT, INBOX)
            assert (page is not None) == paged
    with Session(any_engine) as session:
        assert session.execute(select(OutboundMessage.phone).where(OutboundMessage.kind == "on_call_page")
                               ).scalars().all() == [ON_CALL, DOCTOR]


def test_the_page_goes_even_to_a_staff_phone_with_a_stored_opt_out(engine):
    from bot.messaging import consent

    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, ON_CALL, "keyword", MONDAY_NIGHT)
        handoff.open_ticket(session, phone=PATIENT, queue="urgent", reason="chest pain", now=MONDAY_NIGHT)
    with Session(engine) as session:
        [row] = session.execute(select(OutboundMessage).where(OutboundMessage.phone == ON_CALL)).scalars()
        assert row.status.value == "pending"


def test_tickets_in_other_queues_page_nobody(engine):
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PATIENT, queue="billing", reason="bill", now=MONDAY_NIGHT)
    assert pages(engine) == []


def test_an_emergency_while_staff_have_the_chat_at_night_names_the_callback_too(engine):
    from bot.messaging import inbound

    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PATIENT, queue="billing", reason="bill", now=MONDAY_NIGHT)
        message, _ = inbound.store_inbound(session, message_sid="SM" + "7" * 32, phone=PATIENT,
                                           to_number="+15035550199", body="I have chest pain right now", media=[],
                                           now=MONDAY_NIGHT)
        inbound.triage_inbound(session, message, now=MONDAY_NIGHT, advanced_opt_out=False, opt_out_type=None)
    with Session(engine) as session:
        [reply] = session.execute(select(OutboundMessage.body).where(OutboundMessage.phone == PATIENT)).scalars()
    assert reply == AFTER_HOURS_REPLY
    assert [p[:2] for p in pages(engine)] == [(0, ON_CALL)]


@pytest.mark.parametrize("at, number", [
    (datetime(2027, 3, 6, 11, 59, tzinfo=ZONE), ON_CALL),   # Saturday morning: no rota entry yet
    (datetime(2027, 3, 6, 12, 0, tzinfo=ZONE), WEEKEND),    # Saturday noon: the weekend nurse
    (datetime(2027, 3, 7, 3, 0, tzinfo=ZONE), WEEKEND),     # Sunday 3 AM: Saturday's span runs past midnight
    (datetime(2027, 3, 8, 7, 59, tzinfo=ZONE), WEEKEND),    # Monday 7:59 AM: Sunday's runs to 8 AM
    (datetime(2027, 3, 8, 8, 0, tzinfo=ZONE), ON_CALL),
])
def test_the_rota_picks_the_number_by_weekday_and_hour_across_midnight(engine, at, number):
    with Session(engine) as session:
        assert oncall.on_call_number(get_practice(session), at) == number
