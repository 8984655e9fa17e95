"""The SMS gateway: the small server Twilio talks to. It stores every text and lets Rasa do the rest.

Rasa's event loop also runs the NLU and its SQL tracker store, which block it for
tens of milliseconds a turn; under a burst of texts a webhook served there waited
seconds, long enough for Twilio to give up. This process does nothing but receive:

- ``POST /webhooks/twilio/webhook``: size limits, signature, one short transaction
  (:class:`channels.sms_twilio.receiver.SmsReceiver`), an empty TwiML 200; then it tells a
  Rasa server ``POST {RASA_URL}/webhooks/twilio/process {"inbound_id": N}``, signed with
  an HMAC of the Twilio auth token. If no Rasa server answers, the text waits, stored:
  a Rasa server's sweep takes it within 30 seconds of starting, and after 10 minutes
  the outbox sender hands it to staff.
- ``POST /webhooks/twilio/status``: Twilio's delivery statuses.
- ``GET /webhooks/twilio/``: health with the outbox's backlog (503 when degraded).
- ``POST /webhooks/twilio/voice`` and ``/webhooks/twilio/voice/dial-status``: the practice
  number's calls ring the front desk; a missed call gets a text back (:mod:`channels.voice_twilio`).

Run ``python -m channels.sms_twilio.gateway`` (``make run`` starts it on ``SMS_PORT``);
point Twilio's "A message comes in" webhook at ``PUBLIC_BASE_URL/webhooks/twilio/webhook`` and
"A call comes in" at ``PUBLIC_BASE_URL/webhooks/twilio/voice``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime
from typing import Any, Callable

import aiohttp
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.db import engine_for
from bot.privacy import install_log_masking
from bot.settings import Settings, get_settings
from channels.sms_twilio.receiver import GATEWAY_SIGNATURE_HEADER, SmsReceiver, gateway_signature, utcnow
from channels.voice_twilio.receiver import VoiceReceiver, add_voice_routes

logger = logging.getLogger(__name__)

PREFIX = "/webhooks/twilio"
NOTIFY_TIMEOUT_SECONDS = 3.0


class RasaNotifier:
    """Tells a Rasa server that a text is stored; best effort (the sweep is the safety net)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()

    def notify(self, inbound_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._post(inbound_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, inbound_id: int) -> None:
        body = json.dumps({"inbound_id": inbound_id}).encode()
        headers = {"Content-Type": "application/json",
                   GATEWAY_SIGNATURE_HEADER: gateway_signature(self.settings.twilio_auth_token, body)}
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=NOTIFY_TIMEOUT_SECONDS))
            async with self._session.post(f"{self.settings.rasa_url}{PREFIX}/process", data=body,
                                          headers=headers) as reply:
                if reply.status >= 300:
                    logger.warning("Rasa answered %s for inbound %s; its sweep will take the text",
                                   reply.status, inbound_id)
        except Exception as error:  # Rasa down or restarting: the text is stored, the sweep takes it
            logger.warning("could not reach Rasa for inbound %s (%s); its sweep will take the text",
                           inbound_id, error.__class__.__name__)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()


def create_app(settings: Settings | None = None, engine: Any = None,
               clock: Callable[[], datetime] = utcnow) -> Sanic:
    """The gateway's Sanic app (a new name each time, as Sanic requires in one process)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings.database_url)
    receiver = SmsReceiver(settings, engine, clock)
    voice = VoiceReceiver(settings, engine, clock)
    notifier = RasaNotifier(settings)
    app = Sanic(f"sms_gateway_{uuid.uuid4().hex[:8]}")
    app.ctx.receiver, app.ctx.voice, app.ctx.notifier = receiver, voice, notifier
    add_voice_routes(app, voice)

    @app.get(f"{PREFIX}/")
    async def health(_: Request) -> HTTPResponse:
        return await receiver.health("sms gateway")

    @app.post(f"{PREFIX}/webhook", stream=True)
    async def webhook(request: Request) -> HTTPResponse:
        return await receiver.receive_text(request, notifier.notify)

    @app.post(f"{PREFIX}/status", stream=True)
    async def status(request: Request) -> HTTPResponse:
        return await receiver.receive_status(request)

    @app.listener("before_server_stop")
    async def close(app_: Sanic, loop) -> None:
        await notifier.close()

    return app


def main() -> None:
    settings = get_settings()
    install_log_masking(settings.log_level)
    logging.getLogger("sanic.access").setLevel(logging.WARNING)
    app = create_app(settings)
    logger.info("SMS gateway on http://%s:%s%s/webhook, handing texts to %s", settings.host, settings.sms_port,
                PREFIX, settings.rasa_url)
    app.run(host=settings.host, port=settings.sms_port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
