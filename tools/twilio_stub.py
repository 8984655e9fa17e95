"""A local stand-in for Twilio's SMS API (and a caller's side of its voice webhooks), for development and tests.

The project talks to it with the real twilio SDK (``make_twilio_client(..., api_base=stub.base_url)``)
and receives real, signed Twilio webhooks from it. It does only what Twilio does
for SMS that this project relies on:

Twilio's Messages API (HTTP Basic auth = account SID + auth token)
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json        create (201 Message resource)
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json        list (To, From, DateSent, DateSent>, DateSent<, PageSize, Page)
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  fetch
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}/Media/{MediaSid}  a picture (a small PNG), the
         way the inbox fetches a patient's MMS media with the account's credentials
  Errors use Twilio's JSON shape and codes: 20003 (401), 20404, 21211 (bad To),
  21602/21603/21604 (missing Body/From/To), 21610 (opted-out recipient), 21617 (too long).
  Accepted messages move queued -> sent -> delivered (or undelivered, ErrorCode 30003,
  for numbers in ``fail_delivery_to``) in a background thread; each step is POSTed,
  signed, to the message's StatusCallback if it had one.

What a phone would do
    POST /_stub/call      {"from", "to"?, "dial_status"? ("no-answer"), "signature"?, "unsigned"?}
      -> a call to the practice number: POSTs Twilio's signed voice webhook ("A call comes in",
         config ``voice_url``), reads the <Dial> in its TwiML and, as if the front desk did what
         ``dial_status`` says (no-answer, busy, failed, canceled, completed), POSTs the signed dial
         ``action`` callback with DialCallStatus. Returns {"call_sid", "webhook_status", "twiml",
         "dial": {"number", "timeout", "action"}, "action_status", "action_response"}; GET /_stub/calls
         lists them.
    POST /_stub/inbound   {"from", "body", "to"?, "media_urls"?, "message_sid"?, "signature"?, "unsigned"?}
      -> POSTs Twilio's signed webhook form to the webhook URL and returns
         {"message_sid", "webhook_status", "opt_out_type", "webhook_response", "twiml_messages"}.
      STOP/START/HELP keywords change the sender's opt-out state and add OptOutType, as Twilio does.
      A TwiML <Message> in the webhook's response is "sent" like Twilio would and recorded.

Test and inspection endpoints (JSON, no auth; loopback only)
    POST /_stub/faults   {"status": 429|500|503, "count": N}  next N creates fail, nothing recorded
    POST /_stub/config   {"create_delay_ms", "callback_delay_ms", "fail_delivery_to", "webhook_url",
                          "phone_number", "webhook_timeout_s"}  returns the whole config
    GET  /_stub/messages[?to=]   accepted outbound messages (Twilio resource + status_callback, media_urls)
    GET  /_stub/inbound[?from=]  inbound texts sent through /_stub/inbound
    GET  /_stub/callbacks        status callbacks attempted (url, params, http status)
    GET  /_stub/conversation?number=   one phone's thread, for the simulator
    GET  /_stub/wait?count=N&timeout=S  returns once N outbound messages were accepted (benchmarks)
    GET  /_stub/contacts, /_stub/info, /_stub/faults
    POST /_stub/hold {"count", "after"?}  let `after` creates through, then record and hold the next
         `count` until POST /_stub/release (GET /_stub/held: how many wait now)
    POST /_stub/reset, /_stub/opt_out {"number"}, /_stub/opt_in {"number"}
    GET  /               the SMS simulator page

Run it:  python -m tools.twilio_stub   (defaults from bot.settings; see --help)
In tests: ``with TwilioStub(webhook_url=...) as stub: ...`` (a free port; ``stub.base_url``).
"""
from __future__ import annotations

import argparse
import base64
import email.utils
import itertools
import json
import logging
import mimetypes
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.privacy import install_log_masking
from channels.sms_twilio.client import signature_for

logger = logging.getLogger(__name__)

# Same as bot.settings' development defaults, so a stub started with no options matches them.
DEFAULT_ACCOUNT_SID = "ACtest0000000000000000000000000000"
DEFAULT_AUTH_TOKEN = "dev-auth-token"
DEFAULT_PHONE_NUMBER = "+15035550199"
WEBHOOK_PATH = "/webhooks/twilio/webhook"
VOICE_PATH = "/webhooks/twilio/voice"
API_VERSION = "2010-04-01"

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
MEDIA_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)/Media/(?P<media>[^/.]+)$")
MAX_BODY_CHARS = 1600

# GSM 03.38 basic set; the extension set costs two septets each.
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: Optional[datetime]) -> Optional[str]:
    return email.utils.format_datetime(moment) if moment else None


def count_segments(body: str) -> int:
    """How many SMS segments Twilio would bill for ``body`` (GSM-7 or UCS-2)."""
    if not body:
        return 1
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in body):
        length = sum(2 if ch in GSM_EXTENSION else 1 for ch in body)
        single, multi = 160, 153
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if length <= single else -(-length // multi)


def media_png(width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG (a blue and white tile): what every stub media URL serves."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"".join(b"\x1f\x77\xb4" if (x // 8 + y // 8) % 2 else b"\xff\xff\xff"
                                       for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def twilio_error(status: int, code: int, message: str) -> dict:
    """The JSON body Twilio returns with an error; the SDK turns it into TwilioRestException."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class StubError(Exception):
    """An HTTP error answer in Twilio's shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = twilio_error(status, code, message)


_sequence = itertools.count(1)


@dataclass
class OutboundMessage:
    """A message the project sent through the Messages API (or as a TwiML reply)."""

    sid: str
    account_sid: str
    to: str
    from_: Optional[str]
    body: str
    messaging_service_sid: Optional[str] = None
    media_urls: list = field(default_factory=list)
    status_callback: Optional[str] = None
    direction: str = "outbound-api"
    status: str = "queued"
    error_code: Optional[int] = None
    error_message: Optional[str] = None
    date_created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    date_updated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    date_sent: Optional[datetime] = None
    seq: int = field(default_factory=lambda: next(_sequence))
    created_epoch: float = field(default_factory=time.time)  # for latency measurements (bench)

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_resource(self) -> dict:
        """Twilio's Message resource JSON, as the SDK expects to parse it."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": str(count_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri[: -len(".json")] + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }

    def to_stub_json(self) -> dict:
        return {**self.to_resource(), "status_callback": self.status_callback, "media_urls": list(self.media_urls),
                "created_epoch": self.created_epoch}


@dataclass
class InboundMessage:
    """A text a phone sent to the practice through ``/_stub/inbound``."""

    sid: str
    from_: str
    to: str
    body: str
    media_urls: list
    opt_out_type: Optional[str]
    params: dict
    webhook_url: Optional[str]
    webhook_status: Optional[int] = None
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    seq: int = field(default_factory=lambda: next(_sequence))

    def to_json(self) -> dict:
        return {
            "sid": self.sid,
            "from": self.from_,
            "to": self.to,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "opt_out_type": self.opt_out_type,
            "params": dict(self.params),
            "webhook_url": self.webhook_url,
            "webhook_status": self.webhook_status,
            "received_at": self.received_at.isoformat(),
        }


def _post_form(url: str, params: dict, signature: Optional[str], timeout: float) -> tuple[int, str, str]:
    """POST ``params`` form-encoded like Twilio does. Returns (status, body text, error); status 0 = unreachable."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": "TwilioProxy/1.1",
        "Accept": "*/*",
    }
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(url, data=urlencode(params, doseq=True).encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), ""
    except (urllib.error.URLError, OSError) as exc:
        return 0, "", str(getattr(exc, "reason", exc))


def _twiml_messages(text: str) -> list[str]:
    """The bodies of <Message> verbs in a TwiML response (empty if it is not TwiML)."""
    if "<Response" not in text:
        return []
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return []
    bodies = []
    for verb in root.iter("Message"):
        body_element = verb.find("Body")
        bodies.append((body_element.text if body_element is not None else verb.text) or "")
    return [body.strip() for body in bodies]


def _twiml_dial(text: str) -> Optional[dict]:
    """The first <Dial> of a TwiML response: its number, timeout and action (None if there is none)."""
    if "<Response" not in text:
        return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    dial = root.find("Dial")
    if dial is None:
        return None
    number = dial.find("Number")
    return {"number": ((number.text if number is not None else dial.text) or "").strip(),
            "timeout": int(dial.get("timeout", "30")), "action": dial.get("action"),
            "method": dial.get("method", "POST")}


def _parse_filter_date(value: str, upper: bool) -> Optional[datetime]:
    """A DateSent filter value as a UTC datetime; a bare date's upper bound covers the whole day."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        if fmt == "%Y-%m-%d" and upper:
            moment += timedelta(days=1) - timedelta(microseconds=1)
        return moment
    return None


class TwilioStub:
    """A Twilio SMS stand-in running a threaded HTTP server; usable in-process from tests.

    ``start()`` binds (port 0 = a free port) and serves in a daemon thread;
    ``base_url`` is then e.g. ``http://127.0.0.1:54321``; ``stop()`` shuts it down.
    It is also a context manager. Every HTTP endpoint is backed by a public method
    here (``messages()``, ``send_inbound()``, ``add_fault()``, ``configure()``...),
    so in-process tests may call those directly.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        webhook_url: Optional[str] = None,
        phone_number: str = DEFAULT_PHONE_NUMBER,
        voice_url: Optional[str] = None,
        contacts: Optional[list] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay_ms: int = 50,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.contacts = list(contacts or [])
        self.host = host
        self.port = port
        self._initial_config = {
            "create_delay_ms": 0,
            "callback_delay_ms": callback_delay_ms,
            "fail_delivery_to": [],
            "webhook_url": webhook_url,
            "phone_number": phone_number,
            "webhook_timeout_s": 15.0,
            "voice_url": voice_url,  # None: the SMS webhook's URL with the voice path
        }
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._reset_state()

    # ----- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("TwilioStub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "TwilioStub":
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _StubRequestHandler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="twilio-stub", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command line uses this)."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _StubRequestHandler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        try:
            self._server.serve_forever()
        finally:
            self._stopping.set()
            self._server.server_close()

    def stop(self) -> None:
        self._stopping.set()
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> "TwilioStub":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ----- test controls ---------------------------------------------------------------
    def _reset_state(self) -> None:
        with self._lock:
            self._messages: list[OutboundMessage] = []
            self._inbound: list[InboundMessage] = []
            self._callbacks: list[dict] = []
            self._opted_out: set[str] = set()
            self._faults: list[dict] = []
            self._calls: list[dict] = []
            self.config = json.loads(json.dumps(self._initial_config))
            self._release_held()
            self._hold_after = 0   # creates to let through before holding
            self._hold_next = 0    # creates to hold (recorded, answered only on release)
            self._held = 0

    def _release_held(self) -> None:
        gate = getattr(self, "_gate", None)
        if gate is not None:
            gate.set()
        self._gate = threading.Event()
        if not hasattr(self, "_held_changed"):
            self._held_changed = threading.Condition(self._lock)

    def reset(self) -> None:
        """Forget all messages, faults, opt-outs and config changes."""
        self._reset_state()

    def configure(self, **changes: Any) -> dict:
        unknown = set(changes) - set(self._initial_config)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        with self._lock:
            self.config.update(changes)
            return dict(self.config)

    def hold(self, count: int = 1, after: int = 0) -> None:
        """Let ``after`` creates through, then hold the next ``count``: each is recorded (Twilio
        has the text) but its answer waits until :meth:`release`, so a client times out or a
        process is killed exactly while Twilio holds a text it has no SID for."""
        with self._lock:
            self._hold_after, self._hold_next = after, count

    def held(self) -> int:
        """How many creates are waiting for :meth:`release` right now."""
        with self._lock:
            return self._held

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Block until ``count`` creates are held (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._held_changed:
            while self._held < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._held_changed.wait(remaining)
            return True

    def release(self) -> None:
        """Answer every held create (and hold no more)."""
        with self._lock:
            self._hold_next = 0
            self._release_held()

    def add_fault(self, status: int, count: int = 1, code: Optional[int] = None, message: Optional[str] = None) -> None:
        """Make the next ``count`` message creations fail with HTTP ``status`` (nothing is recorded)."""
        defaults = {429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error"), 503: (20503, "Service Unavailable")}
        default_code, default_message = defaults.get(status, (status * 100, "Stub injected fault"))
        with self._lock:
            self._faults.append(
                {"status": int(status), "remaining": int(count), "code": code or default_code, "message": message or default_message}
            )

    def faults(self) -> list[dict]:
        with self._lock:
            return [dict(f) for f in self._faults if f["remaining"] > 0]

    def opt_out(self, number: str) -> None:
        with self._lock:
            self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        with self._lock:
            self._opted_out.discard(number)

    def is_opted_out(self, number: str) -> bool:
        with self._lock:
            return number in self._opted_out

    def wait_for_messages(self, count: int, timeout: float = 30.0) -> int:
        """Block until at least ``count`` messages were accepted (or ``timeout``); returns how many there are."""
        deadline = time.monotonic() + timeout
        with self._held_changed:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._held_changed.wait(min(remaining, 0.5))
            return len(self._messages)

    def messages(self, to: Optional[str] = None) -> list[dict]:
        """Accepted outbound messages, oldest first, as Twilio resources plus status_callback and media_urls."""
        with self._lock:
            return [m.to_stub_json() for m in self._messages if to is None or m.to == to]

    def inbound_messages(self, from_: Optional[str] = None) -> list[dict]:
        with self._lock:
            return [m.to_json() for m in self._inbound if from_ is None or m.from_ == from_]

    def callbacks(self) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._callbacks]

    def conversation(self, number: str) -> dict:
        """One phone's thread with the practice, oldest first, for the simulator page."""
        with self._lock:
            items = [
                {
                    "direction": "inbound",
                    "sid": m.sid,
                    "body": m.body,
                    "media_urls": list(m.media_urls),
                    "at": m.received_at.isoformat(),
                    "webhook_status": m.webhook_status,
                    "opt_out_type": m.opt_out_type,
                    "seq": m.seq,
                }
                for m in self._inbound
                if m.from_ == number
            ] + [
                {
                    "direction": "outbound",
                    "sid": m.sid,
                    "body": m.body,
                    "media_urls": list(m.media_urls),
                    "at": m.date_created.isoformat(),
                    "status": m.status,
                    "error_code": m.error_code,
                    "via": m.direction,
                    "seq": m.seq,
                }
                for m in self._messages
                if m.to == number
            ] + [
                {"direction": "call", "sid": c["call_sid"], "dial_status": c["dial_status"], "at": c["at"],
                 "webhook_status": c.get("webhook_status"), "seq": c["seq"]}
                for c in self._calls
                if c["from"] == number
            ]
            items.sort(key=lambda item: item["seq"])
            return {"number": number, "opted_out": number in self._opted_out, "items": items}

    # ----- Messages API ----------------------------------------------------------------
    def check_auth(self, authorization: Optional[str]) -> None:
        if authorization and authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            if secrets.compare_digest(user.encode(), self.account_sid.encode()) and secrets.compare_digest(
                password.encode(), self.auth_token.encode()
            ):
                return
        error = StubError(401, 20003, "Authenticate")
        error.body["detail"] = "Your AccountSid or AuthToken was incorrect."
        raise error

    def check_account(self, account_sid: str, path: str) -> None:
        if account_sid != self.account_sid:
            raise StubError(404, 20404, f"The requested resource {path} was not found")

    def create_message(self, form: dict[str, list[str]]) -> OutboundMessage:
        """Validate and record a message like POST Messages.json; raises StubError on refusal.

        A pending fault wins over validation (and records nothing). The message is
        recorded before ``create_delay_ms`` is slept, so a client that times out
        still leaves a sent message behind, as with a real network failure.
        """

        def first(name: str) -> Optional[str]:
            values = form.get(name) or []
            return values[0] if values else None

        with self._lock:
            for fault in self._faults:
                if fault["remaining"] > 0:
                    fault["remaining"] -= 1
                    raise StubError(fault["status"], fault["code"], fault["message"])

            to, from_, service = first("To"), first("From"), first("MessagingServiceSid")
            body, media_urls = first("Body") or "", list(form.get("MediaUrl") or [])
            if not to:
                raise StubError(400, 21604, "A 'To' phone number is required.")
            if not E164.match(to):
                raise StubError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            if not from_ and not service:
                raise StubError(400, 21603, "A 'From' phone number is required.")
            if not body and not media_urls:
                raise StubError(400, 21602, "Message body is required.")
            if len(body) > MAX_BODY_CHARS:
                raise StubError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
            if to in self._opted_out:
                raise StubError(400, 21610, "Attempt to send to unsubscribed recipient")

            message = OutboundMessage(
                sid=new_sid("SM"),
                account_sid=self.account_sid,
                to=to,
                from_=from_,
                body=body,
                messaging_service_sid=service,
                media_urls=media_urls,
                status_callback=first("StatusCallback"),
            )
            self._messages.append(message)
            self._held_changed.notify_all()
            create_delay = float(self.config["create_delay_ms"]) / 1000
            gate = None
            if self._hold_after > 0:
                self._hold_after -= 1
            elif self._hold_next > 0:
                self._hold_next -= 1
                self._held += 1
                gate = self._gate
                self._held_changed.notify_all()
        if gate is not None:
            gate.wait(timeout=300)
            with self._lock:
                self._held -= 1
        if create_delay > 0:
            time.sleep(create_delay)
        return message

    def start_delivery(self, message: OutboundMessage) -> None:
        """Move the message through its statuses in the background, POSTing each to its StatusCallback."""
        threading.Thread(target=self._deliver, args=(message,), name=f"deliver-{message.sid}", daemon=True).start()

    def _deliver(self, message: OutboundMessage) -> None:
        with self._lock:
            failing = message.to in set(self.config["fail_delivery_to"])
        for status in ("queued", "sent", "undelivered" if failing else "delivered"):
            with self._lock:
                delay = float(self.config["callback_delay_ms"]) / 1000
            if self._stopping.wait(delay):
                return
            with self._lock:
                now = datetime.now(timezone.utc)
                message.status, message.date_updated = status, now
                if status == "sent":
                    message.date_sent = now
                    message.from_ = message.from_ or self.config["phone_number"]
                if status == "undelivered":
                    message.error_code, message.error_message = 30003, "Unreachable destination handset"
                params = {
                    "MessageSid": message.sid,
                    "SmsSid": message.sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": message.to,
                    "From": message.from_ or "",
                    "AccountSid": message.account_sid,
                    "ApiVersion": API_VERSION,
                }
                if message.messaging_service_sid:
                    params["MessagingServiceSid"] = message.messaging_service_sid
                if message.error_code:
                    params["ErrorCode"] = str(message.error_code)
                url = message.status_callback
            if url:
                http_status, _, error = _post_form(url, params, signature_for(self.auth_token, url, params), timeout=10)
                with self._lock:
                    self._callbacks.append({"url": url, "params": params, "http_status": http_status, "error": error})

    def list_messages(self, query: dict[str, list[str]], path: str) -> dict:
        """Twilio's paged list JSON (newest first) for GET Messages.json."""

        def first(name: str) -> Optional[str]:
            values = query.get(name) or []
            return values[0] if values else None

        to, from_ = first("To"), first("From")
        after = _parse_filter_date(first("DateSent>") or "", upper=False)
        before = _parse_filter_date(first("DateSent<") or "", upper=True)
        on_day = first("DateSent")
        page_size = max(1, min(int(first("PageSize") or 50), 1000))
        page = max(0, int(first("Page") or 0))
        with self._lock:
            selected = []
            for m in sorted(self._messages, key=lambda m: m.seq, reverse=True):
                sent = m.date_sent or m.date_created
                if (to and m.to != to) or (from_ and m.from_ != from_):
                    continue
                if (after and sent < after) or (before and sent > before):
                    continue
                if on_day and sent.strftime("%Y-%m-%d") != on_day[:10]:
                    continue
                selected.append(m.to_resource())
        start = page * page_size
        chunk = selected[start : start + page_size]
        base_query = {k: v for k, v in query.items() if k not in ("Page", "PageToken", "PageSize")}

        def page_uri(number: int) -> str:
            return path + "?" + urlencode({**base_query, "PageSize": [str(page_size)], "Page": [str(number)]}, doseq=True)

        return {
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": chunk,
            "next_page_uri": page_uri(page + 1) if start + page_size < len(selected) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }

    def fetch_message(self, sid: str, path: str) -> dict:
        with self._lock:
            for m in self._messages:
                if m.sid == sid:
                    return m.to_resource()
        raise StubError(404, 20404, f"The requested resource {path} was not found")

    # ----- calls (what a phone does when it calls the practice) ---------------------------
    def voice_url(self) -> Optional[str]:
        with self._lock:
            url, webhook = self.config["voice_url"], self.config["webhook_url"]
        if url or not webhook:
            return url
        return webhook[: -len(WEBHOOK_PATH)] + VOICE_PATH if webhook.endswith(WEBHOOK_PATH) else None

    def calls(self) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._calls]

    def call_in(
        self,
        from_: str,
        to: Optional[str] = None,
        dial_status: str = "no-answer",
        signature: Optional[str] = None,
        unsigned: bool = False,
    ) -> dict:
        """Call the practice from ``from_`` as Twilio would: the signed voice webhook, then the <Dial>'s action.

        The front desk "does" ``dial_status``; the action callback is signed for its own URL,
        with the parent call's CallSid, From and To and DialCallStatus (plus DialCallSid and
        DialCallDuration for a completed dial). ``signature``/``unsigned`` forge both requests.
        """
        if not from_:
            raise StubError(400, 21211, "a call needs a From number")
        with self._lock:
            to = to or self.config["phone_number"]
            timeout = float(self.config["webhook_timeout_s"])
        url = self.voice_url()
        sid = new_sid("CA")
        params = {"CallSid": sid, "AccountSid": self.account_sid, "From": from_, "To": to, "Caller": from_,
                  "Called": to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": API_VERSION}
        call: dict[str, Any] = {"call_sid": sid, "from": from_, "to": to, "voice_url": url,
                                "dial_status": dial_status, "at": datetime.now(timezone.utc).isoformat(),
                                "seq": next(_sequence)}
        with self._lock:
            self._calls.append(call)

        def header(target: str, form: dict) -> Optional[str]:
            if unsigned:
                return None
            return signature if signature is not None else signature_for(self.auth_token, target, form)

        if not url:
            call.update(webhook_status=0, webhook_error="the stub has no voice_url configured")
            return dict(call)
        status, text, error = _post_form(url, params, header(url, params), timeout)
        call.update(webhook_status=status, twiml=text[:4000], dial=_twiml_dial(text))
        if error:
            call["webhook_error"] = error
        action = (call["dial"] or {}).get("action")
        if 200 <= status < 300 and action:
            dial_params = {**params, "CallStatus": "in-progress", "DialCallStatus": dial_status}
            if dial_status == "completed":
                dial_params.update(DialCallSid=new_sid("CA"), DialCallDuration="42")
            action_status, action_text, action_error = _post_form(action, dial_params, header(action, dial_params),
                                                                  timeout)
            call.update(action_status=action_status, action_response=action_text[:4000])
            if action_error:
                call["action_error"] = action_error
        return dict(call)

    # ----- inbound (what a phone does) --------------------------------------------------
    def send_inbound(
        self,
        from_: str,
        body: str = "",
        to: Optional[str] = None,
        media_urls: Iterable[str] = (),
        message_sid: Optional[str] = None,
        signature: Optional[str] = None,
        unsigned: bool = False,
    ) -> dict:
        """Deliver a text from ``from_`` to the webhook exactly as Twilio would, signed.

        Opt-out keywords update the stub's opt-out list before the webhook is called.
        ``signature`` overrides the computed one, ``unsigned`` omits the header and
        ``message_sid`` replays an earlier MessageSid (Twilio retries do that).
        """
        if not from_ or not E164.match(from_):
            raise StubError(400, 21211, f"The 'From' number {from_} is not a valid phone number.")
        media_urls = list(media_urls)
        keyword = body.strip().upper()
        opt_out_type = None
        with self._lock:
            to = to or self.config["phone_number"]
            webhook_url = self.config["webhook_url"]
            timeout = float(self.config["webhook_timeout_s"])
            if keyword in OPT_OUT_KEYWORDS:
                opt_out_type = "STOP"
                self._opted_out.add(from_)
            elif keyword in OPT_IN_KEYWORDS:
                opt_out_type = "START"
                self._opted_out.discard(from_)
            elif keyword in HELP_KEYWORDS:
                opt_out_type = "HELP"

        sid = message_sid or new_sid("SM")
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media_urls)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": to,
            "ToZip": "",
            "NumSegments": str(count_segments(body)),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        for index, url in enumerate(media_urls):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = mimetypes.guess_type(urlsplit(url).path)[0] or "image/jpeg"
        if opt_out_type:
            params["OptOutType"] = opt_out_type

        inbound = InboundMessage(sid, from_, to, body, media_urls, opt_out_type, params, webhook_url)
        with self._lock:
            self._inbound.append(inbound)

        result: dict[str, Any] = {"message_sid": sid, "opt_out_type": opt_out_type, "webhook_url": webhook_url}
        if not webhook_url:
            result.update(webhook_status=0, webhook_error="the stub has no webhook_url configured", webhook_response="", twiml_messages=[])
            return result
        if unsigned:
            header = None
        elif signature is not None:
            header = signature
        else:
            header = signature_for(self.auth_token, webhook_url, params)
        status, text, error = _post_form(webhook_url, params, header, timeout)
        with self._lock:
            inbound.webhook_status = status
        replies = []
        if 200 <= status < 300:
            for reply_body in _twiml_messages(text):
                with self._lock:
                    reply = OutboundMessage(
                        sid=new_sid("SM"), account_sid=self.account_sid, to=from_, from_=to, body=reply_body, direction="outbound-reply"
                    )
                    self._messages.append(reply)
                self.start_delivery(reply)
                replies.append(reply.sid)
        result.update(webhook_status=status, webhook_response=text[:4000], twiml_messages=replies)
        if error:
            result["webhook_error"] = error
        return result


class _StubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TwilioStub/1.0"
    wbufsize = -1  # headers and body leave in one write (no Nagle/delayed-ACK stalls on keep-alive)
    disable_nagle_algorithm = True

    @property
    def stub(self) -> TwilioStub:
        return self.server.stub  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        logger.debug("%s %s", self.address_string(), format % args)

    # ----- plumbing --------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, content_type: str = "application/json", headers: Optional[dict] = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json_body(self, raw: bytes) -> dict:
        if not raw.strip():
            return {}
        payload = json.loads(raw)
        if not isinstance(payload, dict):
            raise StubError(400, 400, "expected a JSON object")
        return payload

    def _handle(self, method: str) -> None:
        raw = self._read_body()
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        after_response = None
        headers: dict = {}
        try:
            if path.startswith("/2010-04-01/"):
                status, payload, after_response = self._api(method, path, query, raw)
            else:
                status, payload = self._stub_route(method, path, query, raw)
        except StubError as exc:
            status, payload = exc.status, exc.body
            if exc.status == 429:
                headers["Retry-After"] = "1"
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        except (ValueError, KeyError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request: {exc!r}"}
        try:
            if isinstance(payload, tuple):  # (bytes, content type)
                self._send(status, payload[0], content_type=payload[1], headers=headers)
            else:
                self._send(status, payload, headers=headers)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out); what it asked for still happened
        finally:
            if after_response is not None:
                after_response()

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # ----- Twilio API ------------------------------------------------------------------
    def _api(self, method: str, path: str, query: dict, raw: bytes):
        self.stub.check_auth(self.headers.get("Authorization"))
        match = MESSAGES_PATH.match(path)
        if match:
            self.stub.check_account(match["account"], path)
            if method == "POST":
                form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
                message = self.stub.create_message(form)
                return 201, message.to_resource(), lambda: self.stub.start_delivery(message)
            if method == "GET":
                return 200, self.stub.list_messages(query, path), None
        match = MEDIA_PATH.match(path)
        if match and method == "GET":
            self.stub.check_account(match["account"], path)
            return 200, (media_png(), "image/png"), None
        match = MESSAGE_PATH.match(path)
        if match and method == "GET":
            self.stub.check_account(match["account"], path)
            return 200, self.stub.fetch_message(match["sid"], path), None
        raise StubError(404, 20404, f"The requested resource {path} was not found")

    # ----- stub controls and simulator ----------------------------------------------------
    def _stub_route(self, method: str, path: str, query: dict, raw: bytes):
        stub = self.stub
        one = {key: values[0] for key, values in query.items() if values}
        if method == "GET":
            if path in ("/", "/index.html", "/simulator"):
                html = (Path(__file__).with_name("simulator.html")).read_bytes()
                return 200, (html, "text/html; charset=utf-8")
            if path == "/favicon.ico":
                return 204, (b"", "image/x-icon")
            if path == "/_stub/contacts":
                return 200, stub.contacts
            if path == "/_stub/info":
                return 200, {
                    "account_sid": stub.account_sid,
                    "phone_number": stub.config["phone_number"],
                    "webhook_url": stub.config["webhook_url"],
                    "voice_url": stub.voice_url(),
                }
            if path == "/_stub/messages":
                return 200, stub.messages(to=one.get("to"))
            if path == "/_stub/inbound":
                return 200, stub.inbound_messages(from_=one.get("from"))
            if path == "/_stub/callbacks":
                return 200, stub.callbacks()
            if path == "/_stub/calls":
                return 200, stub.calls()
            if path == "/_stub/faults":
                return 200, stub.faults()
            if path == "/_stub/config":
                return 200, dict(stub.config)
            if path == "/_stub/held":
                return 200, {"held": stub.held()}
            if path == "/_stub/wait":
                return 200, {"messages": stub.wait_for_messages(int(one.get("count", 1)),
                                                                float(one.get("timeout", 30)))}
            if path == "/_stub/conversation":
                return 200, stub.conversation(one["number"])
        if method == "POST":
            body = self._json_body(raw)
            if path == "/_stub/faults":
                stub.add_fault(int(body["status"]), int(body.get("count", 1)), body.get("code"), body.get("message"))
                return 200, stub.faults()
            if path == "/_stub/config":
                return 200, stub.configure(**body)
            if path == "/_stub/hold":
                stub.hold(int(body.get("count", 1)), int(body.get("after", 0)))
                return 200, {"held": stub.held()}
            if path == "/_stub/release":
                stub.release()
                return 200, {"released": True}
            if path == "/_stub/reset":
                stub.reset()
                return 200, {"reset": True}
            if path == "/_stub/opt_out":
                stub.opt_out(body["number"])
                return 200, {"number": body["number"], "opted_out": True}
            if path == "/_stub/opt_in":
                stub.opt_in(body["number"])
                return 200, {"number": body["number"], "opted_out": False}
            if path == "/_stub/call":
                return 200, stub.call_in(from_=body["from"], to=body.get("to"),
                                         dial_status=body.get("dial_status", "no-answer"),
                                         signature=body.get("signature"), unsigned=bool(body.get("unsigned")))
            if path == "/_stub/inbound":
                return 200, stub.send_inbound(
                    from_=body["from"],
                    body=body.get("body", ""),
                    to=body.get("to"),
                    media_urls=body.get("media_urls") or [],
                    message_sid=body.get("message_sid"),
                    signature=body.get("signature"),
                    unsigned=bool(body.get("unsigned")),
                )
        return 404, {"error": f"no such stub endpoint: {method} {path}"}


def main(argv: Optional[list] = None) -> None:
    """Command line; defaults come from ``bot.settings`` (TWILIO_*, STUB_PORT, PUBLIC_BASE_URL)."""
    from bot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="Local Twilio SMS stub and SMS simulator page.")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.stub_port)
    parser.add_argument("--account-sid", default=settings.twilio_account_sid)
    parser.add_argument("--auth-token", default=settings.twilio_auth_token)
    parser.add_argument(
        "--webhook-url",
        default=settings.public_base_url + WEBHOOK_PATH,
        help="where inbound texts are POSTed and what they are signed for (default: %(default)s)",
    )
    parser.add_argument("--voice-url", default=settings.public_base_url + VOICE_PATH,
                        help="where calls to the practice number are POSTed (default: %(default)s)")
    parser.add_argument("--phone-number", default=settings.twilio_from_number, help="the practice's number (To of inbound texts)")
    parser.add_argument("--contacts", default=None, help='JSON file: [{"name": ..., "phone": ...}] for the simulator')
    parser.add_argument("--callback-delay-ms", type=int, default=50)
    parser.add_argument("--log-level", default=settings.log_level)
    args = parser.parse_args(argv)
    install_log_masking(args.log_level.upper())
    contacts = json.loads(Path(args.contacts).read_text()) if args.contacts else []
    stub = TwilioStub(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        webhook_url=args.webhook_url,
        phone_number=args.phone_number,
        voice_url=args.voice_url,
        contacts=contacts,
        host=args.host,
        port=args.port,
        callback_delay_ms=args.callback_delay_ms,
    )
    logger.info("Twilio stub on http://%s:%s (SMS simulator at /), webhook %s", args.host, args.port, args.webhook_url)
    try:
        stub.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
