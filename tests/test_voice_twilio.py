"""Missed-call text-back: the practice number's voice webhook, signed requests from the stub, the real sender.

The stub calls the gateway's voice webhook as Twilio would (signed), reads the
TwiML's <Dial> and POSTs the signed dial action with the front desk's outcome;
the outbox sender sends what was stored to the stub with the twilio SDK. The
clock is the test's, so "the same day", "the next day" and "10 PM" are exact.
"""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messaging import consent, missed_calls
from bot.models import AuditEntry, MissedCallText, OutboundMessage, Practice
from bot.practice import PracticeFileError, load_practice_file
from bot.settings import ROOT, Settings
from channels.sms_twilio.client import make_twilio_client, signature_for
from channels.sms_twilio.gateway import create_app
from channels.sms_twilio.sender import OutboxSender
from tests.channel_helpers import SanicServer
from tests.conftest import ZONE
from tests.stub_fixtures import json_request

CALLER = "+15035550177"
FRONT_DESK = "+15035550102"  # the demo practice file's voice.front_desk_number
TEXT_BACK = ("Sorry we missed your call. Text us here to book, reschedule or ask a question, "
             "or call back at (503) 555-0100.")


@pytest.fixture
def voice(engine, twilio_stub, clock):
    """(gateway server, outbox sender) wired to the stub; the stub's calls reach the gateway's voice webhook.

    Both run on ``clock`` (tests/web_helpers.py: settable, starting at ``now``, a Monday 9 AM)."""
    settings = dataclasses.replace(
        Settings(), twilio_api_base=twilio_stub.base_url, twilio_account_sid=twilio_stub.account_sid,
        twilio_auth_token=twilio_stub.auth_token, sms_send_rate=0)
    app = create_app(settings, engine, clock)
    server = SanicServer(app)
    public = dataclasses.replace(settings, public_base_url=server.base_url)
    app.ctx.voice.settings = app.ctx.receiver.settings = public
    twilio_stub.configure(voice_url=server.base_url + "/webhooks/twilio/voice")
    sender = OutboxSender(engine, make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                                     twilio_stub.base_url), public, clock=clock)
    yield server, sender
    server.stop()


def call(stub, dial_status: str = "no-answer", caller: str = CALLER, **extra) -> dict:
    status, result = json_request(stub.base_url, "/_stub/call", {"from": caller, "dial_status": dial_status, **extra})
    assert status == 200, result
    return result


def texts_to(stub, phone: str = CALLER) -> list[str]:
    return [m["body"] for m in stub.messages(to=phone)]


def test_a_call_rings_the_front_desk_for_twenty_seconds_then_reports_to_the_dial_action(voice, twilio_stub):
    server, _ = voice
    result = call(twilio_stub, "completed")

    assert result["webhook_status"] == 200
    dial = ElementTree.fromstring(result["twiml"]).find("Dial")
    assert dial.text == "+15035550102"
    assert dial.get("timeout") == "20"
    assert dial.get("action") == server.base_url + "/webhooks/twilio/voice/dial-status"
    assert dial.get("method") == "POST"
    assert result["action_status"] == 200
    assert ElementTree.fromstring(result["action_response"]).find("Hangup") is not None


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed", "canceled"])
def test_a_missed_call_gets_exactly_one_text_back_through_the_sender(voice, twilio_stub, engine, dial_status):
    _, sender = voice
    result = call(twilio_stub, dial_status)

    assert (result["webhook_status"], result["action_status"]) == (200, 200)
    assert sender.send_due() == 1
    assert sender.send_due() == 0
    assert texts_to(twilio_stub) == [TEXT_BACK]
    with Session(engine) as session:
        [row] = session.execute(select(OutboundMessage)).scalars().all()
        assert (row.kind, row.phone, row.conversation.channel.value, row.conversation.address) == (
            "missed_call", CALLER, "sms", CALLER)
        [audit] = session.execute(select(AuditEntry).where(AuditEntry.action == "missed_call_text")).scalars().all()
    assert CALLER not in audit.detail and "+1503***0177" in audit.detail


def test_a_second_missed_call_the_same_day_gets_no_second_text(voice, twilio_stub, clock):
    _, sender = voice
    call(twilio_stub)
    sender.send_due()
    clock.at = clock.at.replace(hour=20, minute=59)
    call(twilio_stub, "busy")
    sender.send_due()

    assert texts_to(twilio_stub) == [TEXT_BACK]


def test_a_missed_call_the_next_day_gets_one_more_text(voice, twilio_stub, clock):
    _, sender = voice
    clock.at = clock.at.replace(hour=20, minute=30)
    call(twilio_stub)
    sender.send_due()
    clock.at = datetime(2027, 3, 2, 8, 30, tzinfo=ZONE)  # Tuesday morning, the practice's next local day
    call(twilio_stub)
    call(twilio_stub)
    sender.send_due()

    assert texts_to(twilio_stub) == [TEXT_BACK, TEXT_BACK]


def test_an_opted_out_caller_gets_no_text(voice, twilio_stub, engine, now):
    _, sender = voice
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, CALLER, "keyword", now - timedelta(days=3))
    call(twilio_stub)
    sender.send_due()

    assert texts_to(twilio_stub) == []
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
        [audit] = session.execute(select(AuditEntry).where(AuditEntry.action == "missed_call_not_texted")).scalars()
    assert "opted out" in audit.detail and CALLER not in audit.detail


def test_an_answered_call_gets_no_text(voice, twilio_stub, engine):
    _, sender = voice
    call(twilio_stub, "completed")
    sender.send_due()

    assert texts_to(twilio_stub) == []
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None


def test_a_withheld_caller_id_gets_no_text(voice, twilio_stub, engine):
    _, sender = voice
    call(twilio_stub, caller="anonymous")
    sender.send_due()

    assert twilio_stub.messages() == []
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None


@pytest.mark.parametrize("forgery", [{"signature": "bad"}, {"unsigned": True}])
def test_a_forged_or_unsigned_voice_webhook_is_refused(voice, twilio_stub, engine, forgery):
    result = call(twilio_stub, **forgery)

    assert result["webhook_status"] == 403
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None


def test_a_forged_dial_action_is_refused_and_texts_nobody(voice, twilio_stub, engine):
    server, sender = voice
    url = server.base_url + "/webhooks/twilio/voice/dial-status"
    form = {"CallSid": "CA" + "1" * 32, "From": CALLER, "To": "+15035550199", "DialCallStatus": "no-answer"}

    forged = requests.post(url, data=form, headers={"X-Twilio-Signature": signature_for("guess", url, form)}, timeout=5)
    unsigned = requests.post(url, data=form, timeout=5)
    signed = requests.post(url, data=form, timeout=5,
                           headers={"X-Twilio-Signature": signature_for(twilio_stub.auth_token, url, form)})

    assert (forged.status_code, unsigned.status_code, signed.status_code) == (403, 403, 200)
    assert sender.send_due() == 1  # only the signed one stored a text


def test_a_missed_call_at_ten_pm_is_texted_when_quiet_hours_end(voice, twilio_stub, clock):
    _, sender = voice
    clock.at = datetime(2027, 3, 1, 22, 0, tzinfo=ZONE)
    call(twilio_stub)
    assert sender.send_due() == 0
    clock.at = datetime(2027, 3, 2, 7, 59, tzinfo=ZONE)
    assert sender.send_due() == 0
    clock.at = datetime(2027, 3, 2, 8, 0, tzinfo=ZONE)
    assert sender.send_due() == 1

    assert texts_to(twilio_stub) == [TEXT_BACK]


def test_one_text_back_per_caller_and_day_is_a_database_constraint(any_engine, now):
    with Session(any_engine) as session, session.begin():
        session.add(MissedCallText(phone=CALLER, local_day=now.date(), call_sid="CA1", dial_status="busy",
                                   missed_at=now))
    with pytest.raises(IntegrityError), Session(any_engine) as session, session.begin():
        session.add(MissedCallText(phone=CALLER, local_day=now.date(), call_sid="CA2", dial_status="no-answer",
                                   missed_at=now + timedelta(hours=1)))


def test_two_servers_taking_missed_calls_the_same_day_store_one_text(any_engine, now):
    outcomes = []
    for sid, later in (("CA1", 0), ("CA2", 5)):
        with Session(any_engine) as session, session.begin():
            outcomes.append(missed_calls.text_back_missed_call(
                session, caller=CALLER, call_sid=sid, dial_status="no-answer", now=now + timedelta(minutes=later)
            ).outcome)

    assert outcomes == ["texted", "already texted today"]
    with Session(any_engine) as session:
        assert len(session.execute(select(OutboundMessage)).scalars().all()) == 1


def test_a_practice_file_with_a_bad_front_desk_number_or_ring_time_is_refused(tmp_path):
    text = (ROOT / "bot" / "demo_practice.yml").read_text()
    for bad, message in (('front_desk_number: "+15035550102"', "front_desk_number: 5035550102"),
                         ("ring_seconds: 20", "ring_seconds: 2")):
        path = tmp_path / "practice.yml"
        path.write_text(text.replace(bad, message))
        with pytest.raises(PracticeFileError, match="voice"):
            load_practice_file(path)


def test_without_a_front_desk_number_the_call_is_hung_up_and_texted_back_at_once(voice, twilio_stub, engine):
    _, sender = voice
    with Session(engine) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "voice": {}}
    result = call(twilio_stub)

    root = ElementTree.fromstring(result["twiml"])
    assert root.find("Dial") is None and root.find("Hangup") is not None
    assert sender.send_due() == 1
    assert texts_to(twilio_stub) == [TEXT_BACK]
