"""Many patients grab the same slot at the same moment: exactly one wins, everyone else gets SlotTaken.

Threads share one engine; processes ('spawn') each build their own engine from
the URL, as separate action-server workers would. A Barrier lines them up so
the attempts really overlap. Nothing in book_appointment checks for overlaps in
Python: the slot_claim primary key is the only guard these tests exercise.
"""
from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine
from bot.models import ACTIVE_STATUSES, Appointment, AppointmentType, ChangedBy, Patient, Provider, SlotClaim
from bot.scheduling.booking import Slot, SlotTaken, book_appointment, find_open_slots

ZONE = ZoneInfo("America/Los_Angeles")
ATTEMPTS = 8
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
NINE = datetime(2027, 3, 2, 9, 0, tzinfo=ZONE)

pytestmark = pytest.mark.timeout(300)


def _attempt(engine, slot: Slot, patient_id: int, barrier) -> str:
    """One booking attempt: 'booked', 'taken' or the unexpected error."""
    Session = sessionmaker(bind=engine, future=True)
    with engine.connect():
        pass  # connect before the barrier so every attempt starts at once
    barrier.wait(timeout=120)
    try:
        with Session() as session, session.begin():
            book_appointment(session, patient_id=patient_id, slot=slot, now=NOW, changed_by=ChangedBy.PATIENT_SMS)
        return "booked"
    except SlotTaken:
        return "taken"
    except Exception as exc:  # reported, and the test fails on it
        return f"error: {exc!r}"


def _attempt_in_process(url: str, slot: Slot, patient_id: int, barrier, results) -> None:
    engine = make_engine(url)
    try:
        results.put(_attempt(engine, slot, patient_id, barrier))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """(engine, url) of a fresh migrated database with the demo practice."""
    if request.param == "sqlite":
        return request.getfixturevalue("engine"), request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_engine"), request.getfixturevalue("pg_url")


def _prepare(engine, kinds: list[str]) -> tuple[list[Slot], list[int]]:
    """One slot per type key at 9:00/9:15 on Tue Mar 2 with Dr. Patel, and ATTEMPTS patients."""
    with sessionmaker(bind=engine, future=True, expire_on_commit=False)() as session, session.begin():
        patel = session.execute(select(Provider.id).where(Provider.key == "patel")).scalar_one()
        slots = []
        for i, key in enumerate(kinds):
            start = NINE + timedelta(minutes=15 * i)
            kind = session.execute(select(AppointmentType.id).where(AppointmentType.key == key)).scalar_one()
            found = find_open_slots(session, appointment_type_id=kind, now=NOW, provider_id=patel,
                                    window_start=start, window_end=start + timedelta(minutes=1))
            assert found and found[0].start == start
            slots.append(found[0])
        patients = [Patient(phone=f"+1503555{170 + i:04d}", first_name=f"Racer{i}", last_name="Test")
                    for i in range(ATTEMPTS)]
        session.add_all(patients)
        session.flush()
        return slots, [p.id for p in patients]


def _run_threads(engine, slots, patient_ids) -> list[str]:
    barrier = threading.Barrier(len(patient_ids))
    results: list[str] = []
    lock = threading.Lock()

    def run(slot, patient_id):
        outcome = _attempt(engine, slot, patient_id, barrier)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(slots[i % len(slots)], pid)) for i, pid in enumerate(patient_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def _run_processes(url, slots, patient_ids) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(patient_ids))
    queue = context.Queue()
    processes = [context.Process(target=_attempt_in_process, args=(url, slots[i % len(slots)], pid, barrier, queue))
                 for i, pid in enumerate(patient_ids)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return results


def _assert_one_winner(engine, results: list[str]) -> None:
    assert len(results) == ATTEMPTS
    assert sorted(results) == ["booked"] + ["taken"] * (ATTEMPTS - 1), results
    with sessionmaker(bind=engine, future=True)() as session:
        booked = session.execute(select(Appointment).where(Appointment.status.in_(ACTIVE_STATUSES))).scalars().all()
        assert len(booked) == 1
        claims = session.execute(select(func.count()).select_from(SlotClaim)).scalar_one()
        assert claims == -(-booked[0].appointment_type.minutes // 15)


def test_threads_racing_for_one_slot_give_one_booking(backend):
    engine, _url = backend
    slots, patients = _prepare(engine, ["follow_up"])
    _assert_one_winner(engine, _run_threads(engine, slots, patients))


def test_processes_racing_for_one_slot_give_one_booking(backend):
    engine, url = backend
    slots, patients = _prepare(engine, ["follow_up"])
    _assert_one_winner(engine, _run_processes(url, slots, patients))


def test_threads_racing_for_overlapping_slots_give_one_booking(backend):
    engine, _url = backend
    slots, patients = _prepare(engine, ["annual_physical", "follow_up"])  # 9:00-9:40 vs 9:15-9:35
    _assert_one_winner(engine, _run_threads(engine, slots, patients))


def test_processes_racing_for_overlapping_slots_give_one_booking(backend):
    engine, url = backend
    slots, patients = _prepare(engine, ["annual_physical", "follow_up"])
    _assert_one_winner(engine, _run_processes(url, slots, patients))
