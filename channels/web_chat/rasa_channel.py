"""The web chat channel: the practice website's chat widget talks to the assistant through this API.

Registered in ``credentials.yml`` as ``channels.web_chat.rasa_channel.WebChatChannel:``; Rasa mounts it
at ``/webhooks/web_chat/``:

- ``POST /session``: a new anonymous chat: ``{"chat_id", "token"}`` (201).
- ``POST /messages`` ``{"chat_id", "token", "text", "id"?}``: the visitor's message, stored first
  (:func:`bot.messaging.web_chat.receive_message`), then the same turn as a text (claim, triage, Rasa, one
  reply into the outbox) as :class:`~channels.sms_twilio.rasa_channel.TwilioChannel` runs it (202).
- ``GET /events?chat_id=&token=``: server-sent events, one per outbound row of the conversation (the bot's
  replies, staff's replies), read from the DATABASE every :data:`POLL_SECONDS`, so any server serves any
  chat. A row streamed is marked delivered; ``Last-Event-ID`` (or ``last_event_id=``) resumes after it.
- ``POST /verify`` ``{"chat_id", "token", "phone"}``: a 6-digit code texted to that phone (202; 10 minutes);
  ``POST /verify/check`` ``{"chat_id", "token", "code"}``: 200 ``{"verified": true}``, or 400 ``wrong_code``
  (with ``tries_left``), 410 ``code_expired``, 429 ``too_many_tries``, 409 ``no_code``.
- ``GET /widget.js``, ``/widget.css``: the widget; ``GET /sample``: a sample practice page showing it.

Refusals are JSON ``{"error", "detail"}``: an Origin not in ``WEB_CHAT_ORIGINS`` 403, a message over
1,600 characters 413, a flood (per chat, per client address) 429, an unknown chat 404, another visitor's
token 403, a chat idle for 30 minutes 410.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import wording
from bot.db import transaction
from bot.messaging import outbox, web_chat
from bot.practice import format_phone, get_practice
from channels.sms_twilio.rasa_channel import TwilioChannel, utcnow
from channels.sms_twilio.receiver import in_pool

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
POLL_SECONDS = 0.3           # how often a stream looks for new rows
STREAM_SECONDS = 55.0        # a stream ends after this; the browser reconnects with Last-Event-ID
MAX_REQUEST_BYTES = 16_384   # a message of 1,600 characters in JSON is far smaller
# The widget's own words, from the wording catalog (served at /strings in the page's language).
WIDGET_TEXTS = (
    "widget_open", "widget_close", "widget_welcome", "widget_message_label", "widget_send", "widget_verify",
    "widget_phone_label", "widget_send_code", "widget_code_label", "widget_check_code", "widget_code_sent",
    "widget_verified", "widget_wrong_code", "widget_code_dead", "widget_expired", "widget_new_chat",
    "widget_error", "widget_too_many", "widget_you", "widget_us",
)
STATUS_OF = {
    web_chat.ChatNotFound: 404, web_chat.WrongToken: 403, web_chat.ChatExpired: 410,
    web_chat.TooLong: 413, web_chat.Flooded: 429, web_chat.NotAPhone: 400,
}


class StreamDelivery:
    """The web chat's "sender" for the turn machinery: nothing is pushed; the event stream delivers."""

    sender_id = "web-chat-stream"

    def reserve_turn(self) -> bool:
        return False  # the reply stays pending until a stream hands it to the widget

    def send_now(self, outbound_ids) -> int:
        return 0

    def send_claimed(self, row) -> bool:
        return False


def refusal(status: int, error: str, detail: str = "", origin: str | None = None) -> HTTPResponse:
    return response.json({"error": error, "detail": detail or error}, status=status, headers=cors_headers(origin))


def cors_headers(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Headers": "Content-Type, Last-Event-ID",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Max-Age": "600"}


class WebChatChannel(TwilioChannel):
    """The chat widget's API over the SMS channel's turn machinery (store, claim, triage, Rasa, outbox)."""

    @classmethod
    def name(cls) -> Text:
        return "web_chat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatChannel":
        """Everything comes from :mod:`bot.settings` (``WEB_CHAT_ORIGINS``); credentials.yml holds no values."""
        return cls()

    def __init__(self, settings=None, engine=None, clock=utcnow, retry_delays=None) -> None:
        kwargs = {} if retry_delays is None else {"retry_delays": retry_delays}
        super().__init__(settings=settings, engine=engine, sender=StreamDelivery(), clock=clock, **kwargs)
        self.poll_seconds = POLL_SECONDS
        self.stream_seconds = STREAM_SECONDS

    # ----- HTTP ---------------------------------------------------------------------
    def allowed_origin(self, request: Request) -> str | None:
        origin = (request.headers.get("origin") or "").rstrip("/")
        return origin if origin in self.settings.web_chat_origins else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        chat = Blueprint("web_chat", __name__)

        def guarded(handler, *, origin_required: bool = True):
            """Origin allow-list and size limit first, then ``handler(request, origin, body)``; refusals as JSON."""
            async def run(request: Request, *args) -> HTTPResponse:
                origin = self.allowed_origin(request)
                if origin is None and (origin_required or request.headers.get("origin")):
                    return refusal(403, "origin_not_allowed", "this site may not use the chat")
                if int(request.headers.get("content-length") or 0) > MAX_REQUEST_BYTES:
                    return refusal(413, "message_too_long", "request too large", origin)
                body: dict = {}
                if request.method == "POST":
                    try:
                        body = json.loads(request.body or b"{}")
                    except ValueError:
                        return refusal(400, "bad_request", "a JSON body is required", origin)
                    if not isinstance(body, dict):
                        return refusal(400, "bad_request", "a JSON object is required", origin)
                try:
                    return await handler(request, origin, body)
                except web_chat.ChatRefused as refused:
                    return refusal(STATUS_OF.get(type(refused), 400), refused.reason, refused.detail, origin)
            run.__name__ = handler.__name__
            return run

        @chat.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "channel": "web_chat"})

        async def preflight(request: Request) -> HTTPResponse:
            origin = self.allowed_origin(request)
            if origin is None:
                return refusal(403, "origin_not_allowed", "this site may not use the chat")
            return response.empty(headers=cors_headers(origin))

        for path in ("session", "messages", "events", "verify", "verify/check"):
            chat.add_route(preflight, f"/{path}", methods=["OPTIONS"], name=f"preflight_{path.replace('/', '_')}")

        async def open_session(request: Request, origin: str, body: dict) -> HTTPResponse:
            chat_id, token = await in_pool(self._work_pool, self._open, client_address(request), origin)
            return response.json({"chat_id": chat_id, "token": token,
                                  "idle_timeout_seconds": int(web_chat.IDLE_TIMEOUT.total_seconds())},
                                 status=201, headers=cors_headers(origin))

        async def post_message(request: Request, origin: str, body: dict) -> HTTPResponse:
            self._app = request.app
            text = body.get("text")
            if not isinstance(text, str):
                return refusal(400, "bad_request", "text is required", origin)
            message_id, is_new = await in_pool(self._work_pool, self._receive, str(body.get("chat_id") or ""),
                                               body.get("token"), text, client_address(request),
                                               body.get("id") and str(body["id"]))
            if is_new:
                self._start(message_id, on_new_message)
            return response.json({"accepted": message_id}, status=202, headers=cors_headers(origin))

        async def events(request: Request, origin: str | None, body: dict) -> HTTPResponse:
            chat_id, token = request.args.get("chat_id", ""), request.args.get("token")
            last = last_event_id(request)
            await in_pool(self._work_pool, self._replies, chat_id, token, last)  # refused before the stream opens
            stream = await request.respond(content_type="text/event-stream; charset=utf-8",
                                           headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                                    **cors_headers(origin)})
            await stream.send("retry: 1000\n\n")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.stream_seconds
            while loop.time() < deadline:
                try:
                    rows = await in_pool(self._work_pool, self._replies, chat_id, token, last)
                except web_chat.ChatExpired:
                    await stream.send("event: expired\ndata: {}\n\n")
                    break
                if not rows:
                    await asyncio.sleep(self.poll_seconds)
                    continue
                written: list[int] = []
                try:
                    for row in rows:
                        written.append(row["id"])
                        await stream.send(f"id: {row['id']}\nevent: message\ndata: {json.dumps(row)}\n\n")
                finally:
                    # Marked even when the visitor hangs up mid-write (the handler is cancelled then): the
                    # widget resumes by Last-Event-ID, so the mark records delivery and never decides it.
                    marked = self._work_pool.submit(self._streamed, written)
                    marked.add_done_callback(log_failed_mark)
                await asyncio.shield(asyncio.wrap_future(marked))  # a hang-up must not cancel the mark
                last = rows[-1]["id"]
            await stream.eof()

        async def verify(request: Request, origin: str, body: dict) -> HTTPResponse:
            await in_pool(self._work_pool, self._request_code, str(body.get("chat_id") or ""), body.get("token"),
                          str(body.get("phone") or ""), client_address(request))
            return response.json({"sent": True, "expires_in_seconds": int(web_chat.CODE_LIFETIME.total_seconds())},
                                 status=202, headers=cors_headers(origin))

        async def verify_check(request: Request, origin: str, body: dict) -> HTTPResponse:
            result, left = await in_pool(self._work_pool, self._check_code, str(body.get("chat_id") or ""),
                                         body.get("token"), str(body.get("code") or ""))
            if result == web_chat.CodeCheck.VERIFIED:
                return response.json({"verified": True}, headers=cors_headers(origin))
            status = {web_chat.CodeCheck.WRONG: 400, web_chat.CodeCheck.EXPIRED: 410,
                      web_chat.CodeCheck.LOCKED: 429, web_chat.CodeCheck.NO_CODE: 409}[result]
            return response.json({"error": result.value, "detail": result.value, "tries_left": left},
                                 status=status, headers=cors_headers(origin))

        chat.add_route(guarded(verify), "/verify", methods=["POST"])
        chat.add_route(guarded(verify_check), "/verify/check", methods=["POST"])
        chat.add_route(guarded(open_session), "/session", methods=["POST"])
        chat.add_route(guarded(post_message), "/messages", methods=["POST"])
        chat.add_route(guarded(events, origin_required=False), "/events", methods=["GET"])

        @chat.route("/strings", methods=["GET"])
        async def strings(request: Request) -> HTTPResponse:
            """The widget's words in ``language`` (English when the catalog has none): static, any origin."""
            words = await in_pool(self._work_pool, self._widget_words, request.args.get("language", "en"))
            return response.json(words, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"})

        @chat.route("/widget.js", methods=["GET"])
        async def widget_js(_: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.js", mime_type="text/javascript; charset=utf-8")

        @chat.route("/widget.css", methods=["GET"])
        async def widget_css(_: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.css", mime_type="text/css; charset=utf-8")

        @chat.route("/sample", methods=["GET"])
        async def sample(_: Request) -> HTTPResponse:
            return await response.file(STATIC / "sample.html", mime_type="text/html; charset=utf-8")

        @chat.listener("after_server_start")
        async def start_sweeping(app, loop) -> None:
            self._app = app
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(on_new_message))

        return chat

    # ----- database use cases (run on the channel's threads) ---------------------------
    def _open(self, address: str, origin: str) -> tuple[str, str]:
        with transaction(self.engine) as session:
            chat, token = web_chat.open_chat(session, client_address=address, origin=origin, now=self.clock())
            return chat.chat_id, token

    def _receive(self, chat_id: str, token: Any, text: str, address: str, client_id: str | None) -> tuple[int, bool]:
        now = self.clock()
        with transaction(self.engine) as session:
            chat = web_chat.chat_for(session, chat_id, token if isinstance(token, str) else None, now)
            message, is_new = web_chat.receive_message(session, chat, text, client_address=address, now=now,
                                                       client_message_id=client_id)
            return message.id, is_new

    def _request_code(self, chat_id: str, token: Any, phone: str, address: str) -> None:
        now = self.clock()
        with transaction(self.engine) as session:
            chat = web_chat.chat_for(session, chat_id, token if isinstance(token, str) else None, now)
            web_chat.request_code(session, chat, phone, client_address=address, now=now)

    def _check_code(self, chat_id: str, token: Any, code: str) -> tuple[web_chat.CodeCheck, int]:
        now = self.clock()
        with transaction(self.engine) as session:  # a wrong try is committed: it counts
            chat = web_chat.chat_for(session, chat_id, token if isinstance(token, str) else None, now)
            return web_chat.check_code(session, chat, code, now)

    def _widget_words(self, language: str) -> dict[str, str]:
        with transaction(self.engine) as session:
            practice = get_practice(session)
            language = wording.language_or_default(language[:10])
            words = {name: wording.render(name, language, practice_name=practice.name,
                                          practice_phone=format_phone(practice.phone)) for name in WIDGET_TEXTS}
            return {"language": language, **words}

    def _replies(self, chat_id: str, token: str | None, after: int) -> list[dict]:
        with transaction(self.engine) as session:
            chat = web_chat.chat_for(session, chat_id, token, self.clock())
            return [{"id": row.id, "text": row.body, "from": outbox.transcript_label(row.kind),
                     "at": row.created_at.isoformat()} for row in web_chat.replies_after(session, chat, after)]

    def _streamed(self, outbound_ids: list[int]) -> int:
        with transaction(self.engine) as session:
            return web_chat.mark_streamed(session, outbound_ids, self.clock())


def log_failed_mark(done) -> None:
    if done.exception() is not None:
        logger.error("could not mark streamed web chat rows delivered", exc_info=done.exception())


def client_address(request: Request) -> str:
    """The visitor's address as the server sees it (behind a proxy: what Sanic's forwarding settings give)."""
    return str(request.remote_addr or request.ip or "unknown")


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.args.get("last_event_id") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        return 0
