"""Reminder planning reads only what changed: new, moved, cancelled, retyped appointments, those time brought
within the horizon, and everything when the practice's schedule changed; a change committed during a pass
is planned by the next one."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from bot.messaging.reminders import plan_reminders
from bot.models import Appointment, Practice, Reminder, ReminderStatus
from tests.reminder_factories import appointment, patient

ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def plan(engine, now=NOW):
    with Session(engine) as session, session.begin():
        return plan_reminders(session, now)


def make(engine, start, first="Ana", phone="+15035550123") -> int:
    with Session(engine) as session, session.begin():
        return appointment(session, patient(session, first, phone), start).id


def rows_of(engine, appointment_id):
    with Session(engine) as session:
        return {r.offset_key: r for r in session.execute(
            select(Reminder).where(Reminder.appointment_id == appointment_id)).scalars()}


def move_with_the_orm(engine, appointment_id, start):
    with Session(engine) as session, session.begin():
        row = session.get(Appointment, appointment_id)
        row.start, row.end = start, start + timedelta(minutes=20)


def move_with_a_core_update(engine, appointment_id, start):
    """What a bulk import through SQLAlchemy does: no ORM object, no flush."""
    with Session(engine) as session, session.begin():
        session.execute(update(Appointment).where(Appointment.id == appointment_id)
                        .values(start=start, end=start + timedelta(minutes=20)))


def test_a_pass_with_nothing_changed_reads_no_appointment(engine):
    first, second = make(engine, local(2027, 3, 4, 10, 0)), make(engine, local(2027, 3, 5, 10, 0), "Ben", "+15035550124")
    assert plan(engine).examined == 2
    before = {offset: (r.id, r.due_at, r.send_at) for offset, r in rows_of(engine, second).items()}
    again = plan(engine)
    assert (again.examined, again.planned, again.moved) == (0, 0, 0)
    move_with_the_orm(engine, first, local(2027, 3, 4, 11, 0))
    after_move = plan(engine)
    assert (after_move.examined, after_move.moved) == (1, 2)
    assert {offset: (r.id, r.due_at, r.send_at) for offset, r in rows_of(engine, second).items()} == before


@pytest.mark.parametrize("move", [move_with_the_orm, move_with_a_core_update])
def test_a_moved_appointment_is_replanned_on_the_next_pass(engine, move):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine)
    move(engine, appt_id, local(2027, 3, 5, 11, 0))
    assert plan(engine).moved == 2
    rows = rows_of(engine, appt_id)
    assert rows["2d"].send_at == local(2027, 3, 3, 11, 0)
    assert rows["2h"].send_at == local(2027, 3, 5, 9, 0)
    assert {r.status for r in rows.values()} == {ReminderStatus.PLANNED}


def test_an_appointment_entering_the_horizon_gets_its_reminders(engine):
    appt_id = make(engine, local(2027, 3, 20, 10, 0))  # 19 days ahead: beyond the 14-day horizon
    assert plan(engine).examined == 0
    assert rows_of(engine, appt_id) == {}
    assert plan(engine, local(2027, 3, 5, 9, 0)).examined == 0  # still 15 days ahead
    later = plan(engine, local(2027, 3, 6, 11, 0))  # nothing changed, but now it is 14 days ahead
    assert (later.examined, later.planned) == (1, 2)
    assert rows_of(engine, appt_id)["2d"].send_at == local(2027, 3, 18, 10, 0)


def test_a_changed_practice_schedule_replans_every_appointment(engine):
    appt_id = make(engine, local(2027, 3, 10, 10, 0))
    plan(engine)
    assert plan(engine).examined == 0
    with Session(engine) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "reminders": {**practice.config["reminders"], "offsets": ["3d", "2h"]}}
    replanned = plan(engine)
    assert (replanned.replanned_all, replanned.examined, replanned.planned, replanned.withdrawn) == (True, 1, 1, 1)
    rows = rows_of(engine, appt_id)
    assert rows["3d"].status == ReminderStatus.PLANNED and rows["3d"].send_at == local(2027, 3, 7, 10, 0)
    assert rows["2h"].status == ReminderStatus.PLANNED
    assert (rows["2d"].status, rows["2d"].reason) == (ReminderStatus.SKIPPED,
                                                      "no longer in the practice's reminder schedule")
    assert plan(engine).examined == 0  # and once is enough


def test_a_change_committed_during_a_pass_is_planned_by_the_next_one(any_engine):
    """The patient moves the visit just after the pass read it, before the pass clears its mark.

    The mover gets 1.5 s to commit while the pass is paused there; the pass must either hold it off
    (it then commits after the pass) or leave its mark. Either way the next pass re-times the reminders.
    """
    engine = any_engine
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    mover = threading.Thread(target=move_with_the_orm, args=(engine, appt_id, local(2027, 3, 5, 11, 0)))
    paused = []

    def pause_before_clearing_marks(conn, cursor, statement, parameters, context, executemany):
        if not paused and statement.startswith("UPDATE appointment SET needs_planning") and " IN (" in statement:
            paused.append(statement)
            mover.start()
            mover.join(timeout=1.5)

    event.listen(engine, "before_cursor_execute", pause_before_clearing_marks)
    try:
        first = plan(engine)
    finally:
        event.remove(engine, "before_cursor_execute", pause_before_clearing_marks)
    mover.join(timeout=30)
    assert paused and not mover.is_alive()
    assert first.examined == 1 and rows_of(engine, appt_id)["2d"].send_at == local(2027, 3, 2, 10, 0)
    second = plan(engine)
    assert (second.examined, second.moved) == (1, 2)
    assert rows_of(engine, appt_id)["2d"].send_at == local(2027, 3, 3, 11, 0)
