"""The SMS gateway: Twilio's webhook on a server of its own, handing stored texts to a Rasa server."""
from __future__ import annotations

import dataclasses
import json

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import inbound
from bot.models import InboundMessage
from channels.sms_twilio import gateway as sms_gateway
from channels.sms_twilio.receiver import GATEWAY_SIGNATURE_HEADER, gateway_signature
from tests.channel_helpers import PHONE, WEBHOOK, FakeBrain, SanicServer, rows, text_in, wait_for, wait_processed


@pytest.fixture
def brain() -> FakeBrain:
    return FakeBrain({"what are your hours": [{"text": "We are open 8-5."}]})


@pytest.fixture
def gateway(sms, engine, twilio_stub):
    """The gateway in front of the channel server (which plays the Rasa server)."""
    channel, rasa = sms
    settings = dataclasses.replace(channel.settings, rasa_url=rasa.base_url)
    server = SanicServer(sms_gateway.create_app(settings, engine))
    public = dataclasses.replace(settings, public_base_url=server.base_url)
    server.app.ctx.receiver.settings = public
    channel.settings = channel.sender.settings = dataclasses.replace(channel.settings, public_base_url=server.base_url)
    twilio_stub.configure(webhook_url=server.base_url + WEBHOOK)
    yield server
    server.stop()


def test_a_text_to_the_gateway_is_stored_there_and_answered_by_the_rasa_server(gateway, engine, twilio_stub, brain):
    result = text_in(twilio_stub, "what are your hours")
    assert result["webhook_status"] == 200
    assert wait_processed(engine, result["message_sid"]).outcome == inbound.REPLIED
    [reply] = wait_for(lambda: twilio_stub.messages(to=PHONE))
    assert reply["body"] == "We are open 8-5."
    assert [m.text for m in brain.received] == ["what are your hours"]
    # Twilio's status callbacks come to the gateway too and move the row on.
    wait_for(lambda: all(r.status.value == "delivered" for r in rows(engine)))


def test_the_gateway_refuses_forged_texts_and_oversized_bodies(gateway, engine, twilio_stub, brain):
    assert text_in(twilio_stub, "hi", signature="bad")["webhook_status"] == 403
    big = requests.post(gateway.base_url + WEBHOOK, data=b"x" * 100_000, timeout=10,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    with Session(engine) as session:
        assert session.execute(select(InboundMessage)).first() is None
    assert brain.received == []


def test_with_rasa_down_the_text_is_stored_and_waits_for_the_sweep(sms, engine, twilio_stub, brain):
    channel, rasa = sms
    settings = dataclasses.replace(channel.settings, rasa_url="http://127.0.0.1:9")  # nobody answers
    server = SanicServer(sms_gateway.create_app(settings, engine))
    try:
        server.app.ctx.receiver.settings = dataclasses.replace(settings, public_base_url=server.base_url)
        twilio_stub.configure(webhook_url=server.base_url + WEBHOOK)
        result = text_in(twilio_stub, "what are your hours")
        assert result["webhook_status"] == 200
        with Session(engine) as session:
            [stored] = session.execute(select(InboundMessage)).scalars().all()
        assert stored.status == "received" and brain.received == []
    finally:
        server.stop()


def test_the_process_route_of_the_rasa_server_needs_the_gateways_signature(sms, engine, twilio_stub, brain):
    channel, rasa = sms
    body = json.dumps({"inbound_id": 1}).encode()
    url = rasa.base_url + "/webhooks/twilio/process"
    assert requests.post(url, data=body, timeout=5).status_code == 403
    forged = gateway_signature("not-the-token", body)
    assert requests.post(url, data=body, headers={GATEWAY_SIGNATURE_HEADER: forged}, timeout=5).status_code == 403
    good = gateway_signature(channel.settings.twilio_auth_token, body)
    assert requests.post(url, data=body, headers={GATEWAY_SIGNATURE_HEADER: good,
                                                  "Content-Type": "application/json"}, timeout=5).status_code == 202
