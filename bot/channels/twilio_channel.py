"""The SMS channel: Twilio's webhooks in, the outbox out. Replaces Rasa's built-in ``twilio``.

Registered in ``credentials.yml`` as ``bot.channels.twilio_channel.TwilioChannel:``;
Rasa mounts it at ``/webhooks/twilio/``:

- ``POST /webhooks/twilio/webhook``: an incoming text. The signature is checked
  (403 otherwise), the text is stored by MessageSid *before* anything else, and
  Twilio gets an empty TwiML 200 at once. The work happens in a background
  task: consent keywords and pictures are settled by :mod:`bot.inbound`, the
  rest goes to Rasa with a collecting output channel, and all of the bot's
  answers for the turn become ONE outbox text, sent right away in a thread.
- ``POST /webhooks/twilio/status``: Twilio's delivery statuses for our texts.

Unlike the built-in channel, it checks signatures, never blocks the event loop
(database and Twilio calls run in the default executor) and never hands Rasa a
text starting with "/", which Rasa would read as a raw intent.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import consent, inbound, outbox
from bot.channels.sender import OutboxSender
from bot.channels.twilio_client import is_valid_signature
from bot.db import engine_for
from bot.privacy import mask_phone
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_REPLY_CHARS = 1600
SWEEP_EVERY_SECONDS = 60


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def reply_text(messages: list[Dict[Text, Any]]) -> str:
    """All of a turn's bot messages as one text; buttons become a numbered list."""
    parts: list[str] = []
    for message in messages:
        if message.get("text"):
            parts.append(message["text"].strip())
        buttons = message.get("buttons") or message.get("quick_replies") or []
        parts.extend(f"{number}. {button.get('title', '')}" for number, button in enumerate(buttons, start=1))
        if message.get("image"):
            parts.append(message["image"])
        if message.get("attachment"):
            parts.append(str(message["attachment"]))
    text = "\n".join(part for part in parts if part)
    if len(text) > MAX_REPLY_CHARS:
        logger.warning("reply of %s characters cut to %s", len(text), MAX_REPLY_CHARS)
        text = text[: MAX_REPLY_CHARS - 3].rstrip() + "..."
    return text


class TwilioChannel(InputChannel):
    """Twilio SMS in and out, with signatures checked and nothing lost."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TwilioChannel":
        """Everything comes from :mod:`bot.settings`; values in credentials.yml are ignored."""
        return cls()

    def __init__(
        self,
        settings: Settings | None = None,
        engine: Engine | None = None,
        sender: OutboxSender | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings or get_settings()
        self.engine = engine or engine_for(self.settings.database_url)
        self.sender = sender or OutboxSender.from_settings(self.settings, self.engine)
        self.clock = clock
        self._tasks: set[asyncio.Task] = set()
        self._app: Any = None  # the Sanic app, whose ctx.agent holds the tracker store

    # ----- HTTP ---------------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sms = Blueprint("twilio_sms", __name__)

        @sms.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sms.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            form = self.signed_form(request)
            if form is None:
                return response.text("invalid Twilio signature", status=403)
            if not form.get("MessageSid") or not form.get("From"):
                return response.text("MessageSid and From are required", status=400)
            self._app = request.app
            message_id, is_new = await self._in_thread(self._store, form)
            if is_new:
                self._spawn(self._process(message_id, form, on_new_message))
            else:
                logger.info("inbound %s is a retry of a stored text; not processed again", form["MessageSid"])
            return response.text(EMPTY_TWIML, content_type="text/xml")

        @sms.listener("after_server_start")
        async def start_sweeping(app, loop) -> None:
            self._app = app
            self._spawn(self._sweep_forever(on_new_message))

        @sms.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            form = self.signed_form(request)
            if form is None:
                return response.text("invalid Twilio signature", status=403)
            outbound_id = request.args.get("outbound_id")
            await self._in_thread(
                self._apply_status, form, int(outbound_id) if outbound_id and outbound_id.isdigit() else None
            )
            return response.text("", status=200)

        return sms

    def signed_form(self, request: Request) -> dict[str, str] | None:
        """The form fields if Twilio signed them, else None (and a warning in the log).

        The signature covers the public URL Twilio was given (PUBLIC_BASE_URL +
        path + query), which differs from what this server sees behind a proxy.
        Blank fields count, so the body is parsed here, keeping them.
        """
        url = self.settings.public_base_url + request.path
        if request.query_string:
            url += "?" + request.query_string
        params = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        if not is_valid_signature(self.settings.twilio_auth_token, url, params,
                                  request.headers.get("X-Twilio-Signature")):
            logger.warning("refused a request to %s with a missing or wrong Twilio signature", request.path)
            return None
        return {name: values[0] for name, values in params.items()}

    # ----- the work behind the webhook ------------------------------------------------
    async def sweep_once(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> int:
        """Pick up what a crashed server left: unclaimed texts are processed, stuck ones go to staff."""
        orphans = await self._in_thread(self._orphans)
        for message_id, phone, sid in orphans:
            logger.warning("inbound %s from %s was never processed; processing it now", sid, mask_phone(phone))
            self._spawn(self._process(message_id, {"From": phone, "MessageSid": sid}, on_new_message))
        return len(orphans)

    async def _sweep_forever(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        while True:
            try:
                await self.sweep_once(on_new_message)
            except Exception:
                logger.exception("sweep for unprocessed texts failed; trying again later")
            await asyncio.sleep(SWEEP_EVERY_SECONDS)

    async def _process(self, message_id: int, form: dict[str, str],
                       on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        phone, sid = form["From"], form["MessageSid"]
        if not await self._in_thread(self._claim, message_id):
            return  # another server (or an earlier run) has it
        try:
            triage = await self._in_thread(self._triage, message_id, form.get("OptOutType"))
            await self._send_now(triage.outbound_ids)
            if triage.pass_to_rasa:
                was_opted_out = await self._in_thread(self._opted_out, phone)
                collector = CollectingOutputChannel()
                await on_new_message(UserMessage(
                    triage.nlu_text, collector, sender_id=phone, input_channel=self.name(),
                    message_id=sid,
                    metadata={
                        "message_sid": sid,
                        "inbound_id": message_id,
                        "num_media": len(inbound.media_from_form(form)),
                        inbound.WHOLE_TEXT_KEY: triage.whole_text,
                        "paused_ticket_id": triage.paused_ticket_id,
                        "opened_ticket_id": triage.opened_ticket_id,
                    },
                ))
                text = reply_text(collector.messages)
                if text:
                    reply_id = await self._in_thread(self._enqueue_reply, phone, text, was_opted_out)
                    await self._send_now([reply_id])
            intent, confidence = await self._prediction(phone, sid)
            await self._in_thread(self._mark, message_id, True, intent, confidence)
        except Exception:
            logger.exception("inbound %s from %s failed; stored as failed", sid, mask_phone(phone))
            try:
                await self._in_thread(self._mark, message_id, False)
            except Exception:
                logger.exception("inbound %s: could not even mark it failed", sid)

    async def _prediction(self, phone: str, sid: str) -> tuple[str | None, float | None]:
        """What the NLU made of this text (from Rasa's tracker), kept with the text for `review-nlu`."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None, None
        try:
            tracker = await store.retrieve(phone)
        except Exception:
            logger.exception("could not read the tracker of %s", mask_phone(phone))
            return None, None
        for event in reversed(tracker.events if tracker else []):
            if isinstance(event, UserUttered) and event.message_id == sid:
                return event.intent.get("name"), event.intent.get("confidence")
        return None, None

    async def _send_now(self, outbound_ids: list[int]) -> None:
        """Send in a thread; a row that cannot go now stays in the outbox for the sender loop."""
        if not outbound_ids:
            return
        try:
            await self._in_thread(self.sender.send_ids, outbound_ids)
        except Exception:
            logger.exception("outbox %s: immediate send failed; the outbox sender will retry", outbound_ids)

    # ----- database use cases (run in the executor) -------------------------------------
    def _store(self, form: dict[str, str]) -> tuple[int, bool]:
        with Session(self.engine) as session, session.begin():
            message, is_new = inbound.store_inbound(
                session,
                message_sid=form["MessageSid"],
                phone=form["From"],
                to_number=form.get("To"),
                body=form.get("Body", ""),
                media=inbound.media_from_form(form),
                now=self.clock(),
            )
            return message.id, is_new

    def _claim(self, message_id: int) -> bool:
        with Session(self.engine) as session, session.begin():
            return inbound.claim_inbound(session, message_id, self.clock())

    def _orphans(self) -> list[tuple[int, str, str]]:
        with Session(self.engine) as session, session.begin():
            stuck = inbound.hand_stuck_texts_to_staff(session, self.clock())
            for message in stuck:
                logger.error("inbound %s from %s died mid-turn; handed to the front desk",
                             message.message_sid, mask_phone(message.phone))
            return [(m.id, m.phone, m.message_sid) for m in inbound.unclaimed_texts(session, self.clock())]

    def _triage(self, message_id: int, opt_out_type: str | None) -> inbound.Triage:
        from bot.models import InboundMessage

        with Session(self.engine) as session, session.begin():
            message = session.get(InboundMessage, message_id)
            return inbound.triage_inbound(session, message, now=self.clock(),
                                          advanced_opt_out=self.settings.twilio_advanced_opt_out,
                                          opt_out_type=opt_out_type)

    def _opted_out(self, phone: str) -> bool:
        with Session(self.engine) as session:
            return consent.is_opted_out(session, phone)

    def _enqueue_reply(self, phone: str, text: str, was_opted_out: bool) -> int:
        """Store the turn's reply; if the turn itself opted the phone out ("please stop
        texting me"), the reply is that opt-out's one confirmation and may still go."""
        with Session(self.engine) as session, session.begin():
            kind = "reply"
            if not was_opted_out and consent.is_opted_out(session, phone):
                kind = outbox.CONSENT_CONFIRMATION
            return outbox.enqueue_text(session, phone, text, kind, self.clock()).id

    def _mark(self, message_id: int, processed: bool, intent: str | None = None,
              confidence: float | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            if processed:
                inbound.mark_processed(session, message_id, self.clock(), intent=intent, confidence=confidence)
            else:
                inbound.mark_failed(session, message_id, self.clock())

    def _apply_status(self, form: dict[str, str], outbound_id: int | None) -> None:
        code = form.get("ErrorCode")
        with Session(self.engine) as session, session.begin():
            row = outbox.apply_status_callback(
                session, sid=form.get("MessageSid", ""), twilio_status=form.get("MessageStatus", ""),
                error_code=int(code) if code and code.isdigit() else None,
                now=self.clock(), outbound_id=outbound_id,
            )
        if row is None:
            logger.info("status %s for unknown message %s ignored", form.get("MessageStatus"), form.get("MessageSid"))

    # ----- helpers ----------------------------------------------------------------------
    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait for the background work of every text received so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
