"""Outcomes and the weekly report: confirmation and no-show rates, reminders sent, failed, opted out."""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.models import Appointment, AppointmentStatus, ChangedBy, OutboundStatus
from bot.scheduling.booking import confirm_appointment, record_outcome
from bot.scheduling.outcomes import format_report, register_cli, weekly_report
from tests.reminder_factories import appointment, patient
from workers.reminder_worker import run_pass

ZONE = ZoneInfo("America/Los_Angeles")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def test_the_report_splits_no_shows_by_confirmed_reminder(engine, now):
    with Session(engine) as session, session.begin():
        ids = [appointment(session, patient(session, f"P{n}", f"+150355502{n:02d}"),
                           local(2027, 3, 3, 9, 0) + timedelta(minutes=40 * n)).id for n in range(4)]
    run_pass(engine, lambda: local(2027, 3, 1, 18, 0), rate=0, notify_rasa=False)  # 2d reminders of the first 4
    after = local(2027, 3, 3, 18, 0)
    with Session(engine) as session, session.begin():
        for appt_id in ids[:2]:
            confirm_appointment(session, appt_id, now=local(2027, 3, 1, 19, 0), changed_by=ChangedBy.PATIENT_SMS)
        for appt_id, outcome in zip(ids, ["fulfilled", "noshow", "noshow", "noshow"]):
            record_outcome(session, appt_id, AppointmentStatus(outcome), now=after, changed_by=ChangedBy.STAFF)
        consent.record_opt_out(session, "+15035550203", "keyword", local(2027, 3, 2, 7, 0))
        from bot.models import OutboundMessage
        session.query(OutboundMessage).filter(OutboundMessage.phone == "+15035550202").one().status = \
            OutboundStatus.FAILED
    with Session(engine) as session:
        [week] = [w for w in weekly_report(session, after, weeks=2) if w.week == "2027-W09"]
    assert week.appointments == 4 and week.reminded == 4
    assert week.confirmation_rate == 0.5
    assert week.noshow_rate == 0.75
    assert week.noshow_rate_confirmed == 0.5 and week.noshow_rate_unconfirmed == 1.0
    assert (week.reminder_texts, week.reminder_failed, week.opted_out) == (4, 1, 1)
    assert "2027-W09" in format_report([week]) and "75%" in format_report([week])


def test_the_cli_marks_an_outcome_only_after_the_start(engine, now, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    from bot.settings import get_settings
    get_settings.cache_clear()
    with Session(engine) as session, session.begin():
        appt_id = appointment(session, patient(session), local(2027, 3, 3, 9, 0)).id
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["appointments", "mark", str(appt_id), "noshow", "--now", "2027-03-02T09:00-08:00"])
    assert args.func(args) == 1 and "has not started" in capsys.readouterr().out
    args = parser.parse_args(["appointments", "mark", str(appt_id), "noshow", "--now", "2027-03-03T09:30-08:00"])
    assert args.func(args) == 0
    with Session(engine) as session:
        assert session.get(Appointment, appt_id).status == AppointmentStatus.NOSHOW
    args = parser.parse_args(["report", "--now", "2027-03-03T18:00-08:00", "--weeks", "1"])
    assert args.func(args) == 0 and "2027-W09" in capsys.readouterr().out
    get_settings.cache_clear()
