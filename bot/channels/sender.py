"""The outbox sender: hands stored texts to Twilio, each exactly once.

Every text to a patient is first a row in the outbox (:mod:`bot.outbox`). A
sender claims one due row at a time (a conditional UPDATE, so two senders never
take the same row), calls ``messages.create`` and stores Twilio's SID. 429, 5xx
and network errors put the row back to pending with exponential backoff; error
21610 (the phone unsubscribed at Twilio) records the opt-out and blocks the row.

Never twice, even across a crash. The only moment a text can be lost or
doubled is between Twilio accepting it and us storing its SID. A row is marked
``sending`` *before* the call, so after a crash (or a timeout, when we cannot
know whether Twilio got the request) the row is still ``sending``. Such a row
is reconciled by asking Twilio: ``messages.list(to=phone,
date_sent_after=claimed_at - 1 min)``; a message there with the same body, whose
SID no other row holds, is the one we sent, so the row takes that SID and is
not sent again; if there is none, Twilio never got it and the row goes back to
pending. A row is only reconciled once its claim is older than
``stale_after`` (longer than the HTTP timeout), so a live sender's request in
flight is never mistaken for a lost one.

Run ``python -m bot.channels.sender`` (``--once`` drains what is due and exits).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import requests
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot import outbox
from bot.channels.rasa_commands import deliver_conversation_commands
from bot.channels.twilio_client import make_twilio_client
from bot.db import engine_for
from bot.privacy import install_log_masking, mask_phone
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

STATUS_PATH = "/webhooks/twilio/status"
DEFAULT_STALE_AFTER = timedelta(seconds=60)  # well above the SDK's 10 s HTTP timeout
RECONCILE_WINDOW = timedelta(minutes=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class _Claimed:
    id: int
    phone: str
    body: str
    claimed_at: datetime


class OutboxSender:
    """Sends outbox rows through the twilio SDK; thread-safe, blocking (run it in a thread)."""

    def __init__(
        self,
        engine: Engine,
        client: Client,
        settings: Settings,
        *,
        sender_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.settings = settings
        self.sender_id = sender_id or new_sender_id()
        self.clock = clock
        self.rng = rng or random.Random()
        self.sleep: Callable[[float], None] = time.sleep
        self.monotonic: Callable[[], float] = time.monotonic
        self._pace_lock = threading.Lock()
        self._next_send = 0.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, engine: Engine | None = None) -> "OutboxSender":
        settings = settings or get_settings()
        client = make_twilio_client(settings.twilio_account_sid, settings.twilio_auth_token,
                                    settings.twilio_api_base or None)
        return cls(engine or engine_for(settings.database_url), client, settings)

    # ----- sending ----------------------------------------------------------------------
    def send_ids(self, outbound_ids: Iterable[int]) -> int:
        """Send these rows now if still pending and due (the channel's replies); returns how many went out."""
        return sum(self._claim_and_send(outbound_id) for outbound_id in outbound_ids)

    def send_due(self, limit: int = 50) -> int:
        """Send up to ``limit`` due rows, one claim at a time; returns how many went out."""
        with Session(self.engine) as session, session.begin():
            ids = outbox.due_ids(session, self.clock(), limit)
        return sum(self._claim_and_send(outbound_id) for outbound_id in ids)

    def _claim_and_send(self, outbound_id: int) -> bool:
        with Session(self.engine) as session, session.begin():
            row = outbox.claim(session, outbound_id, now=self.clock(), sender_id=self.sender_id)
            claimed = row and _Claimed(row.id, row.phone, row.body, row.claimed_at)
        if not claimed:
            return False
        return self._send(claimed)

    def _send(self, row: _Claimed) -> bool:
        self._pace()
        options = {"messaging_service_sid": self.settings.twilio_messaging_service_sid} \
            if self.settings.twilio_messaging_service_sid else {"from_": self.settings.twilio_from_number}
        try:
            message = self.client.messages.create(
                to=row.phone, body=row.body,
                status_callback=f"{self.settings.public_base_url}{STATUS_PATH}?outbound_id={row.id}",
                **options,
            )
        except TwilioRestException as error:
            self._settle_refusal(row, error)
            return False
        except requests.RequestException as error:
            # Twilio may or may not have the text: ask it before sending again.
            logger.warning("outbox %s to %s: network error %s; checking with Twilio",
                           row.id, mask_phone(row.phone), error.__class__.__name__)
            return self._reconcile(row, retry_error=str(error) or error.__class__.__name__)
        with Session(self.engine) as session, session.begin():
            outbox.mark_sent(session, row.id, sid=message.sid, twilio_status=message.status, now=self.clock())
        logger.info("outbox %s to %s: handed to Twilio as %s", row.id, mask_phone(row.phone), message.sid)
        return True

    def _settle_refusal(self, row: _Claimed, error: TwilioRestException) -> None:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            if error.code == 21610:
                outbox.mark_opted_out_by_carrier(session, row.id, now=now)
                logger.info("outbox %s: %s unsubscribed at Twilio (21610); blocked", row.id, mask_phone(row.phone))
            elif error.status == 429 or error.status >= 500:
                status = outbox.mark_retry(session, row.id, now=now, error_code=error.code,
                                           error_message=f"HTTP {error.status}: {error.msg}", rng=self.rng)
                logger.warning("outbox %s: Twilio answered %s (%s); now %s", row.id, error.status, error.code,
                               status.value)
            else:
                outbox.mark_failed(session, row.id, now=now, error_code=error.code,
                                   error_message=f"HTTP {error.status}: {error.msg}")
                logger.error("outbox %s to %s: refused by Twilio, %s %s", row.id, mask_phone(row.phone),
                             error.code, error.msg)

    def _pace(self) -> None:
        """At most ``sms_send_rate`` creates per second from this sender."""
        if self.settings.sms_send_rate <= 0:
            return
        with self._pace_lock:
            now = self.monotonic()
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + 1.0 / self.settings.sms_send_rate
        if wait > 0:
            self.sleep(wait)

    # ----- reconciliation ---------------------------------------------------------------
    def reconcile_stale(self, stale_after: timedelta = DEFAULT_STALE_AFTER) -> int:
        """Settle rows left ``sending`` by a dead (or timed-out) sender; returns how many were settled."""
        with Session(self.engine) as session, session.begin():
            rows = [_Claimed(r.id, r.phone, r.body, r.claimed_at)
                    for r in outbox.stale_sending(session, claimed_before=self.clock() - stale_after)]
        settled = 0
        for row in rows:
            try:
                self._reconcile(row, retry_error=None)
                settled += 1
            except (TwilioRestException, requests.RequestException) as error:
                logger.warning("outbox %s: cannot reconcile yet (%s); left sending", row.id, error)
        return settled

    def _reconcile(self, row: _Claimed, retry_error: str | None) -> bool:
        """Find the row's text at Twilio; mark it sent if there, else release it (or retry later).

        Returns True if Twilio had it. Raises if Twilio cannot be asked and
        ``retry_error`` is None; with ``retry_error`` the row stays ``sending``
        for the stale reconciliation to settle.
        """
        try:
            sid = self._find_at_twilio(row)
        except (TwilioRestException, requests.RequestException):
            if retry_error is None:
                raise
            logger.warning("outbox %s: Twilio cannot be asked now; left sending for reconciliation", row.id)
            return False
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            if sid:
                outbox.mark_sent(session, row.id, sid=sid, twilio_status="queued", now=now)
                logger.info("outbox %s: Twilio already had it as %s; not sent again", row.id, sid)
                return True
            if retry_error is None:
                outbox.release(session, row.id)
                logger.info("outbox %s: Twilio never got it; pending again", row.id)
            else:
                outbox.mark_retry(session, row.id, now=now, error_code=None, error_message=retry_error, rng=self.rng)
        return False

    def _find_at_twilio(self, row: _Claimed) -> str | None:
        since = (row.claimed_at - RECONCILE_WINDOW).astimezone(timezone.utc)
        candidates = [m for m in self.client.messages.list(to=row.phone, date_sent_after=since)
                      if m.body == row.body]
        with Session(self.engine) as session:
            taken = outbox.known_sids(session, [m.sid for m in candidates])
        for message in reversed(candidates):  # oldest first
            if message.sid not in taken:
                return message.sid
        return None

    # ----- the loop ---------------------------------------------------------------------
    def run(self, *, once: bool = False, stale_after: timedelta = DEFAULT_STALE_AFTER,
            interval: float = 1.0, stop: threading.Event | None = None) -> None:
        """Reconcile stale rows, then send due rows until stopped (or, with ``once``, until none is due)."""
        stop = stop or threading.Event()
        logger.info("outbox sender %s starting", self.sender_id)
        self.reconcile_stale(stale_after)
        while not stop.is_set():
            deliver_conversation_commands(self.engine, self.settings, self.clock)  # staff hand-backs to Rasa
            sent = self.send_due()
            if once:
                with Session(self.engine) as session:
                    if not outbox.due_ids(session, self.clock(), 1):
                        break
                continue
            if sent == 0:
                self.reconcile_stale(max(stale_after, DEFAULT_STALE_AFTER))
                stop.wait(interval)


def run_outbox(once: bool = False, stale_after_seconds: float | None = None, settings: Settings | None = None) -> None:
    """Entry point for ``python -m bot outbox run`` and ``python -m bot.channels.sender``."""
    settings = settings or get_settings()
    install_log_masking(settings.log_level)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # it logs every request at INFO
    stale_after = DEFAULT_STALE_AFTER if stale_after_seconds is None else timedelta(seconds=stale_after_seconds)
    sender = OutboxSender.from_settings(settings)
    try:
        sender.run(once=once, stale_after=stale_after)
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Send the outbox's texts through Twilio.")
    parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
    parser.add_argument("--stale-after", type=float, default=None,
                        help="seconds after which a 'sending' row is reconciled with Twilio "
                             f"(default {int(DEFAULT_STALE_AFTER.total_seconds())}; only lower it when no other sender runs)")
    args = parser.parse_args(argv)
    run_outbox(once=args.once, stale_after_seconds=args.stale_after)


if __name__ == "__main__":
    main()
