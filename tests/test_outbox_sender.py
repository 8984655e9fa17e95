"""The outbox sender against the Twilio stub: retries without duplicates, crash recovery, pacing."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import consent, outbox
from bot.models import ConsentRecord, OutboundMessage, OutboundStatus
from bot.settings import ROOT, Settings
from channels.sms_twilio.client import make_twilio_client
from channels.sms_twilio.sender import LOOKUP_GRACE, OutboxSender
from tests.stub_fixtures import json_request

PHONE = "+15035550123"


def settings_for(stub, database_url: str = "", **changes) -> Settings:
    changes = {"sms_send_rate": 0, "public_base_url": "http://127.0.0.1:9", **changes}
    return dataclasses.replace(
        Settings(), database_url=database_url, twilio_api_base=stub.base_url,
        twilio_account_sid=stub.account_sid, twilio_auth_token=stub.auth_token, **changes,
    )


def sender_for(engine, stub, clock=None, timeout: float = 10.0, **changes) -> OutboxSender:
    settings = settings_for(stub, **changes)
    client = make_twilio_client(stub.account_sid, stub.auth_token, stub.base_url, timeout=timeout)
    return OutboxSender(engine, client, settings, clock=clock or (lambda: datetime.now(timezone.utc)))


def enqueue(engine, body: str, phone: str = PHONE, now: datetime | None = None) -> int:
    with Session(engine) as session, session.begin():
        return outbox.enqueue_text(session, phone, body, "reminder", now or datetime.now(timezone.utc)).id


def row(engine, outbound_id: int) -> OutboundMessage:
    with Session(engine) as session:
        return session.get(OutboundMessage, outbound_id)


def test_a_due_row_is_sent_once_with_its_status_callback(engine, twilio_stub):
    outbound_id = enqueue(engine, "Reminder: Dr. Patel, Tue Mar 2 at 9:00 AM.")
    sender = sender_for(engine, twilio_stub)

    assert sender.send_due() == 1
    assert sender.send_due() == 0

    [message] = twilio_stub.messages(to=PHONE)
    stored = row(engine, outbound_id)
    assert stored.twilio_sid == message["sid"] and stored.status == OutboundStatus.QUEUED
    assert message["status_callback"] == f"http://127.0.0.1:9/webhooks/twilio/status?outbound_id={outbound_id}"
    assert message["from"] == "+15035550199"


def test_a_messaging_service_is_used_when_configured(engine, twilio_stub):
    enqueue(engine, "hello")
    sender_for(engine, twilio_stub, twilio_messaging_service_sid="MG" + "0" * 32).send_due()
    [message] = twilio_stub.messages(to=PHONE)
    assert message["messaging_service_sid"] == "MG" + "0" * 32


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried_without_duplicates(engine, twilio_stub, status):
    start = datetime.now(timezone.utc)
    clock = [start]
    outbound_id = enqueue(engine, "Your cleaning is Tue at 10:00 AM.", now=start)
    json_request(twilio_stub.base_url, "/_stub/faults", {"status": status, "count": 2})
    sender = sender_for(engine, twilio_stub, clock=lambda: clock[0])

    for _ in range(3):
        sender.send_due()
        clock[0] += timedelta(hours=1)  # past any backoff

    assert len(twilio_stub.messages(to=PHONE)) == 1
    stored = row(engine, outbound_id)
    assert (stored.status, stored.attempts) == (OutboundStatus.QUEUED, 3)


def test_a_text_twilio_keeps_refusing_with_5xx_is_retried_for_a_day_then_failed(engine, twilio_stub):
    clock = [datetime.now(timezone.utc)]
    outbound_id = enqueue(engine, "hello", now=clock[0])
    json_request(twilio_stub.base_url, "/_stub/faults", {"status": 500, "count": 10_000})
    sender = sender_for(engine, twilio_stub, clock=lambda: clock[0])
    passes = 0
    while row(engine, outbound_id).status == OutboundStatus.PENDING and passes < 1000:
        sender.send_due()
        clock[0] += timedelta(minutes=10)  # past any backoff
        passes += 1
        if clock[0] < row(engine, outbound_id).created_at + timedelta(hours=23, minutes=50):
            assert row(engine, outbound_id).status == OutboundStatus.PENDING
    stored = row(engine, outbound_id)
    assert stored.status == OutboundStatus.FAILED and stored.attempts > 100
    assert twilio_stub.messages(to=PHONE) == []


def test_error_21610_opts_the_phone_out_and_blocks_its_other_texts(engine, twilio_stub):
    first, second = enqueue(engine, "one"), enqueue(engine, "two")
    json_request(twilio_stub.base_url, "/_stub/opt_out", {"number": PHONE})

    sender_for(engine, twilio_stub).send_due()

    assert row(engine, first).status == row(engine, second).status == OutboundStatus.BLOCKED
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        assert session.execute(select(ConsentRecord.source)).scalars().all() == ["twilio_21610"]


def test_a_timeout_after_twilio_took_the_text_is_never_resent_and_a_lookup_after_the_grace_settles_it(
        engine, twilio_stub):
    clock = [datetime.now(timezone.utc)]
    outbound_id = enqueue(engine, "did this go out?", now=clock[0])
    twilio_stub.hold(1)  # Twilio records the text but answers only when released: the client times out
    sender = sender_for(engine, twilio_stub, clock=lambda: clock[0], timeout=0.5)

    assert sender.send_due() == 0
    assert twilio_stub.held() == 1
    twilio_stub.release()
    clock[0] += timedelta(seconds=30)
    assert sender.send_due() == 0 and sender.reconcile_stale() == 0  # within the grace: not looked up, not resent
    assert row(engine, outbound_id).status == OutboundStatus.SENDING

    clock[0] += LOOKUP_GRACE
    assert sender.reconcile_stale() == 1
    assert sender.send_due() == 0
    [message] = twilio_stub.messages(to=PHONE)
    assert row(engine, outbound_id).twilio_sid == message["sid"]


def test_a_text_twilio_never_got_is_sent_again_only_after_the_grace(engine, twilio_stub):
    """A network error before Twilio created anything: after the grace the lookup finds nothing, and it goes."""
    clock = [datetime.now(timezone.utc)]
    outbound_id = enqueue(engine, "lost on the way", now=clock[0])
    broken = OutboxSender(engine, make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                                     "http://127.0.0.1:9", timeout=0.5),
                          settings_for(twilio_stub), clock=lambda: clock[0])
    assert broken.send_due() == 0
    sender = sender_for(engine, twilio_stub, clock=lambda: clock[0])
    assert sender.send_due() == 0 and twilio_stub.messages(to=PHONE) == []
    clock[0] += LOOKUP_GRACE + timedelta(seconds=1)
    sender.reconcile_stale()
    assert sender.send_due() == 1
    [message] = twilio_stub.messages(to=PHONE)
    assert row(engine, outbound_id).twilio_sid == message["sid"]


def test_reconciliation_marks_what_twilio_has_and_sends_what_it_lacks(engine, twilio_stub):
    """Two rows left 'sending' by a dead sender: Twilio has the first, never got the second."""
    had, lacked, twin = enqueue(engine, "same words"), enqueue(engine, "lost"), enqueue(engine, "same words")
    with Session(engine) as session, session.begin():
        for outbound_id in (had, lacked):
            assert outbox.claim(session, outbound_id, now=datetime.now(timezone.utc), sender_id="dead")
    sent_before_crash = make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token, twilio_stub.base_url) \
        .messages.create(to=PHONE, from_="+15035550199", body="same words")

    sender = sender_for(engine, twilio_stub)
    assert sender.reconcile_stale(timedelta(0)) == 2
    sender.send_due()

    assert row(engine, had).twilio_sid == sent_before_crash.sid
    bodies = sorted(m["body"] for m in twilio_stub.messages(to=PHONE))
    assert bodies == ["lost", "same words", "same words"]  # the twin is a text of its own
    assert row(engine, twin).twilio_sid not in (None, sent_before_crash.sid)
    assert row(engine, lacked).status == OutboundStatus.QUEUED


def test_sending_is_paced_to_the_configured_rate(engine, twilio_stub):
    for i in range(6):
        enqueue(engine, f"text {i}")
    sender = sender_for(engine, twilio_stub, sms_send_rate=20.0)
    waits: list[float] = []
    sender.monotonic, sender.sleep = (lambda: 100.0), waits.append  # a frozen clock: every send waits its turn

    assert sender.send_due() == 6

    assert waits == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])


def test_a_sender_killed_mid_batch_and_restarted_sends_each_row_exactly_once(sqlite_url, engine, twilio_stub):
    bodies = [f"Reminder {i}: Dr. Patel, Tue at {i + 8}:00 AM." for i in range(8)]
    for body in bodies:
        enqueue(engine, body)
    json_request(twilio_stub.base_url, "/_stub/hold", {"after": 2, "count": 1})  # the 3rd text is held
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "TWILIO_API_BASE": twilio_stub.base_url,
        "TWILIO_ACCOUNT_SID": twilio_stub.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_stub.auth_token,
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "SMS_SEND_RATE": "0",
    }
    command = [sys.executable, "-m", "channels.sms_twilio.sender", "--once", "--stale-after", "0"]

    first = subprocess.Popen(command, cwd=ROOT, env=env)
    assert twilio_stub.wait_held(1, timeout=60), "the sender never reached the third text"
    first.send_signal(signal.SIGKILL)
    first.wait()
    with Session(engine) as session:
        in_limbo = session.execute(select(func.count()).where(OutboundMessage.status == OutboundStatus.SENDING)).scalar()
    assert in_limbo == 1, "the kill should land while Twilio holds a text we have no SID for"

    json_request(twilio_stub.base_url, "/_stub/release", {})
    assert subprocess.run(command, cwd=ROOT, env=env, timeout=60).returncode == 0

    sent = [m["body"] for m in twilio_stub.messages()]
    assert sorted(sent) == sorted(bodies)
    with Session(engine) as session:
        rows = session.execute(select(OutboundMessage)).scalars().all()
        assert {r.status for r in rows} == {OutboundStatus.QUEUED}
        assert len({r.twilio_sid for r in rows}) == len(bodies)
