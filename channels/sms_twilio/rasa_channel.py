"""The SMS channel: Twilio's webhooks in, the outbox out. Replaces Rasa's built-in ``twilio``.

Registered in ``credentials.yml`` as ``channels.sms_twilio.rasa_channel.TwilioChannel:``;
Rasa mounts it at ``/webhooks/twilio/``:

- ``POST /webhooks/twilio/webhook``: an incoming text. A body larger than
  :data:`MAX_BODY_BYTES` or with more than :data:`MAX_FIELDS` fields is refused
  with 413 before it is parsed; the signature is checked (403 otherwise); the
  text is stored by MessageSid in one short transaction on the channel's own
  store threads, and Twilio gets an empty TwiML 200 at once. Nothing else runs
  on that path, so a burst of texts or a slow Twilio never delays the store.
- ``POST /webhooks/twilio/status``: Twilio's delivery statuses for our texts.
- ``GET /webhooks/twilio/``: health, with the outbox's backlog (200 ok, 503 degraded).

The work behind a stored text happens in a background task, at most
:data:`MAX_TURNS_IN_FLIGHT` at a time per server (the rest wait, already
stored): the text is claimed and triaged (:mod:`bot.messaging.inbound`: consent keywords,
pictures, emergencies while staff have the conversation) in one transaction;
the rest goes to Rasa with a collecting output channel, and all of the bot's
answers for the turn become ONE outbox text, sent at once on the channel's send
threads (never sleeping for the send rate; over it, the outbox sender sends it).

Every stored text ends: a reply, a staff ticket, or a recorded reason
(``InboundMessage.outcome``). A turn that fails (Rasa raised, or the bot, in
charge of the conversation, said nothing: the action server failed) is tried
again after 1 s and 4 s; then the front desk gets a ticket and the patient a
holding reply ("we got your text; our front desk will reply by ..."). A turn
that a crash cut off is handed to staff by the sweep (any server's, and the
outbox sender's) within two minutes.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.db import engine_for, transaction
from bot.messaging import inbound, outbox
from bot.models import InboundMessage, OutboundStatus
from bot.privacy import install_log_masking, mask_phone
from bot.settings import Settings, get_settings
from channels.sms_twilio.receiver import (  # noqa: F401  (EMPTY_TWIML and the limits are part of this module's API)
    EMPTY_TWIML,
    GATEWAY_SIGNATURE_HEADER,
    MAX_BODY_BYTES,
    MAX_FIELDS,
    SmsReceiver,
    in_pool,
    is_valid_gateway_signature,
)
from channels.sms_twilio.sender import Claimed, OutboxSender

logger = logging.getLogger(__name__)

MAX_REPLY_CHARS = 1600
MAX_TURNS_IN_FLIGHT = 8          # Rasa turns at once per server; more texts wait, stored
TURN_RETRY_DELAYS = (1.0, 4.0)   # seconds before the second and third try of a failed turn
SWEEP_EVERY_SECONDS = 15
PARSED_INTENT_KEY = "parsed_intent"  # the NLU's final intent, left in the message metadata
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


class TurnFailed(Exception):
    """Rasa could not complete the turn (it raised, or the bot in charge said nothing)."""


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
        retry_delays: tuple[float, ...] = TURN_RETRY_DELAYS,
    ) -> None:
        settings = settings or get_settings()
        install_log_masking(settings.log_level)
        self.engine = engine or engine_for(settings.database_url)
        self.receiver = SmsReceiver(settings, self.engine, clock)
        self.sender = sender or OutboxSender.from_settings(settings, self.engine)
        self.clock = clock
        self.retry_delays = retry_delays
        # Storing (the receiver's threads), the turns' database work and the Twilio calls each have
        # threads of their own, so a slow Twilio or a busy turn never holds up storing a new text.
        self._work_pool = ThreadPoolExecutor(8, thread_name_prefix="sms-work")
        self._send_pool = ThreadPoolExecutor(8, thread_name_prefix="sms-send")
        self._tasks: set[asyncio.Task] = set()
        self._queued: set[int] = set()  # stored texts this server has a task for
        self._turn_slots: asyncio.Semaphore | None = None
        self._sweeper: asyncio.Task | None = None
        self._app: Any = None  # the Sanic app, whose ctx.agent holds the tracker store

    @property
    def settings(self) -> Settings:
        return self.receiver.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self.receiver.settings = value

    # ----- HTTP ---------------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sms = Blueprint("twilio_sms", __name__)

        @sms.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return await self.receiver.health("rasa sms channel")

        @sms.route("/webhook", methods=["POST"], stream=True)
        async def webhook(request: Request) -> HTTPResponse:
            self._app = request.app
            return await self.receiver.receive_text(request, lambda message_id: self._start(message_id, on_new_message))

        @sms.route("/process", methods=["POST"])
        async def process(request: Request) -> HTTPResponse:
            """The SMS gateway stored a text: process it here (signed with the Twilio auth token)."""
            if not is_valid_gateway_signature(self.settings.twilio_auth_token, request.body,
                                              request.headers.get(GATEWAY_SIGNATURE_HEADER)):
                return response.text("invalid gateway signature", status=403)
            self._app = request.app
            try:
                message_id = int((request.json or {})["inbound_id"])
            except (KeyError, TypeError, ValueError):
                return response.text("inbound_id is required", status=400)
            self._start(message_id, on_new_message)
            return response.json({"accepted": message_id}, status=202)

        @sms.listener("after_server_start")
        async def start_sweeping(app, loop) -> None:
            self._app = app
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(on_new_message))

        @sms.route("/status", methods=["POST"], stream=True)
        async def status(request: Request) -> HTTPResponse:
            return await self.receiver.receive_status(request)

        return sms

    # ----- the work behind the webhook ------------------------------------------------
    def _start(self, message_id: int, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        if message_id in self._queued:
            return
        self._queued.add(message_id)
        self._spawn(self._process(message_id, on_new_message))

    async def sweep_once(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> int:
        """Pick up what a crashed server left: unclaimed texts are processed, stuck ones go to staff."""
        orphans = await self._in(self._work_pool, self._orphans)
        started = 0
        for message_id, phone, sid in orphans:
            if message_id in self._queued:
                continue
            logger.warning("inbound %s from %s was never processed; processing it now", sid, mask_phone(phone))
            self._start(message_id, on_new_message)
            started += 1
        return started

    async def _sweep_forever(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        while True:
            try:
                await self.sweep_once(on_new_message)
            except Exception:
                logger.exception("sweep for unprocessed texts failed; trying again later")
            await asyncio.sleep(SWEEP_EVERY_SECONDS)

    async def _process(self, message_id: int, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        try:
            if self._turn_slots is None:
                self._turn_slots = asyncio.Semaphore(MAX_TURNS_IN_FLIGHT)
            async with self._turn_slots:
                await self._turn(message_id, on_new_message)
        except Exception:
            logger.exception("inbound %s: the turn failed; handing it to staff", message_id)
            try:
                await self._hand_over(message_id)
            except Exception:
                logger.exception("inbound %s: could not even hand it to staff; the sweep will", message_id)
        finally:
            self._queued.discard(message_id)

    async def _turn(self, message_id: int, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        triage = await self._in(self._work_pool, self._claim_and_triage, message_id)
        if triage is None:
            return  # another server (or an earlier run) has it
        sender_id, sid = triage.sender_id, triage.message_sid
        await self._send_now(triage.outbound_ids)
        if not triage.pass_to_rasa:
            return  # triage ended it (keyword, picture, empty text) and recorded how
        metadata = {
            "message_sid": sid,
            "inbound_id": message_id,
            "num_media": triage.num_media,
            "paused_ticket_id": triage.paused_ticket_id,
            "opened_ticket_id": triage.opened_ticket_id,
            inbound.WHOLE_TEXT_KEY: triage.whole_text,
        }
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
                await self._in(self._work_pool, self._record_attempt, message_id)  # the claim counted the first
            try:
                text = await self._ask_rasa(triage, metadata, sender_id, sid, on_new_message)
            except TurnFailed as failure:
                logger.warning("inbound %s from %s: turn %d failed (%s)", sid, mask_phone(sender_id), attempt, failure)
                continue
            intent, confidence = await self._prediction(metadata, sender_id, sid)
            reply = None if triage.paused_ticket_id is not None else text  # staff have it: nothing Rasa said goes
            claim = reply is not None and self.sender.reserve_turn()
            claimed = await self._in(self._work_pool, self._finish, message_id, reply, triage.was_opted_out,
                                     intent, confidence, claim)
            if claimed is not None:
                await self._in(self._send_pool, self.sender.send_claimed, claimed)
            return
        logger.error("inbound %s from %s: Rasa failed %d times; handing it to staff with a holding reply",
                     sid, mask_phone(sender_id), 1 + len(self.retry_delays))
        await self._hand_over(message_id)

    async def _ask_rasa(self, triage: inbound.Triage, metadata: dict, sender_id: str, sid: str,
                        on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> str:
        """One try of the turn; the bot's reply, or TurnFailed."""
        collector = CollectingOutputChannel()
        try:
            await on_new_message(UserMessage(triage.nlu_text, collector, sender_id=sender_id,
                                             input_channel=self.name(), message_id=sid, metadata=metadata))
        except Exception as error:
            logger.exception("inbound %s: Rasa raised", sid)
            raise TurnFailed(error.__class__.__name__) from error
        text = reply_text(collector.messages)
        if not text and triage.paused_ticket_id is None:
            # Every answer of the bot says something; silence means the action server failed
            # (Rasa logs it and goes on) or Rasa holds the conversation paused with no ticket open.
            raise TurnFailed("the bot said nothing")
        return text

    async def _prediction(self, metadata: dict, sender_id: str, sid: str) -> tuple[str | None, float | None]:
        """What the NLU made of this text, kept with the text for `review-nlu`.

        The project's last NLU component leaves it in the message metadata; with
        another pipeline it is read back from Rasa's tracker.
        """
        parsed = metadata.get(PARSED_INTENT_KEY)
        if isinstance(parsed, dict):
            return parsed.get("name"), parsed.get("confidence")
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None, None
        try:
            tracker = await store.retrieve(sender_id)
        except Exception:
            logger.exception("could not read the tracker of %s", mask_phone(sender_id))
            return None, None
        for event in reversed(tracker.events if tracker else []):
            if isinstance(event, UserUttered) and event.message_id == sid:
                return event.intent.get("name"), event.intent.get("confidence")
        return None, None

    async def _hand_over(self, message_id: int) -> None:
        outbound_ids = await self._in(self._work_pool, self._hand_to_staff, message_id)
        await self._send_now(outbound_ids)

    async def _send_now(self, outbound_ids: list[int]) -> None:
        """Send on the send threads, never sleeping; a row that cannot go now stays for the sender loop."""
        if not outbound_ids:
            return
        try:
            await self._in(self._send_pool, self.sender.send_now, outbound_ids)
        except Exception:
            logger.exception("outbox %s: immediate send failed; the outbox sender will retry", outbound_ids)

    # ----- database use cases (run on the channel's threads) ---------------------------
    def _claim_and_triage(self, message_id: int) -> inbound.Triage | None:
        with transaction(self.engine) as session:
            return inbound.claim_and_triage(session, message_id, now=self.clock(),
                                            advanced_opt_out=self.settings.twilio_advanced_opt_out)

    def _record_attempt(self, message_id: int) -> int:
        with transaction(self.engine) as session:
            return inbound.record_attempt(session, message_id, self.clock())

    def _hand_to_staff(self, message_id: int) -> list[int]:
        """Ticket and holding reply for a text the bot could not answer; the reply's outbox id."""
        with transaction(self.engine) as session:
            message = session.get(InboundMessage, message_id)
            if message.status == "processed" or message.outcome is not None:
                return []  # it did end after all (a reply was stored)
            ticket = inbound.hand_to_staff(session, message, self.clock())
            return [row.id for row in outbox.pending_for_ticket(session, ticket.id)]

    def _orphans(self) -> list[tuple[int, str, str]]:
        with transaction(self.engine) as session:
            for message in inbound.hand_stuck_texts_to_staff(
                    session, self.clock(), timedelta(seconds=self.settings.turn_timeout_seconds)):
                logger.error("inbound %s from %s was never answered (%s); handed to staff",
                             message.message_sid, mask_phone(message.phone), message.status)
            return [(m.id, m.phone, m.message_sid) for m in inbound.unclaimed_texts(session, self.clock())]

    def _finish(self, message_id: int, reply: str | None, was_opted_out: bool, intent: str | None,
                confidence: float | None, claim: bool) -> "Claimed | None":
        """The turn's end in one transaction: its reply stored (claimed for sending right away when
        ``claim``) and the text marked with its outcome."""
        with transaction(self.engine) as session:
            row, _ = inbound.finish_turn(session, message_id, self.clock(), reply=reply, was_opted_out=was_opted_out,
                                         intent=intent, confidence=confidence,
                                         claimed_by=self.sender.sender_id if claim else None)
            return Claimed.of(row) if row is not None and row.status == OutboundStatus.SENDING else None

    # ----- helpers ----------------------------------------------------------------------
    async def _in(self, pool: ThreadPoolExecutor, function: Callable[..., Any], *args: Any) -> Any:
        return await in_pool(pool, function, *args)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait for the background work of every text received so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
