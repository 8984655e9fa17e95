"""Receiving Twilio's webhooks: size limits, signatures, and storing each text before anything else.

Used by the Rasa input channel (:mod:`channels.sms_twilio.rasa_channel`) and by the SMS
gateway (:mod:`channels.sms_twilio.gateway`), a small server of its own whose event loop
does nothing but this, so a busy assistant can never delay storing a text. It imports
nothing of Rasa.

A body larger than :data:`MAX_BODY_BYTES` (judged by its Content-Length, before a byte
is read) or with more than :data:`MAX_FIELDS` fields gets 413 and is never parsed or
hashed; then the signature (403); then the text is committed (:class:`StoreQueue`: the
texts arriving together share one short transaction on the receiver's own thread);
then Twilio gets an empty TwiML 200.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.messaging import inbound, outbox
from bot.settings import Settings
from channels.sms_twilio.client import is_valid_signature

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Twilio's form for a 1,600-character text with ten pictures is well under 16 KB and ~60 fields.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 200

GATEWAY_SIGNATURE_HEADER = "X-Gateway-Signature"


def gateway_signature(auth_token: str, body: bytes) -> str:
    """HMAC-SHA256 of a gateway-to-Rasa request body, keyed with the Twilio auth token both sides hold."""
    return hmac.new(auth_token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_valid_gateway_signature(auth_token: str, body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(gateway_signature(auth_token, body), signature)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StoreQueue:
    """Stores the texts that arrive together in one transaction: one disk sync for many texts.

    Under a burst, 64 webhooks waiting for 64 commits (each a disk sync, each waiting
    for the write lock) is what made Twilio wait seconds; one thread takes every text
    waiting at that moment and commits them at once. Each webhook still answers only
    after its own text is committed. Should the joint transaction fail, each text is
    tried on its own, so one bad text never holds back the others.
    """

    MAX_BATCH = 100

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self._waiting: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="sms-store", daemon=True).start()

    async def store(self, form: dict[str, str]) -> tuple[int, bool]:
        """(inbound id, is_new) once the text is committed."""
        done: Future = Future()
        self._waiting.put((form, done))
        return await asyncio.wrap_future(done)

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                with transaction(self.engine) as session:
                    results = [self._store(session, form) for form, _ in batch]
            except Exception:
                logger.exception("storing %d texts together failed; storing each on its own", len(batch))
                for form, done in batch:
                    try:
                        with transaction(self.engine) as session:
                            done.set_result(self._store(session, form))
                    except Exception as error:
                        done.set_exception(error)
                continue
            for (_, done), result in zip(batch, results):
                done.set_result(result)

    def _store(self, session: Session, form: dict[str, str]) -> tuple[int, bool]:
        message, is_new = inbound.store_inbound(
            session,
            message_sid=form["MessageSid"],
            phone=form["From"],
            to_number=form.get("To"),
            body=form.get("Body", ""),
            media=inbound.media_from_form(form),
            now=self.clock(),
            opt_out_type=form.get("OptOutType"),
        )
        return message.id, is_new


class SmsReceiver:
    """Twilio's text and status webhooks, checked and stored; threads of its own."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.store_queue = StoreQueue(engine, clock)
        self.status_pool = ThreadPoolExecutor(2, thread_name_prefix="sms-status")

    async def receive_text(self, request: Request, stored: Callable[[int], None]) -> HTTPResponse:
        """Check, store and acknowledge one text; ``stored(inbound_id)`` is called for a new one."""
        body = await read_limited_body(request)
        if body is None:
            return response.text("request too large for a text message", status=413)
        form = self.signed_form(request, body)
        if form is None:
            return response.text("invalid Twilio signature", status=403)
        if not form.get("MessageSid") or not form.get("From"):
            return response.text("MessageSid and From are required", status=400)
        message_id, is_new = await self.store_queue.store(form)
        if is_new:
            stored(message_id)
        else:
            logger.info("inbound %s is a retry of a stored text; not processed again", form["MessageSid"])
        return response.text(EMPTY_TWIML, content_type="text/xml")

    async def receive_status(self, request: Request) -> HTTPResponse:
        """A delivery status for one of our texts (its row id rides in the URL: ``?outbound_id=N``)."""
        body = await read_limited_body(request)
        if body is None:
            return response.text("request too large for a status callback", status=413)
        form = self.signed_form(request, body)
        if form is None:
            return response.text("invalid Twilio signature", status=403)
        outbound_id = request.args.get("outbound_id")
        await in_pool(self.status_pool, self._apply_status, form,
                      int(outbound_id) if outbound_id and outbound_id.isdigit() else None)
        return response.text("", status=200)

    async def health(self, name: str) -> HTTPResponse:
        report = await in_pool(self.status_pool, self._health, name)
        return response.json(report, status=200 if report["status"] == "ok" else 503)

    def signed_form(self, request: Request, body: bytes) -> dict[str, str] | None:
        """The form fields if Twilio signed them, else None (see :func:`signed_form`)."""
        return signed_form(self.settings, request, body)

    # ----- database work (on the receiver's threads) ------------------------------------
    def _apply_status(self, form: dict[str, str], outbound_id: int | None) -> None:
        code = form.get("ErrorCode")
        with transaction(self.engine) as session:
            row = outbox.apply_status_callback(
                session, sid=form.get("MessageSid", ""), twilio_status=form.get("MessageStatus", ""),
                error_code=int(code) if code and code.isdigit() else None,
                now=self.clock(), outbound_id=outbound_id,
            )
        if row is None:
            logger.info("status %s for unknown message %s ignored", form.get("MessageStatus"), form.get("MessageSid"))

    def _health(self, name: str) -> dict:
        with transaction(self.engine) as session:
            return {"service": name, **outbox.outbox_health(session, self.clock()).as_dict()}


def signed_form(settings: Settings, request: Request, body: bytes) -> dict[str, str] | None:
    """The form fields if Twilio signed them, else None (and a warning in the log): every Twilio webhook's check.

    The signature covers the public URL Twilio was given (PUBLIC_BASE_URL +
    path + query), which differs from what this server sees behind a proxy.
    Blank fields count, so the body is parsed here, keeping them.
    """
    url = settings.public_base_url + request.path
    if request.query_string:
        url += "?" + request.query_string
    params = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    if not is_valid_signature(settings.twilio_auth_token, url, params, request.headers.get("X-Twilio-Signature")):
        logger.warning("refused a request to %s with a missing or wrong Twilio signature", request.path)
        return None
    return {name: values[0] for name, values in params.items()}


async def in_pool(pool: ThreadPoolExecutor, function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(function, *args))


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` or has more than MAX_FIELDS fields.

    Read from the stream (the route is ``stream=True``), so an oversized body is refused
    from its Content-Length before a byte of it is read, and never parsed or hashed.
    """
    stream = request.stream
    if stream is None:  # a route without stream=True: Sanic has read the body already
        body = request.body or b""
        return None if len(body) > limit or body.count(b"&") >= MAX_FIELDS else body
    stream.request_max_size = limit  # Sanic stops reading (and closes) past it
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        return None
    chunks, size = [], 0
    try:
        async for chunk in request.stream:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except Exception:  # Sanic's PayloadTooLarge for a chunked body past the limit
        return None
    body = b"".join(chunks)
    if body.count(b"&") >= MAX_FIELDS:
        return None
    return body
