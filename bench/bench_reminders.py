"""Benchmark (not a test): planning reminders for 100,000 appointments, and the send rate into the Twilio stub.

Planning is measured three ways against the goals of issue 10: the first plan
(every appointment is new), a pass with nothing changed, and a pass after 1 %
of the appointments moved.

Run: .venv/bin/python bench/bench_reminders.py [--appointments 100000] [--send 500]
Prints machine facts with the figures. Uses a temporary SQLite database.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.db import make_engine  # noqa: E402
from bot.messaging.reminders import plan_reminders  # noqa: E402
from bot.migrate import upgrade_database  # noqa: E402
from bot.models import Appointment, AppointmentType, Patient, Provider, Reminder, ReminderStatus  # noqa: E402
from bot.practice import apply_practice_config, load_practice_file  # noqa: E402
from bot.settings import ROOT, Settings  # noqa: E402
from channels.sms_twilio.client import make_twilio_client  # noqa: E402
from channels.sms_twilio.sender import OutboxSender  # noqa: E402
from tools.twilio_stub import TwilioStub  # noqa: E402
from workers.reminder_worker import send_due_reminders  # noqa: E402

ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 7, 0, tzinfo=ZONE)


def fresh_engine(directory: str):
    url = f"sqlite:///{directory}/bench.db"
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        apply_practice_config(session, load_practice_file(ROOT / "bot" / "demo_practice.yml"))
    return engine


def load_appointments(engine, count: int) -> None:
    """``count`` booked visits over the next 14 days, one patient (and phone) each, inserted in bulk."""
    with Session(engine) as session, session.begin():
        provider_ids = list(session.execute(select(Provider.id)).scalars())
        type_id = session.execute(select(AppointmentType.id).where(AppointmentType.key == "follow_up")).scalar_one()
        patients = [dict(first_name=f"P{n}", last_name="Bench", phone=f"+1503{n:07d}", language="en", is_new=False,
                         created_at=NOW) for n in range(count)]
        for start in range(0, count, 10000):
            session.execute(insert(Patient), patients[start:start + 10000])
        first_id = session.execute(select(func.min(Patient.id))).scalar_one()
        rows = []
        for n in range(count):
            day, minute = divmod(n, 36 * len(provider_ids))
            start = datetime(2027, 3, 2, 8, 0, tzinfo=ZONE) + timedelta(days=day % 13, minutes=(minute // 3) * 15 % 540)
            rows.append(dict(patient_id=first_id + n, provider_id=provider_ids[n % len(provider_ids)],
                             appointment_type_id=type_id, start=start, end=start + timedelta(minutes=20),
                             status="booked", created_at=NOW - timedelta(days=30)))
        for start in range(0, count, 10000):
            session.execute(insert(Appointment), rows[start:start + 10000])


def move_some(engine, share: float) -> int:
    """Move every ``1/share``-th appointment 15 minutes later, as one Core executemany (its onupdate marks them)."""
    with Session(engine) as session, session.begin():
        rows = session.execute(select(Appointment.id, Appointment.start, Appointment.end)
                               .order_by(Appointment.id)).all()
        step = max(1, round(1 / share))
        moves = [dict(b_id=r.id, b_start=r.start + timedelta(minutes=15), b_end=r.end + timedelta(minutes=15))
                 for r in rows[::step]]
        session.execute(update(Appointment).where(Appointment.id == bindparam("b_id"))
                        .values(start=bindparam("b_start"), end=bindparam("b_end")), moves)
    return len(moves)


def timed_pass(engine):
    """(wall seconds, CPU seconds of this process, result) of one planning pass."""
    started, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session, session.begin():
        result = plan_reminders(session, NOW, horizon_days=14)
    return time.perf_counter() - started, time.process_time() - cpu, result


def bench_planning(engine, count: int) -> None:
    """The first plan, a pass with nothing changed and one with 1 % moved, side by side with the issue's goals."""
    started = time.perf_counter()
    load_appointments(engine, count)
    loaded = time.perf_counter() - started
    print(f"bulk insert of {count:,} appointments: {loaded:.1f}s")
    lines = [(f"first plan of {count:,}", "< 5 s", 5.0, *timed_pass(engine)),
             ("pass with nothing changed", "< 0.5 s", 0.5, *timed_pass(engine))]
    moved = move_some(engine, 0.01)
    lines.append((f"pass with 1 % changed ({moved:,} moved)", "", None, *timed_pass(engine)))
    print(f"{'reminder planning':38} {'seconds':>8} {'(CPU)':>7} {'goal':>8} {'':4} {'examined':>9}  result")
    for name, goal, limit, seconds, cpu, result in lines:
        verdict = "" if limit is None else ("ok" if seconds < limit else "MISS")
        print(f"{name:38} {seconds:8.2f} {cpu:7.2f} {goal:>8} {verdict:4} {result.examined:9,}  {result}")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall seconds include waiting for them)")


def bench_sending(engine, count: int) -> None:
    """The worker (unpaced) enqueues ``count`` reminders; the sender (unpaced) hands them to the stub."""
    with Session(engine) as session, session.begin():
        ids = list(session.execute(select(Reminder.id).where(Reminder.status == ReminderStatus.PLANNED)
                                   .order_by(Reminder.send_at).limit(count)).scalars())
        session.execute(Reminder.__table__.update().where(Reminder.id.in_(ids)).values(send_at=NOW))
        session.execute(Reminder.__table__.update().where(Reminder.id.not_in(ids))
                        .values(status=ReminderStatus.SKIPPED.value, reason="bench"))
    clock = lambda: datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)  # noqa: E731
    started = time.perf_counter()
    stats = send_due_reminders(engine, clock, rate=0, progress_every=10 ** 9)
    enqueue = time.perf_counter() - started
    print(f"worker: {stats.texts} texts enqueued in {enqueue:.2f}s = {stats.texts / enqueue:,.0f} texts/s "
          f"({stats.skipped} skipped)")
    with TwilioStub(callback_delay_ms=0) as stub:
        settings = Settings(twilio_api_base=stub.base_url, sms_send_rate=0)
        client = make_twilio_client(settings.twilio_account_sid, settings.twilio_auth_token, stub.base_url)
        senders = [OutboxSender(engine, client, settings, clock=clock) for _ in range(4)]
        started = time.perf_counter()
        threads = [threading.Thread(target=s.run, kwargs={"once": True}) for s in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = time.perf_counter() - started
        delivered = len(stub.messages())
    print(f"sender (4 threads) into the Twilio stub: {delivered} texts in {sent:.2f}s = {delivered / sent:,.0f} texts/s "
          "(production is paced to SMS_SEND_RATE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()}; SQLite {__import__('sqlite3').sqlite_version}")
    with tempfile.TemporaryDirectory() as directory:
        engine = fresh_engine(directory)
        bench_planning(engine, args.appointments)
        bench_sending(engine, args.send)
        engine.dispose()


if __name__ == "__main__":
    main()
