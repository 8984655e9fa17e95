"""Reminder workers as real processes: two at once send each reminder once; a killed one resumes without duplicates."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging.reminders import plan_reminders
from bot.models import OutboundMessage, Reminder, ReminderStatus
from bot.settings import ROOT
from tests.reminder_factories import appointment, patient

ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 2, 18, 0, tzinfo=ZONE)  # the 2d reminders of all Mar 4 visits are due


def _load(engine, phones: int) -> int:
    """``phones`` phones with a Mar 4 visit each; every 5th phone also has a child's visit. Returns reminder count."""
    with Session(engine) as session, session.begin():
        for n in range(phones):
            phone = f"+1503556{n:04d}"
            start = datetime(2027, 3, 4, 9, 0, tzinfo=ZONE) + timedelta(minutes=5 * (n % 90))
            appointment(session, patient(session, f"Pat{n}", phone), start)
            if n % 5 == 0:
                appointment(session, patient(session, f"Kid{n}", phone), start + timedelta(minutes=40),
                            provider_key="okafor")
    with Session(engine) as session, session.begin():
        plan_reminders(session, NOW - timedelta(days=1))
    with Session(engine) as session:
        return session.execute(select(func.count(Reminder.id)).where(
            Reminder.offset_key == "2d", Reminder.send_at <= NOW)).scalar_one()


def _worker(engine, rate: float, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "workers.reminder_worker", "once", "--now", NOW.isoformat(), "--rate", str(rate),
         "--no-rasa", *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_each_due_reminder_sent_once(engine, due: int, phones: int) -> Counter:
    with Session(engine) as session:
        rows = session.execute(select(Reminder).where(Reminder.offset_key == "2d")).scalars().all()
        texts = session.execute(select(OutboundMessage)).scalars().all()
    assert len(rows) == due
    assert {r.status for r in rows} == {ReminderStatus.SENT}
    assert len(texts) == phones  # families share one text
    assert sorted(Counter(t.phone for t in texts).values()) == [1] * phones
    by_text = Counter(r.outbound_id for r in rows)
    assert set(by_text) == {t.id for t in texts}
    return Counter(r.claimed_by for r in rows)


def test_two_workers_on_postgresql_send_each_reminder_exactly_once(pg_engine):
    phones = 300
    due = _load(pg_engine, phones)
    workers = [_worker(pg_engine, rate=60) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    claimed_by = _assert_each_due_reminder_sent_once(pg_engine, due, phones)
    assert len(claimed_by) == 2, claimed_by  # both workers did part of the batch


def test_two_workers_on_sqlite_send_each_reminder_exactly_once(engine):
    phones = 120
    due = _load(engine, phones)
    workers = [_worker(engine, rate=0) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    _assert_each_due_reminder_sent_once(engine, due, phones)


def test_a_worker_killed_mid_batch_and_restarted_sends_no_duplicate_and_misses_none(any_engine):
    engine = any_engine
    phones = 100
    due = _load(engine, phones)
    worker = _worker(engine, 0, "--crash-after-texts", "20")  # it kills itself inside the next transaction
    worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL
    with Session(engine) as session:
        statuses = Counter(session.execute(select(Reminder.status).where(Reminder.offset_key == "2d")).scalars())
        sent_with_text = session.execute(select(func.count(Reminder.id)).where(
            Reminder.status == ReminderStatus.SENT, Reminder.outbound_id.is_not(None))).scalar_one()
    assert 0 < statuses[ReminderStatus.SENT] < due  # killed part-way
    assert ReminderStatus.CLAIMED not in statuses  # an unfinished claim was rolled back with its text
    assert sent_with_text == statuses[ReminderStatus.SENT]
    restarted = _worker(engine, rate=0)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    _assert_each_due_reminder_sent_once(engine, due, phones)
