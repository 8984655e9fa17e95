"""The outbox sender: hands stored texts to Twilio, each exactly once.

Every text to a patient is first a row in the outbox (:mod:`bot.messaging.outbox`). A
sender claims one due row at a time (a conditional UPDATE, so two senders never
take the same row), calls ``messages.create`` and stores Twilio's SID. 429, 5xx
and network errors put the row back to pending with exponential backoff; error
21610 (the phone unsubscribed at Twilio) records the opt-out and blocks the row.

Never twice, even across a crash or a slow Twilio. The only moment a text can
be lost or doubled is between Twilio accepting it and us storing its SID. A row
is marked ``sending`` *before* the call, so after a crash or a timeout (when we
cannot know whether Twilio got the request, or is still working on it) the row
stays ``sending`` and is NOT sent again. Two things settle it: Twilio's status
callback, whose URL carries the row's own id (``?outbound_id=N``), so a text
Twilio did create announces itself; and, once the claim is older than the
lookup grace (``LOOKUP_GRACE``, two minutes: far longer than any create Twilio
finishes), a lookup ``messages.list(to=phone, date_sent_after=claimed_at - 1
min)``: a message there with the same body whose SID no other row holds is the
one we sent (the row takes its SID); if there is none, Twilio never created it
and the row goes back to pending. 429, 5xx and network errors are retried with
backoff for 24 hours (:mod:`bot.messaging.outbox`); staff get a ticket for a conversation
text that fails or is still not out after ten minutes.

Pacing: the sender loop (its own process) sleeps to keep to ``SMS_SEND_RATE``;
the SMS channel sends its replies through :meth:`OutboxSender.send_now`, which
never sleeps: over the rate, a row stays pending and the loop sends it.

Run ``python -m channels.sms_twilio.sender`` (``--once`` drains what is due and exits).
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
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.db import engine_for, transaction
from bot.messaging import inbound, outbox
from bot.models import Channel
from bot.privacy import install_log_masking, mask_phone
from bot.settings import Settings, get_settings
from channels.rasa_commands import deliver_conversation_commands
from channels.sms_twilio.client import make_twilio_client

logger = logging.getLogger(__name__)

STATUS_PATH = "/webhooks/twilio/status"
LOOKUP_GRACE = timedelta(minutes=2)  # a row 'sending' this long is looked up at Twilio; far above any create
DEFAULT_STALE_AFTER = LOOKUP_GRACE
RECONCILE_WINDOW = timedelta(minutes=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Claimed:
    """A row this sender has claimed: what the create call needs."""

    id: int
    phone: str
    body: str
    claimed_at: datetime

    @classmethod
    def of(cls, row) -> "Claimed":
        return cls(row.id, row.phone, row.body, row.claimed_at)


_Claimed = Claimed


class OutboxSender:
    """Sends the SMS conversations' outbox rows through the twilio SDK; thread-safe, blocking (run it in a thread)."""

    channel = Channel.SMS  # the rows it takes: those of SMS conversations (see channels.registry)

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
        """Send these rows now if still pending and due, pacing by sleeping; returns how many went out."""
        return sum(self._claim_and_send(outbound_id) for outbound_id in outbound_ids)

    def reserve_turn(self) -> bool:
        """Take a send turn now if the rate allows, never waiting (the channel claims its reply with it)."""
        return self._take_turn(block=False) == 0

    def send_claimed(self, row: Claimed) -> bool:
        """Send a row already claimed for this sender (the channel claims its reply as it stores it)."""
        return self._send(row, paced=False)

    def send_now(self, outbound_ids: Iterable[int]) -> int:
        """Send these rows without ever sleeping (the SMS channel's replies): a row over the rate
        stays pending, due when the rate allows, and the sender loop sends it."""
        sent = 0
        for outbound_id in outbound_ids:
            wait = self._take_turn(block=False)
            if wait > 0:
                with transaction(self.engine) as session:
                    outbox.postpone(session, outbound_id, until=self.clock() + timedelta(seconds=wait))
                continue
            sent += self._claim_and_send(outbound_id, paced=False)
        return sent

    def send_due(self, limit: int = 50) -> int:
        """Send up to ``limit`` due rows, one claim at a time; returns how many went out."""
        with transaction(self.engine) as session:
            ids = outbox.due_ids(session, self.clock(), limit, channel=self.channel)
        return sum(self._claim_and_send(outbound_id) for outbound_id in ids)

    def _claim_and_send(self, outbound_id: int, paced: bool = True) -> bool:
        with transaction(self.engine) as session:
            row = outbox.claim(session, outbound_id, now=self.clock(), sender_id=self.sender_id, channel=self.channel)
            claimed = row and _Claimed(row.id, row.phone, row.body, row.claimed_at)
        if not claimed:
            return False
        return self._send(claimed, paced)

    def _send(self, row: _Claimed, paced: bool = True) -> bool:
        if paced:
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
            # Twilio may or may not have the text, or may still be creating it: never send it
            # again until its status callback or a lookup after LOOKUP_GRACE settles it.
            logger.warning("outbox %s to %s: %s; left 'sending' until Twilio's callback or a lookup settles it",
                           row.id, mask_phone(row.phone), error.__class__.__name__)
            with transaction(self.engine) as session:
                outbox.note_unsettled(session, row.id, error_message=f"{error.__class__.__name__} (Twilio may have it)")
            return False
        with transaction(self.engine) as session:
            outbox.mark_sent(session, row.id, sid=message.sid, twilio_status=message.status, now=self.clock())
        logger.info("outbox %s to %s: handed to Twilio as %s", row.id, mask_phone(row.phone), message.sid)
        return True

    def _settle_refusal(self, row: _Claimed, error: TwilioRestException) -> None:
        now = self.clock()
        with transaction(self.engine) as session:
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
        """At most ``sms_send_rate`` creates per second from this sender (sleeps for its turn)."""
        wait = self._take_turn(block=True)
        if wait > 0:
            self.sleep(wait)

    def _take_turn(self, block: bool) -> float:
        """Seconds until this sender may create the next text; with ``block`` the turn is taken anyway
        (the caller sleeps that long), without it only a turn free right now is taken."""
        if self.settings.sms_send_rate <= 0:
            return 0.0
        with self._pace_lock:
            now = self.monotonic()
            wait = self._next_send - now
            if wait > 0 and not block:
                return wait
            self._next_send = max(now, self._next_send) + 1.0 / self.settings.sms_send_rate
        return max(wait, 0.0)

    # ----- reconciliation ---------------------------------------------------------------
    def reconcile_stale(self, stale_after: timedelta = DEFAULT_STALE_AFTER) -> int:
        """Settle rows left ``sending`` by a dead (or timed-out) sender; returns how many were settled."""
        with transaction(self.engine) as session:
            rows = [_Claimed(r.id, r.phone, r.body, r.claimed_at)
                    for r in outbox.stale_sending(session, claimed_before=self.clock() - stale_after,
                                                  channel=self.channel)]
        settled = 0
        for row in rows:
            try:
                self._reconcile(row)
                settled += 1
            except (TwilioRestException, requests.RequestException) as error:
                logger.warning("outbox %s: cannot reconcile yet (%s); left sending", row.id, error)
        return settled

    def _reconcile(self, row: _Claimed) -> bool:
        """Find the row's text at Twilio: mark it sent if there (True), else pending again (False).

        Raises when Twilio cannot be asked; the row then stays ``sending`` for the next try.
        """
        sid = self._find_at_twilio(row)
        now = self.clock()
        with transaction(self.engine) as session:
            if sid:
                outbox.mark_sent(session, row.id, sid=sid, twilio_status="queued", now=now)
                logger.info("outbox %s: Twilio already had it as %s; not sent again", row.id, sid)
                return True
            outbox.release(session, row.id)
            logger.info("outbox %s: Twilio never got it; pending again", row.id)
        return False

    def _find_at_twilio(self, row: _Claimed) -> str | None:
        since = (row.claimed_at - RECONCILE_WINDOW).astimezone(timezone.utc)
        candidates = [m for m in self.client.messages.list(to=row.phone, date_sent_after=since)
                      if m.body == row.body]
        with transaction(self.engine) as session:
            taken = outbox.known_sids(session, [m.sid for m in candidates])
        for message in reversed(candidates):  # oldest first
            if message.sid not in taken:
                return message.sid
        return None

    # ----- the loop ---------------------------------------------------------------------
    def look_after(self) -> None:
        """The sender's chores besides sending: tell staff about texts that did not go out, and hand
        texts whose turn died (or that no assistant took) to staff, so nothing waits in silence."""
        now = self.clock()
        with transaction(self.engine) as session:
            for row in outbox.tell_staff_about_texts_not_sent(session, now):
                logger.error("outbox %s to %s is %s (%s): staff have a ticket", row.id, mask_phone(row.phone),
                             row.status.value, row.error_message or "not out yet")
        with transaction(self.engine) as session:
            for message in inbound.hand_stuck_texts_to_staff(
                    session, now, timedelta(seconds=self.settings.turn_timeout_seconds)):
                logger.error("inbound %s from %s was never answered (%s); handed to staff with a holding reply",
                             message.message_sid, mask_phone(message.phone), message.status)

    def run(self, *, once: bool = False, stale_after: timedelta = DEFAULT_STALE_AFTER,
            interval: float = 1.0, stop: threading.Event | None = None, chores_every: float = 10.0) -> None:
        """Reconcile stale rows, then send due rows until stopped (or, with ``once``, until none is due)."""
        stop = stop or threading.Event()
        logger.info("outbox sender %s starting", self.sender_id)
        self.reconcile_stale(stale_after)
        next_chores = 0.0
        while not stop.is_set():
            deliver_conversation_commands(self.engine, self.settings, self.clock)  # staff hand-backs to Rasa
            sent = self.send_due()
            if self.monotonic() >= next_chores:
                next_chores = self.monotonic() + chores_every
                try:
                    self.look_after()
                except Exception:
                    logger.exception("outbox sender chores failed; trying again later")
            if once:
                with transaction(self.engine) as session:
                    if not outbox.due_ids(session, self.clock(), 1, channel=self.channel):
                        break
                continue
            if sent == 0:
                self.reconcile_stale(stale_after)
                stop.wait(interval)


def run_outbox(once: bool = False, stale_after_seconds: float | None = None, settings: Settings | None = None) -> None:
    """Entry point for ``python -m bot outbox run`` and ``python -m channels.sms_twilio.sender``."""
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
