"""The whole SMS pipeline with real servers, some of them killed mid-burst: nothing lost, nothing doubled.

The Twilio stub, the SMS gateway, a Rasa server with the trained model, the action server and
the outbox sender run on loopback (tests/live_stack.py). Each test sends signed texts from many
phones through the gateway and counts from the database and the stub: every text stored, every
text ended (a reply, or a ticket with a holding reply), no text at Twilio twice, none that no
outbox row knows.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import inbound
from bot.models import HandoffTicket, InboundMessage, OutboundMessage
from tests.live_stack import LiveStack

pytestmark = pytest.mark.needs_model
TEXTS = ["what are your hours", "where are you located", "thanks!", "when is my appt", "hi"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(tmp_path_factory.mktemp("pipeline"), TURN_TIMEOUT_SECONDS="20").start()
    yield live
    live.stop()


def send_burst(stack: LiveStack, tag: str, count: int, phones: int, concurrency: int,
               during=None) -> list[dict]:
    numbers = [f"+1503559{tag}{n:03d}" for n in range(phones)]
    results: list[dict] = []

    def one(i: int) -> dict:
        return stack.stub.send_inbound(numbers[i % phones], TEXTS[i % len(TEXTS)])

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        if during is not None:
            during()
        results = [f.result() for f in futures]
    return results


def texts_of(engine, tag: str) -> list[InboundMessage]:
    with Session(engine) as session:
        return session.execute(select(InboundMessage).where(
            InboundMessage.phone.like(f"+1503559{tag}%"))).scalars().all()


def wait_until_all_ended(engine, tag: str, count: int, seconds: float) -> list[InboundMessage]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        texts = texts_of(engine, tag)
        if len(texts) == count and all(t.outcome for t in texts):
            return texts
        time.sleep(1)
    texts = texts_of(engine, tag)
    pytest.fail(f"{sum(1 for t in texts if t.outcome)} of {count} texts ended: "
                f"{Counter((t.status, t.outcome) for t in texts)}")


def assert_nothing_doubled(stack: LiveStack, engine, tag: str) -> None:
    with Session(engine) as session:
        known = set(session.execute(select(OutboundMessage.twilio_sid).where(
            OutboundMessage.phone.like(f"+1503559{tag}%"), OutboundMessage.twilio_sid.is_not(None))).scalars())
        rows = session.execute(select(OutboundMessage).where(OutboundMessage.phone.like(f"+1503559{tag}%"))
                               ).scalars().all()
    at_twilio = [m for m in stack.stub.messages() if m["to"].startswith(f"+1503559{tag}")]
    assert len({m["sid"] for m in at_twilio}) == len(at_twilio)
    orphans = [m for m in at_twilio if m["sid"] not in known]
    assert orphans == [], f"{len(orphans)} texts at Twilio that no outbox row holds (sent twice)"
    assert len(at_twilio) == len([r for r in rows if r.twilio_sid]), "an outbox row was sent twice"


def assert_every_reply_or_ticket(engine, texts: list[InboundMessage]) -> Counter:
    with Session(engine) as session:
        for text in texts:
            if text.outcome == inbound.HANDED_TO_STAFF:
                ticket = session.get(HandoffTicket, text.ticket_id)
                assert ticket is not None
                holding = session.execute(select(OutboundMessage).where(
                    OutboundMessage.ticket_id == ticket.id, OutboundMessage.kind == "reply")).scalars().all()
                assert holding, f"{text.message_sid}: ticket without a holding reply"
            elif text.outcome == inbound.WITH_STAFF:  # a later text on a phone staff now have: it joins the ticket
                assert session.get(HandoffTicket, text.ticket_id) is not None, text.message_sid
            else:
                assert text.outcome == inbound.REPLIED, (text.message_sid, text.outcome)
    return Counter(t.outcome for t in texts)


def test_a_burst_with_an_oversized_post_alongside_is_all_stored_and_answered_once(stack):
    engine = stack.engine()

    def flood() -> None:
        huge = b"&".join(b"f%d=x" % n for n in range(600_000))
        assert requests.post(stack.gateway + "/webhooks/twilio/webhook", data=huge, timeout=30).status_code == 413

    results = send_burst(stack, "1", 150, 50, 32, during=flood)
    assert all(r["webhook_status"] == 200 for r in results)
    texts = wait_until_all_ended(engine, "1", 150, 240)
    outcomes = assert_every_reply_or_ticket(engine, texts)
    assert outcomes == {inbound.REPLIED: 150}
    assert_nothing_doubled(stack, engine, "1")


def test_the_action_server_killed_mid_burst_and_restarted_loses_and_doubles_nothing(stack):
    engine = stack.engine()

    def kill_and_restart() -> None:
        deadline = time.monotonic() + 60
        while len([t for t in texts_of(engine, "2") if t.outcome]) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        stack.kill("actions")
        time.sleep(2)
        stack.restart("actions")

    killer = threading.Thread(target=kill_and_restart)
    killer.start()
    results = send_burst(stack, "2", 80, 40, 16)
    killer.join()
    assert all(r["webhook_status"] == 200 for r in results)
    texts = wait_until_all_ended(engine, "2", 80, 240)
    outcomes = assert_every_reply_or_ticket(engine, texts)
    assert sum(outcomes.values()) == 80
    assert_nothing_doubled(stack, engine, "2")


def test_the_rasa_server_killed_mid_burst_and_restarted_loses_and_doubles_nothing(stack):
    """Texts caught mid-turn go to staff once the turn timeout passes; texts not yet taken are answered
    by the restarted server's sweep; nothing is answered twice."""
    engine = stack.engine()
    results = send_burst(stack, "3", 40, 20, 16)
    assert all(r["webhook_status"] == 200 for r in results)
    deadline = time.monotonic() + 60
    while len([t for t in texts_of(engine, "3") if t.outcome]) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    stack.kill("rasa")
    more = send_burst(stack, "3", 20, 20, 8)  # while no Rasa server runs: stored by the gateway, waiting
    assert all(r["webhook_status"] == 200 for r in more)
    stack.restart("rasa")
    texts = wait_until_all_ended(engine, "3", 60, 300)
    outcomes = assert_every_reply_or_ticket(engine, texts)
    assert sum(outcomes.values()) == 60 and outcomes[inbound.REPLIED] >= 20
    assert_nothing_doubled(stack, engine, "3")
