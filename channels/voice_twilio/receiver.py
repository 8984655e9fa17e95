"""Twilio's voice webhooks for the practice number: ring the front desk, and text back a call nobody answered.

Twilio's "A call comes in" webhook (``POST /webhooks/twilio/voice``) gets TwiML
built with the twilio SDK: ``<Dial>`` the practice file's
``voice.front_desk_number`` for ``voice.ring_seconds``, with an ``action``
callback (``POST /webhooks/twilio/voice/dial-status``). Twilio calls the action
when the dial ends; a ``DialCallStatus`` of ``no-answer``, ``busy``, ``failed``
or ``canceled`` (the caller hung up) stores the text back
(:func:`bot.messaging.missed_calls.text_back_missed_call`), which the outbox
sender sends like any SMS. A practice without ``voice.front_desk_number`` has
nowhere to ring: the call is hung up and texted back at once.

Both webhooks are checked like the SMS webhook (size limit 413, then Twilio's
signature 403, the same :func:`channels.sms_twilio.receiver.signed_form`) and are
served by the SMS gateway (:mod:`channels.sms_twilio.gateway`). Database work
runs on the receiver's own threads, never on the event loop.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from twilio.twiml.voice_response import VoiceResponse

from bot.db import transaction
from bot.messaging import missed_calls
from bot.practice import get_practice
from bot.settings import Settings
from channels.sms_twilio.receiver import in_pool, read_limited_body, signed_form

logger = logging.getLogger(__name__)

VOICE_PATH = "/webhooks/twilio/voice"
DIAL_STATUS_PATH = VOICE_PATH + "/dial-status"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ring_front_desk(front_desk_number: str, ring_seconds: int, action_url: str) -> str:
    """TwiML: ring the front desk for ``ring_seconds``, then tell ``action_url`` how the dial ended."""
    twiml = VoiceResponse()
    twiml.dial(front_desk_number, timeout=ring_seconds, action=action_url, method="POST")
    return str(twiml)


def hang_up() -> str:
    twiml = VoiceResponse()
    twiml.hangup()
    return str(twiml)


class VoiceReceiver:
    """The practice number's voice webhook and its dial action, checked and answered; threads of its own."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="voice")

    async def _signed(self, request: Request) -> dict[str, str] | HTTPResponse:
        body = await read_limited_body(request)
        if body is None:
            return response.text("request too large for a call webhook", status=413)
        form = signed_form(self.settings, request, body)
        if form is None:
            return response.text("invalid Twilio signature", status=403)
        if not form.get("CallSid"):
            return response.text("CallSid is required", status=400)
        return form

    async def incoming_call(self, request: Request) -> HTTPResponse:
        """A call to the practice number: ring the front desk (or, with none configured, text back and hang up)."""
        form = await self._signed(request)
        if isinstance(form, HTTPResponse):
            return form
        config = await in_pool(self.pool, self._voice_config)
        if config.front_desk_number is None:
            logger.warning("voice.front_desk_number is not set in the practice file: call %s not rung",
                           form["CallSid"])
            await in_pool(self.pool, self._text_back, form, "failed")
            return response.text(hang_up(), content_type="text/xml")
        twiml = ring_front_desk(config.front_desk_number, config.ring_seconds,
                                self.settings.public_base_url + DIAL_STATUS_PATH)
        return response.text(twiml, content_type="text/xml")

    async def dial_status(self, request: Request) -> HTTPResponse:
        """The dial ended: a missed call gets its text back; the call ends either way."""
        form = await self._signed(request)
        if isinstance(form, HTTPResponse):
            return form
        await in_pool(self.pool, self._text_back, form, form.get("DialCallStatus", ""))
        return response.text(hang_up(), content_type="text/xml")

    # ----- database work (on the receiver's threads) ------------------------------------
    def _voice_config(self) -> missed_calls.VoiceConfig:
        with transaction(self.engine) as session:
            return missed_calls.voice_config(get_practice(session))

    def _text_back(self, form: dict[str, str], dial_status: str) -> missed_calls.TextBack:
        with transaction(self.engine) as session:
            return missed_calls.text_back_missed_call(session, caller=form.get("From", ""), call_sid=form["CallSid"],
                                                      dial_status=dial_status, now=self.clock())


def add_voice_routes(app: Sanic, receiver: VoiceReceiver) -> None:
    """Serve the voice webhooks on ``app`` (the SMS gateway's), next to the SMS webhook."""

    @app.post(VOICE_PATH, stream=True)
    async def incoming_call(request: Request) -> HTTPResponse:
        return await receiver.incoming_call(request)

    @app.post(DIAL_STATUS_PATH, stream=True)
    async def dial_status(request: Request) -> HTTPResponse:
        return await receiver.dial_status(request)
