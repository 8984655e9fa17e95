"""End to end: the real action server and Rasa server on loopback, the trained model, a real database.

One set of servers serves every test here (starting Rasa takes a while):
a whole reschedule by the REST channel, a signed text through the SMS gateway
and the Rasa server's Twilio channel answered via the outbox and the Twilio stub, a forged one refused, a
reminder's "C" confirming exactly that appointment, and a handoff answered
from the staff side and handed back. The servers log at DEBUG (Rasa, the
actions, Sanic's access log), as chatty as an operator can make them, and
their logs hold no full phone number.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.models import Appointment, AppointmentStatus, HandoffTicket, InboundMessage, Patient, TicketStatus
from bot.patients import upcoming_appointments
from bot.settings import ROOT
from channels import rasa_http
from tools.demo import setup_database
from tools.twilio_stub import TwilioStub
from workers.supervisor import MASKED_LOGGING

pytestmark = pytest.mark.needs_model
RASA = str(Path(sys.executable).with_name("rasa"))
MARIA, DAVID = "+15035550111", "+15035550112"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer in {seconds}s:\n{log.read_text()[-4000:]}")


def post_json(url: str, payload: dict) -> list | dict:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained model in models/: run `make train` (make test does)")
    work = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{work / 'practice.db'}"
    setup_database(url, str(ROOT / "bot" / "demo_practice.yml"), datetime.now(timezone.utc))
    rasa_port, action_port, sms_port = free_port(), free_port(), free_port()
    stub = TwilioStub(webhook_url=f"http://127.0.0.1:{sms_port}/webhooks/twilio/webhook").start()
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=url, ACTION_PORT=str(action_port),
        RASA_PORT=str(rasa_port), SMS_PORT=str(sms_port), TRACKER_DIALECT="sqlite", TRACKER_DB_URL="",
        TRACKER_DB=str(work / "tracker.db"), LOCK_STORE_TYPE="in_memory", LOCK_STORE_URL="127.0.0.1",
        LOCK_STORE_PORT="6379",
        TWILIO_API_BASE=stub.base_url, TWILIO_ACCOUNT_SID=stub.account_sid, TWILIO_AUTH_TOKEN=stub.auth_token,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{sms_port}", TF_CPP_MIN_LOG_LEVEL="2",
        LOG_LEVEL="DEBUG", LOG_LEVEL_LIBRARIES="INFO",  # sender ids, tracker URLs, the twilio SDK's requests
    )
    processes = []

    def start(name, command):
        log = work / f"{name}.log"
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        processes.append(process)
        return process, log

    actions, actions_log = start("actions", [RASA, "run", "actions", "--actions", "actions.actions",
                                             "--port", str(action_port), *MASKED_LOGGING])
    rasa, rasa_log = start("rasa", [RASA, "run", "--model", str(ROOT / "models"), "--enable-api",
                                    "--interface", "127.0.0.1", "--port", str(rasa_port),
                                    "--credentials", "tests/e2e_credentials.yml", "--endpoints", "endpoints.yml",
                                    *MASKED_LOGGING])
    sender, _ = start("sender", [sys.executable, "-m", "bot", "outbox", "run"])
    gateway, gateway_log = start("gateway", [sys.executable, "-m", "channels.sms_twilio.gateway"])
    try:
        wait_for(f"http://127.0.0.1:{sms_port}/webhooks/twilio/", gateway, gateway_log)
        wait_for(f"http://127.0.0.1:{action_port}/health", actions, actions_log)
        wait_for(f"http://127.0.0.1:{rasa_port}/status", rasa, rasa_log)
        engine = make_engine(url)
        yield {"rasa": f"http://127.0.0.1:{rasa_port}", "engine": engine, "stub": stub, "env": env, "logs": work}
        engine.dispose()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        stub.stop()


def rest(assistant, phone: str, text: str) -> str:
    replies = post_json(f"{assistant['rasa']}/webhooks/rest/webhook", {"sender": phone, "message": text})
    return "\n".join(r.get("text", "") for r in replies)


def appointments_of(engine, phone):
    with Session(engine) as session:
        ids = [p.id for p in session.execute(select(Patient).where(Patient.phone == phone)).scalars()]
        return upcoming_appointments(session, ids, datetime.now(timezone.utc))


def test_a_whole_reschedule_by_text_moves_the_booking(assistant):
    engine = assistant["engine"]
    [old] = appointments_of(engine, MARIA)
    first = rest(assistant, MARIA, "hi can i move my appt to next week")
    assert "1." in first, first
    done = rest(assistant, MARIA, "2")
    assert "moved to" in done, done
    [new] = appointments_of(engine, MARIA)
    assert new.id != old.id
    with Session(engine) as session:
        assert session.get(Appointment, old.id).status == AppointmentStatus.CANCELLED
        assert session.get(Appointment, new.id).status == AppointmentStatus.BOOKED


def wait_until(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


def test_a_signed_text_gets_its_reply_through_the_outbox_and_twilio(assistant):
    stub = assistant["stub"]
    result = stub.send_inbound(DAVID, "what are your hours?")
    assert result["webhook_status"] == 200
    replies = wait_until(lambda: stub.messages(to=DAVID))
    assert replies and "hours" in replies[-1]["body"].lower()
    def stored():
        with Session(assistant["engine"]) as session:
            return session.execute(select(InboundMessage).where(InboundMessage.phone == DAVID)).scalars().all()

    wait_until(lambda: all(m.status == "processed" for m in stored()))
    assert [m.body for m in stored()] == ["what are your hours?"]
    [message] = stored()
    assert message.status == "processed" and message.intent == "office_info" and message.confidence > 0.5


def test_a_forged_text_is_refused_and_stored_nowhere(assistant):
    stub = assistant["stub"]
    result = stub.send_inbound("+15035550177", "cancel my appointment", signature="forged")
    assert result["webhook_status"] == 403
    with Session(assistant["engine"]) as session:
        assert session.execute(select(InboundMessage).where(InboundMessage.phone == "+15035550177")).first() is None


def test_a_billing_question_is_handed_to_staff_and_handed_back(assistant):
    engine, phone = assistant["engine"], "+15035550121"
    reply = rest(assistant, phone, "I have a question about my bill, why was I charged twice?")
    assert "billing team" in reply, reply
    assert rest(assistant, phone, "hello?") == ""  # the bot is paused while staff have it
    with Session(engine) as session, session.begin():
        ticket = session.execute(select(HandoffTicket).where(HandoffTicket.phone == phone)).scalar_one()
        assert ticket.queue == "billing" and ticket.status == TicketStatus.OPEN
        ticket.status = TicketStatus.RESOLVED
    rasa_http.resume_conversation(assistant["rasa"], "", phone)  # what the inbox's Resolve does
    assert "hours" in rest(assistant, phone, "what are your hours").lower()


def test_an_emergency_past_the_500th_character_of_a_signed_text_gets_the_emergency_answer(assistant):
    """The classifier reads a cut text; the safety net in the NLU reads the whole one (issue: long letters)."""
    stub, engine, phone = assistant["stub"], assistant["engine"], "+15035550131"
    letter = ("Good afternoon, I hope everyone at the office is well. I am writing about my visit next month "
              "and about the new insurance card that came last week with a different group number. ") * 4
    body = letter + "Also my chest hurts and my arm is numb."
    assert body.index("chest hurts") > 500 and len(body) < 1600
    assert stub.send_inbound(phone, body)["webhook_status"] == 200
    replies = wait_until(lambda: stub.messages(to=phone))
    assert replies and "call 911" in replies[-1]["body"], replies
    with Session(engine) as session:
        [ticket] = session.execute(select(HandoffTicket).where(HandoffTicket.phone == phone)).scalars().all()
        assert ticket.queue == "urgent" and "chest pain" in ticket.reason


FULL_DEMO_PHONE = re.compile(r"503\D{0,2}555\D?01\d\d")  # +15035550111, (503) 555-0111, %2B15035550111...


def test_the_servers_logs_hold_no_full_phone_number(assistant):
    """Rasa logs sender ids and tracker URLs, the actions log trackers, the twilio SDK request parameters."""
    stub, phone = assistant["stub"], "+15035550141"
    assert stub.send_inbound(phone, "what are your hours?")["webhook_status"] == 200
    assert wait_until(lambda: stub.messages(to=phone))
    rasa_http.resume_conversation(assistant["rasa"], "", phone)  # a URL with the phone in it
    logs = {name: (assistant["logs"] / f"{name}.log").read_text(errors="replace")
            for name in ("rasa", "actions", "sender", "gateway")}
    for name, text in logs.items():
        leaks = [text[max(0, m.start() - 80):m.end() + 20] for m in FULL_DEMO_PHONE.finditer(text)]
        assert not leaks, f"{name}.log: {leaks[:3]}"
    assert "+1503***0141" in logs["rasa"] and "/conversations/+1503***0141/" in logs["rasa"]
    assert "+1503***0141" in logs["actions"]
