"""The SMS pipeline under load and faults, counted from the database and the Twilio stub.

Every test asserts the promise itself: every text stored, each ends in exactly
one reply, ticket or recorded reason, and no text goes to Twilio twice. The
brain is a table (see tests/channel_helpers.py); the real Rasa and action
servers are killed in tests/test_pipeline_faults.py.
"""
from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import inbound, outbox
from bot.models import HandoffTicket, InboundMessage, OutboundMessage, OutboundStatus
from bot.staff import handoff
from channels.sms_twilio.client import make_twilio_client, signature_for
from channels.sms_twilio.sender import OutboxSender
from tests.channel_helpers import PHONE, WEBHOOK, FakeBrain, rows, text_in, wait_for, wait_processed

BURST_PHONES = [f"+1503557{n:04d}" for n in range(60)]


class FlakyBrain(FakeBrain):
    """Raises (like Rasa with its tracker store or action server down) ``failures`` times, then answers."""

    def __init__(self, failures: int = 0, silent: int = 0) -> None:
        super().__init__({})
        self.failures, self.silent = failures, silent
        self.calls = 0
        self._lock = threading.Lock()

    async def __call__(self, message) -> None:
        with self._lock:
            self.calls += 1
            call = self.calls
        self.received.append(message)
        if call <= self.failures:
            raise ConnectionError("action server unreachable")
        if call <= self.failures + self.silent:
            return  # Rasa logs the failed action and goes on: the bot says nothing
        await message.output_channel.send_text_message(message.sender_id, f"answer to {message.text}")


@pytest.fixture
def brain() -> FlakyBrain:
    return FlakyBrain()


def inbound_rows(engine) -> list[InboundMessage]:
    with Session(engine) as session:
        return session.execute(select(InboundMessage).order_by(InboundMessage.id)).scalars().all()


def idle(sms) -> None:
    channel, server = sms
    asyncio.run_coroutine_threadsafe(channel.wait_idle(), server.loop).result(30)


def assert_every_text_ended_once(engine, stub) -> Counter:
    """Each stored text has an outcome; no Twilio message body went to the same phone twice."""
    texts = inbound_rows(engine)
    assert texts and all(t.outcome is not None for t in texts), [(t.body, t.status) for t in texts]
    sent = Counter((m["to"], m["body"]) for m in stub.messages())
    assert all(count == 1 for count in sent.values()), [k for k, c in sent.items() if c > 1]
    return Counter(t.outcome for t in texts)


# --- the webhook ---------------------------------------------------------------------------

def test_an_oversized_unsigned_body_is_refused_with_413_before_it_is_parsed(sms, engine, twilio_stub, brain):
    channel, server = sms
    huge = b"&".join(b"f%d=x" % n for n in range(600_000))  # about 5 MB, 600,000 fields
    refused = requests.post(server.base_url + WEBHOOK, data=huge, timeout=30,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 413
    many_fields = b"&".join(b"f%d=" % n for n in range(300))  # small, but far more fields than Twilio sends
    assert requests.post(server.base_url + WEBHOOK, data=many_fields, timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 413
    ok = text_in(twilio_stub, "hello there")  # a real text right after is stored and answered
    assert ok["webhook_status"] == 200
    assert wait_processed(engine, ok["message_sid"]).outcome == inbound.REPLIED
    assert [t.body for t in inbound_rows(engine)] == ["hello there"]


def test_an_oversized_body_with_a_valid_signature_is_still_refused(sms, engine, twilio_stub):
    channel, server = sms
    url = server.base_url + WEBHOOK
    form = {"MessageSid": "SM" + "e" * 32, "From": PHONE, "Body": "x" * 70_000}
    signature = signature_for(twilio_stub.auth_token, url, form)
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 413
    assert inbound_rows(engine) == []


def test_a_burst_of_texts_from_many_phones_is_all_stored_and_each_answered_once(sms, engine, twilio_stub, brain):
    bodies = [(BURST_PHONES[n % len(BURST_PHONES)], f"text {n}") for n in range(240)]
    with ThreadPoolExecutor(max_workers=48) as pool:
        results = list(pool.map(lambda pb: twilio_stub.send_inbound(pb[0], pb[1]), bodies))
    assert all(r["webhook_status"] == 200 for r in results)
    wait_for(lambda: all(t.outcome for t in inbound_rows(engine)) and len(inbound_rows(engine)) == 240, 120)
    idle(sms)
    outcomes = assert_every_text_ended_once(engine, twilio_stub)
    assert outcomes == {inbound.REPLIED: 240}
    replies = wait_for(lambda: len(twilio_stub.messages()) == 240 and twilio_stub.messages(), 60)
    assert sorted(m["body"] for m in replies) == sorted(f"answer to {body}" for _, body in bodies)


# --- failed turns --------------------------------------------------------------------------

def test_a_turn_that_fails_twice_is_retried_and_answered_once(sms, engine, twilio_stub, brain):
    brain.failures = 2
    result = text_in(twilio_stub, "when is my appt")
    message = wait_processed(engine, result["message_sid"])
    idle(sms)
    assert (message.outcome, message.attempts) == (inbound.REPLIED, 3)
    assert [m["body"] for m in twilio_stub.messages(to=PHONE)] == ["answer to when is my appt"]


@pytest.mark.parametrize("fault", ["raises", "silent"])
def test_a_turn_that_keeps_failing_goes_to_staff_with_one_holding_reply(sms, engine, twilio_stub, brain, fault):
    setattr(brain, "failures" if fault == "raises" else "silent", 100)
    result = text_in(twilio_stub, "can i move my appt")
    message = wait_processed(engine, result["message_sid"])
    idle(sms)
    assert (message.status, message.outcome, message.attempts) == ("failed", inbound.HANDED_TO_STAFF, 3)
    with Session(engine) as session:
        [ticket] = session.execute(select(HandoffTicket)).scalars().all()
    assert ticket.queue == "front_desk" and message.ticket_id == ticket.id
    [holding] = wait_for(lambda: twilio_stub.messages(to=PHONE))
    assert "we got your text" in holding["body"] and "our front desk will reply by" in holding["body"].lower()


def test_what_rasa_says_while_staff_hold_the_conversation_is_not_sent(sms, engine, twilio_stub, now):
    with Session(engine) as session, session.begin():
        handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
    result = text_in(twilio_stub, "hello?")
    message = wait_processed(engine, result["message_sid"])
    idle(sms)
    assert message.outcome == inbound.WITH_STAFF
    assert twilio_stub.messages(to=PHONE) == []


def test_an_empty_text_gets_a_short_question_back(sms, engine, twilio_stub, brain):
    result = text_in(twilio_stub, "   ")
    assert wait_processed(engine, result["message_sid"]).outcome == inbound.REPLIED
    [reply] = wait_for(lambda: twilio_stub.messages(to=PHONE))
    assert "came through empty" in reply["body"]
    assert brain.received == []


def test_a_turn_a_crash_cut_off_reaches_staff_within_two_minutes(engine, now, twilio_stub):
    """Claimed 90 s ago and never finished: the outbox sender's chores hand it over with a holding reply."""
    claimed = datetime.now(timezone.utc) - inbound.PROCESSING_TIMEOUT - timedelta(seconds=1)
    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid="SM" + "f" * 32, phone=PHONE, to_number=None,
                                           body="move my appt", media=[], now=claimed)
        assert inbound.claim_inbound(session, message.id, claimed)
    sender = OutboxSender(engine, make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                                     twilio_stub.base_url),
                          dataclasses.replace(_settings(twilio_stub), sms_send_rate=0))
    sender.look_after()
    sender.send_due()
    [stuck] = inbound_rows(engine)
    assert (stuck.status, stuck.outcome) == ("failed", inbound.HANDED_TO_STAFF)
    assert inbound.PROCESSING_TIMEOUT < timedelta(minutes=2)
    [holding] = twilio_stub.messages(to=PHONE)
    assert "we got your text" in holding["body"]


# --- Twilio's bad days -------------------------------------------------------------------------

def _settings(stub):
    from bot.settings import Settings

    return dataclasses.replace(Settings(), twilio_api_base=stub.base_url, twilio_account_sid=stub.account_sid,
                               twilio_auth_token=stub.auth_token, sms_send_rate=0,
                               public_base_url="http://127.0.0.1:9")


def test_twilio_slower_than_the_client_timeout_gets_each_reply_once_and_the_callback_settles_it(
        sms, engine, twilio_stub):
    channel, server = sms
    channel.sender.client = make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                               twilio_stub.base_url, timeout=0.5)
    twilio_stub.hold(3)  # Twilio takes the texts, but answers only long after the client gave up
    results = [text_in(twilio_stub, f"question {n}", phone=BURST_PHONES[n]) for n in range(3)]
    for result in results:
        wait_processed(engine, result["message_sid"])
    assert twilio_stub.wait_held(3, timeout=20)
    assert all(r.status == OutboundStatus.SENDING for r in rows(engine))
    twilio_stub.release()
    # Twilio's status callbacks carry our row id: each row learns its SID without a resend.
    settled = wait_for(lambda: all(r.twilio_sid for r in rows(engine)) and rows(engine), 20)
    assert len(settled) == 3
    channel.sender.send_due()
    channel.sender.reconcile_stale(timedelta(0))  # even an eager lookup now finds them taken
    idle(sms)
    assert len(twilio_stub.messages()) == 3
    assert_every_text_ended_once(engine, twilio_stub)


def test_twilio_failing_for_two_minutes_delays_replies_but_loses_and_doubles_none(sms, engine, twilio_stub):
    channel, server = sms
    clock = [datetime.now(timezone.utc)]
    sender = OutboxSender(engine, channel.sender.client, channel.settings, clock=lambda: clock[0])
    twilio_stub.add_fault(503, count=10_000)
    for n in range(5):
        wait_processed(engine, text_in(twilio_stub, f"hours? {n}", phone=BURST_PHONES[n])["message_sid"])
    idle(sms)
    assert twilio_stub.messages() == []
    start = clock[0]
    while clock[0] < start + timedelta(minutes=2):  # two minutes of 503s, the sender passing every 10 s
        clock[0] += timedelta(seconds=10)
        sender.send_due()
    assert {r.status for r in rows(engine)} == {OutboundStatus.PENDING}
    twilio_stub.reset()  # Twilio is back
    twilio_stub.configure(webhook_url=channel.settings.public_base_url + WEBHOOK)
    clock[0] += timedelta(minutes=11)  # past any backoff
    while sender.send_due():
        pass
    assert sorted(m["body"] for m in twilio_stub.messages()) == sorted(f"answer to hours? {n}" for n in range(5))
    assert {r.status for r in rows(engine)} <= {OutboundStatus.QUEUED, OutboundStatus.SENT, OutboundStatus.DELIVERED}


def test_staff_get_a_ticket_for_a_reply_that_has_not_gone_out_after_ten_minutes(engine, twilio_stub, now):
    created = datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        reply = outbox.enqueue_text(session, PHONE, "Your visit is Tue at 9:00 AM.", "reply", created)
        reminder = outbox.enqueue_text(session, "+15035550124", "Reminder ...", "reminder", created)
        failed = outbox.enqueue_text(session, "+15035550125", "Thanks!", "staff", created)
        outbox.mark_failed(session, failed.id, now=created, error_code=21211, error_message="HTTP 400: invalid 'To'")
        ids = reply.id, reminder.id, failed.id
    sender = OutboxSender(engine, make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                                     twilio_stub.base_url), _settings(twilio_stub),
                          clock=lambda: created + outbox.ALERT_AFTER + timedelta(seconds=1))
    twilio_stub.add_fault(503, count=100)
    sender.look_after()
    with Session(engine) as session:
        tickets = {t.phone: t for t in session.execute(select(HandoffTicket)).scalars()}
        alerted = {r.id: r.alerted_at for r in session.execute(select(OutboundMessage)).scalars()}
        health = outbox.outbox_health(session, created + outbox.ALERT_AFTER)
    assert set(tickets) == {PHONE, "+15035550125"}  # conversation texts; a reminder is not a staff ticket
    assert "has not gone out" in tickets[PHONE].reason and "could not be sent" in tickets["+15035550125"].reason
    assert alerted[ids[0]] and alerted[ids[2]] and alerted[ids[1]] is None
    sender.look_after()  # told once
    with Session(engine) as session:
        assert session.execute(select(func.count(HandoffTicket.id))).scalar_one() == 2
    assert health.status == "degraded" and health.waiting == 2 and health.failed_last_day == 1


def test_the_channel_health_endpoint_reports_the_outbox(sms, engine, twilio_stub):
    channel, server = sms
    assert requests.get(server.base_url + "/webhooks/twilio/", timeout=5).json()["status"] == "ok"
    with Session(engine) as session, session.begin():
        old = datetime.now(timezone.utc) - timedelta(minutes=30)
        row = outbox.enqueue_text(session, PHONE, "stuck", "reply", old)
        row.status = OutboundStatus.FAILED
        row.status_at = old
    report = requests.get(server.base_url + "/webhooks/twilio/", timeout=5)
    assert report.status_code == 503 and report.json()["failed_last_day"] == 1


def test_the_inbox_health_endpoint_reports_texts_stuck_on_the_way_out(app, engine, clock):
    client = app.test_client()
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["outbox"]["status"] == "ok"
    with Session(engine) as session, session.begin():
        outbox.enqueue_text(session, PHONE, "waiting", "reply", clock() - timedelta(minutes=5))
    degraded = client.get("/healthz")
    assert degraded.status_code == 503
    assert degraded.get_json()["outbox"]["waiting"] == 1 and degraded.get_json()["ok"] is False
