"""The reminder worker: plans reminders and recalls, claims the due ones, writes them to the outbox.

Each pass first escalates the on-call pages of urgent tickets nobody has claimed
(:func:`bot.staff.oncall.escalate_due`: once per step, whatever the workers).

``python -m bot reminders run`` loops every ``REMINDER_WORKER_INTERVAL``
seconds; ``python -m bot reminders once`` does one pass (for cron). Any
number of workers may run at once, on SQLite or PostgreSQL.

Exactly once: each phone's due reminders are claimed, rendered, written to
the outbox and marked sent in ONE transaction, so a worker killed at any
moment leaves either nothing (the reminders are still planned and the next
pass sends them) or the outbox row and the sent mark together; the outbox
sender then sends each row once. Claims: on PostgreSQL a transaction-scoped
advisory lock per phone (so a family's reminders are never split between
two workers, and the caps are counted under the lock) plus
``SELECT ... FOR UPDATE SKIP LOCKED`` on the rows; on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` serialises transactions, and the claim is an
``UPDATE ... WHERE status = 'planned'`` whose row count is checked.

The worker only enqueues; :mod:`channels.sms_twilio.sender` sends. It paces itself
to ``SMS_SEND_RATE`` texts per second so the outbox does not pile up, and
logs a progress line every ``--progress-every`` texts.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import engine_for, phone_lock_key, transaction
from bot.messaging import bills, reminders
from bot.models import Reminder, ReminderStatus
from bot.practice import get_practice
from bot.privacy import install_log_masking, mask_phone
from bot.scheduling import recall
from bot.settings import Settings, get_settings
from bot.staff import oncall

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class PassStats:
    """What one pass did; printed by ``reminders once``."""

    planned: str = ""
    texts: int = 0
    reminders_sent: int = 0
    skipped: int = 0
    deferred: int = 0
    phones: int = 0
    seconds: float = 0.0
    sent_texts: list = field(default_factory=list, repr=False)  # (phone, body, appointment ids) for Rasa

    def __str__(self) -> str:
        rate = self.texts / self.seconds if self.seconds else 0.0
        return (f"{self.planned}; {self.texts} texts for {self.reminders_sent} reminders to {self.phones} phones, "
                f"{self.skipped} skipped, {self.deferred} deferred in {self.seconds:.1f}s ({rate:.1f} texts/s)")


class RasaNotifier:
    """Best effort: tell Rasa's tracker what the reminder said and which appointments it named.

    The database stays the source of truth (:func:`bot.messaging.reminders.last_reminded_appointments`);
    after the first failure in a pass the notifier stays quiet for the rest of it.
    """

    def __init__(self, settings: Settings) -> None:
        self.rasa_url = settings.rasa_url
        self.token = getattr(settings, "rasa_token", None) or None
        self.enabled = True

    def notify(self, phone: str, body: str, appointment_ids: list[int]) -> None:
        if not self.enabled:
            return
        try:
            from channels.rasa_http import append_events
            events = [{"event": "bot", "text": body, "timestamp": time.time()}]
            if appointment_ids:
                events.append({"event": "slot", "name": "reminder_appointment_ids", "value": appointment_ids,
                               "timestamp": time.time()})
            append_events(self.rasa_url, self.token, phone, events)
        except Exception as exc:  # Rasa down or not built yet: the database has it
            self.enabled = False
            logger.warning("could not append reminder to the Rasa tracker of %s (%s); not trying again this pass",
                           mask_phone(phone), exc.__class__.__name__)


def _claim_phone(session: Session, phone: str, now: datetime, worker_id: str, postgres: bool) -> list[Reminder]:
    """Claim the phone's due planned reminders in this transaction; [] if another worker has them."""
    if postgres:
        locked = session.execute(select(func.pg_try_advisory_xact_lock(phone_lock_key(phone)))).scalar_one()
        if not locked:
            return []
    query = (select(Reminder.id)
             .where(Reminder.phone == phone, Reminder.status == ReminderStatus.PLANNED, Reminder.send_at <= now)
             .order_by(Reminder.id))
    if postgres:
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    claimed = session.execute(
        update(Reminder)
        .where(Reminder.id.in_(ids), Reminder.status == ReminderStatus.PLANNED)
        .values(status=ReminderStatus.CLAIMED, claimed_by=worker_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != len(ids):  # cannot happen under the locks above; refuse rather than double-send
        raise RuntimeError(f"claimed {claimed} of {len(ids)} reminders of {mask_phone(phone)}")
    return list(session.execute(
        select(Reminder).where(Reminder.id.in_(ids)).order_by(Reminder.id)
        .execution_options(populate_existing=True)
    ).scalars())


def send_due_reminders(
    engine: Engine,
    clock: Clock = system_clock,
    *,
    rate: float | None = None,
    progress_every: int = 500,
    worker_id: str | None = None,
    notifier: Optional[RasaNotifier] = None,
    stop: Optional[threading.Event] = None,
    crash_after_texts: int | None = None,
) -> PassStats:
    """Send every reminder due now, a few phones per transaction, paced to ``rate`` texts/s (0 = unpaced).

    ``crash_after_texts`` is for fault tests: once that many texts are committed, the
    process kills itself (SIGKILL) in the middle of the next transaction, after it has
    claimed and rendered a phone's reminders but before it commits them.
    """
    settings = get_settings()
    rate = settings.sms_send_rate if rate is None else rate
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    postgres = engine.dialect.name == "postgresql"
    phones_per_transaction = max(1, min(50, int(rate) if rate else 50))
    stats = PassStats()
    started = time.monotonic()
    next_slot = started
    last_progress = 0
    skipped_phones: set[str] = set()  # held by another worker this pass
    while not (stop and stop.is_set()):
        batch_texts = []
        with transaction(engine) as session:
            now = clock()
            practice = get_practice(session)
            rules = reminders.rules_for(practice)
            candidates = list(session.execute(
                select(Reminder.phone)
                .where(Reminder.status == ReminderStatus.PLANNED, Reminder.send_at <= now)
                .group_by(Reminder.phone).order_by(func.min(Reminder.send_at), Reminder.phone)
                .limit(phones_per_transaction * 4 + len(skipped_phones))
            ).scalars())
            candidates = [p for p in candidates if p not in skipped_phones]
            if not candidates:
                break
            handled = 0
            for phone in candidates:
                rows = _claim_phone(session, phone, now, worker_id, postgres)
                if not rows:
                    skipped_phones.add(phone)
                    continue
                handled += 1
                appointment_rows = [r for r in rows if r.kind == reminders.APPOINTMENT]
                recall_rows = [r for r in rows if r.kind != reminders.APPOINTMENT]
                for outcome in (
                    reminders.deliver_appointment_reminders(session, phone, appointment_rows, now, rules, practice)
                    if appointment_rows else None,
                    recall.deliver_recalls(session, phone, recall_rows, now, rules, practice)
                    if recall_rows else None,
                ):
                    if outcome is None:
                        continue
                    stats.reminders_sent += len(outcome.sent)
                    stats.skipped += len(outcome.skipped)
                    stats.deferred += len(outcome.deferred)
                    ids = sorted({r.appointment_id for r in outcome.sent
                                  if r.kind == reminders.APPOINTMENT and r.appointment_id})
                    for text in outcome.texts:
                        batch_texts.append((phone, text.body, ids))
                if crash_after_texts is not None and stats.texts >= crash_after_texts and batch_texts:
                    logger.warning("fault test: killing the worker mid-transaction after %d texts", stats.texts)
                    os.kill(os.getpid(), signal.SIGKILL)
                if handled >= phones_per_transaction:
                    break
            stats.phones += handled
        # Committed: the texts are in the outbox. Now the slow, optional parts.
        stats.texts += len(batch_texts)
        if notifier is not None:
            for phone, body, ids in batch_texts:
                notifier.notify(phone, body, ids)
        if stats.texts - last_progress >= progress_every:
            last_progress = stats.texts
            elapsed = time.monotonic() - started
            logger.info("reminders: %d texts, %d skipped, %d deferred so far (%.1f texts/s)",
                        stats.texts, stats.skipped, stats.deferred, stats.texts / elapsed if elapsed else 0.0)
        if rate and batch_texts:
            next_slot += len(batch_texts) / rate
            pause = next_slot - time.monotonic()
            if pause > 0:
                (stop.wait(pause) if stop else time.sleep(pause))
            else:
                next_slot = time.monotonic()
        if handled == 0 and not batch_texts:
            break  # every candidate is another worker's right now
    stats.seconds = time.monotonic() - started
    return stats


def run_pass(engine: Engine, clock: Clock = system_clock, *, rate: float | None = None, progress_every: int = 500,
             notify_rasa: bool = True, stop: Optional[threading.Event] = None,
             crash_after_texts: int | None = None) -> PassStats:
    """Escalate unclaimed urgent tickets' on-call pages, plan appointment reminders and recalls, send what is due
    (bill-ready texts too, after the reminders: a visit's reminder comes first under the daily cap)."""
    with transaction(engine) as session:
        pages = oncall.escalate_due(session, clock())
    with transaction(engine) as session:
        planned = reminders.plan_reminders(session, clock())
        recalls = recall.plan_recalls(session, clock())
    notifier = RasaNotifier(get_settings()) if notify_rasa else None
    stats = send_due_reminders(engine, clock, rate=rate, progress_every=progress_every, notifier=notifier, stop=stop,
                               crash_after_texts=crash_after_texts)
    billed = bills.send_due_bill_texts(engine, clock())
    stats.planned = (f"on-call: {len(pages)} escalation pages; reminders: {planned}; recalls: {recalls} planned; "
                     f"{billed}")
    return stats


def run_forever(engine: Engine, interval: float, *, rate: float | None = None, progress_every: int = 500,
                notify_rasa: bool = True) -> None:
    """Pass after pass until SIGTERM or SIGINT; an error is logged and the next pass tries again."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logger.info("reminder worker started (every %.0fs)", interval)
    while not stop.is_set():
        try:
            stats = run_pass(engine, rate=rate, progress_every=progress_every, notify_rasa=notify_rasa, stop=stop)
            if stats.texts or stats.skipped:
                logger.info("reminder pass: %s", stats)
        except Exception:
            logger.exception("reminder pass failed; retrying in %.0fs", interval)
        stop.wait(interval)
    logger.info("reminder worker stopped")


# --- Command line ------------------------------------------------------------------------

def _parse_now(text: str | None) -> Clock:
    if not text:
        return system_clock
    fixed = datetime.fromisoformat(text)
    if fixed.tzinfo is None:
        raise SystemExit("--now needs a UTC offset, e.g. 2027-03-01T09:00-08:00")
    return lambda: fixed


def _command(args: argparse.Namespace) -> int:
    settings = get_settings()
    install_log_masking(settings.log_level)
    engine = engine_for(settings.database_url)
    rate = settings.sms_send_rate if args.rate is None else args.rate
    if args.reminders_command == "run":
        run_forever(engine, settings.reminder_worker_interval, rate=rate, progress_every=args.progress_every,
                    notify_rasa=not args.no_rasa)
        return 0
    stats = run_pass(engine, _parse_now(args.now), rate=rate, progress_every=args.progress_every,
                     notify_rasa=not args.no_rasa, crash_after_texts=args.crash_after_texts)
    print(stats)
    return 0


def register_cli(subparsers) -> None:
    """Add ``reminders run`` and ``reminders once`` to the ``python -m bot`` parser."""
    parser = subparsers.add_parser("reminders", help="plan and send appointment reminders and recalls")
    commands = parser.add_subparsers(dest="reminders_command", required=True)
    for name, helptext in (("run", "loop every REMINDER_WORKER_INTERVAL seconds until stopped"),
                           ("once", "one pass, for cron")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--rate", type=float, default=None,
                         help="texts per second (default SMS_SEND_RATE; 0 = unpaced)")
        sub.add_argument("--progress-every", type=int, default=500, help="log a progress line every N texts")
        sub.add_argument("--no-rasa", action="store_true", help="do not append reminders to Rasa trackers")
        if name == "once":
            sub.add_argument("--now", help="pretend it is this time (ISO 8601 with offset); for tests")
            sub.add_argument("--crash-after-texts", type=int, default=None, help=argparse.SUPPRESS)
        sub.set_defaults(func=_command, now=None, crash_after_texts=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.reminder_worker")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reminders", *(argv if argv is not None else __import__("sys").argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
