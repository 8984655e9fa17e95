"""Helpers for the SMS channel tests: the channel's blueprint on a loopback Sanic server, a table brain.

The brain is a table (``FakeBrain``) instead of Rasa so channel tests stay fast; everything else is
real: the database, the twilio SDK, the Twilio stub, status callbacks.
"""
from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
import uuid

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import InboundMessage, OutboundMessage
from bot.settings import Settings
from channels.sms_twilio.client import make_twilio_client
from channels.sms_twilio.rasa_channel import TwilioChannel
from channels.sms_twilio.sender import OutboxSender
from tests.stub_fixtures import json_request

PHONE = "+15035550123"
WEBHOOK = "/webhooks/twilio/webhook"


class FakeBrain:
    """Answers from a table like a tiny Rasa, and records what it was given."""

    def __init__(self, answers: dict[str, list[dict]]) -> None:
        self.answers = answers
        self.received: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for answer in self.answers.get(message.text, [{"text": "Sorry, I didn't get that."}]):
            if answer.get("buttons"):
                await message.output_channel.send_text_with_buttons(message.sender_id, answer["text"], answer["buttons"])
            else:
                await message.output_channel.send_text_message(message.sender_id, answer["text"])


class SanicServer:
    """A Sanic app served on a free loopback port in a thread of its own."""

    def __init__(self, app: Sanic) -> None:
        self._test_mode_before = Sanic.test_mode  # a global flag of Sanic's: restored in stop()
        Sanic.test_mode = True
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)

            async def start() -> None:
                self.server = await self.app.create_server(sock=self.sock, return_asyncio_server=True,
                                                           access_log=False)
                await self.server.startup()
                await self.server.start_serving()
                started.set()

            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert started.wait(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        Sanic.test_mode = self._test_mode_before


class ChannelServer(SanicServer):
    """The channel's blueprint in a small Sanic app (a stand-in for the Rasa server)."""

    def __init__(self, channel: TwilioChannel, brain: FakeBrain) -> None:
        app = Sanic(f"sms_{uuid.uuid4().hex[:8]}")
        app.blueprint(channel.blueprint(brain), url_prefix="/webhooks/twilio")
        super().__init__(app)


def text_in(stub, body: str = "", phone: str = PHONE, **extra) -> dict:
    status, result = json_request(stub.base_url, "/_stub/inbound", {"from": phone, "body": body, **extra})
    assert status == 200, result
    return result


def wait_processed(engine, message_sid: str, timeout: float = 10.0) -> InboundMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            message = session.execute(select(InboundMessage).where(InboundMessage.message_sid == message_sid)).scalar_one_or_none()
        if message is not None and message.status in ("processed", "failed"):
            return message
        time.sleep(0.02)
    pytest.fail(f"{message_sid} was not processed")


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail("condition not reached")


def rows(engine) -> list[OutboundMessage]:
    with Session(engine) as session:
        return session.execute(select(OutboundMessage).order_by(OutboundMessage.id)).scalars().all()


@pytest.fixture
def sms(engine, twilio_stub, brain):
    """(channel, server) wired to the stub: the stub's webhook and our StatusCallbacks reach the server.

    The test module provides ``brain``; ``channel.retry_delays`` are short so failed turns retry fast."""
    settings = dataclasses.replace(
        Settings(), twilio_api_base=twilio_stub.base_url, twilio_account_sid=twilio_stub.account_sid,
        twilio_auth_token=twilio_stub.auth_token, sms_send_rate=0,
    )
    sender = OutboxSender(engine, make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token,
                                                     twilio_stub.base_url), settings)
    channel = TwilioChannel(settings=settings, engine=engine, sender=sender, retry_delays=(0.05, 0.1))
    server = ChannelServer(channel, brain)
    public = dataclasses.replace(settings, public_base_url=server.base_url)
    channel.settings = sender.settings = public
    twilio_stub.configure(webhook_url=server.base_url + WEBHOOK)
    yield channel, server
    server.stop()
