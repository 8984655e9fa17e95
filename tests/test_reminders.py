"""Appointment reminders: schedule, quiet hours, daylight saving, caps, families, consent, what "C" refers to."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.messaging.outbox import enqueue_text
from bot.messaging.reminders import (
    last_reminded_appointments,
    plan_reminders,
    reminder_text,
)
from bot.models import (
    Appointment,
    AppointmentStatus,
    ChangedBy,
    OutboundMessage,
    Practice,
    Provider,
    Reminder,
    ReminderStatus,
)
from bot.scheduling.booking import cancel_appointment, confirm_appointment, find_open_slots, reschedule_appointment
from bot.settings import Settings
from bot.wording.texts import SMS_LIMIT, gsm7_length
from tests.reminder_factories import appointment, kind, patient
from workers.reminder_worker import RasaNotifier, run_pass, send_due_reminders

ZONE = ZoneInfo("America/Los_Angeles")
PHONE = "+15035550123"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def plan(engine, now, **kwargs):
    with Session(engine) as session, session.begin():
        return plan_reminders(session, now, **kwargs)


def send(engine, now):
    return send_due_reminders(engine, lambda: now, rate=0)


def reminders_of(engine, appointment_id=None):
    with Session(engine) as session:
        query = select(Reminder).order_by(Reminder.id)
        if appointment_id is not None:
            query = query.where(Reminder.appointment_id == appointment_id)
        return {r.offset_key: r for r in session.execute(query).scalars()}


def texts(engine, phone=PHONE):
    with Session(engine) as session:
        return list(session.execute(
            select(OutboundMessage).where(OutboundMessage.phone == phone).order_by(OutboundMessage.id)).scalars())


def set_reminder_config(engine, **changes):
    with Session(engine) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        config = dict(practice.config)
        config["reminders"] = {**config["reminders"], **changes}
        practice.config = config


def make(engine, start, **kwargs):
    with Session(engine) as session, session.begin():
        who = patient(session, kwargs.pop("first", "Ana"), kwargs.pop("phone", PHONE))
        return appointment(session, who, start, **kwargs).id


# --- the text ----------------------------------------------------------------------------

def test_reminder_text_names_practice_provider_date_time_and_address_but_not_the_visit(engine):
    appt_id = make(engine, local(2027, 3, 3, 9, 0), type_key="behavioral_health")
    with Session(engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        [body] = reminder_text(practice, [session.get(Appointment, appt_id)])
    assert body.startswith("Reminder from Riverside Family Medicine: Ana has an appointment on ")
    assert "Wed, Mar 3 at 9:00 AM with Dr. Patel" in body
    assert "1200 River Road, Suite 300, Portland, OR 97201" in body
    assert body.endswith("Reply C to confirm or R to reschedule. Reply STOP to opt out.")
    assert "ehavioral" not in body and "health" not in body.lower()
    assert gsm7_length(body) is not None and gsm7_length(body) <= SMS_LIMIT


def test_a_long_family_list_is_split_into_texts_that_each_fit_two_segments(engine):
    ids = [make(engine, local(2027, 3, 3, 8, 0) + timedelta(minutes=20 * n), first=f"Child{n}") for n in range(9)]
    with Session(engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        bodies = reminder_text(practice, [session.get(Appointment, i) for i in ids])
    assert len(bodies) > 1
    assert all(gsm7_length(b) <= SMS_LIMIT for b in bodies)
    assert all(f"Child{n} -" in " ".join(bodies) for n in range(9))


# --- planning --------------------------------------------------------------------------------

def test_planning_creates_each_offset_once_however_often_it_runs(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    first = plan(engine, now)
    second = plan(engine, now)
    assert first.planned == 2 and second.planned == 0
    rows = reminders_of(engine, appt_id)
    assert set(rows) == {"2d", "2h"}
    assert rows["2d"].send_at == local(2027, 3, 2, 10, 0)
    assert rows["2h"].send_at == local(2027, 3, 4, 8, 0)


def test_per_type_offsets_override_the_practice_offsets(engine, now):
    set_reminder_config(engine, by_type={"annual_physical": ["7d", "2d"]})
    appt_id = make(engine, local(2027, 3, 10, 10, 0), type_key="annual_physical")
    plan(engine, now)
    rows = reminders_of(engine, appt_id)
    assert set(rows) == {"7d", "2d"}
    assert rows["7d"].send_at == local(2027, 3, 3, 10, 0)


def test_a_reminder_due_in_quiet_hours_goes_out_when_they_end(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 8, 30))
    plan(engine, now)
    reminder = reminders_of(engine, appt_id)["2h"]
    assert reminder.due_at == local(2027, 3, 4, 6, 30)
    assert reminder.send_at == local(2027, 3, 4, 8, 0)
    assert reminder.status == ReminderStatus.PLANNED


def test_a_reminder_pushed_past_its_appointment_by_quiet_hours_is_dropped(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 7, 0))
    plan(engine, now)
    rows = reminders_of(engine, appt_id)
    assert rows["2h"].status == ReminderStatus.DROPPED
    assert rows["2d"].status == ReminderStatus.PLANNED  # 5:00 two days before -> 8:00 that day
    assert rows["2d"].send_at == local(2027, 3, 2, 8, 0)


def test_an_office_that_opens_early_can_text_early(engine, now):
    set_reminder_config(engine, quiet_hours=["21:00", "06:00"])  # written as the quiet span
    appt_id = make(engine, local(2027, 3, 4, 7, 0))
    plan(engine, now)
    reminder = reminders_of(engine, appt_id)["2h"]
    assert reminder.status == ReminderStatus.PLANNED
    assert reminder.send_at == local(2027, 3, 4, 6, 0)


# The evening edge: 21:00 itself is quiet. Each evening is an ordinary night, the night the
# clocks fall back (Nov 1, 2026, 02:00) and the night they spring forward (Mar 14, 2027, 02:00).
EVENINGS = [(2027, 3, 2), (2026, 10, 31), (2027, 3, 13)]


@pytest.mark.parametrize("evening", EVENINGS)
@pytest.mark.parametrize("due, moved", [((20, 59), False), ((21, 0), True), ((21, 30), True)])
def test_a_reminder_due_at_the_evening_edge_goes_that_evening_or_at_eight_next_morning(engine, evening, due, moved):
    set_reminder_config(engine, offsets=["1d"], by_type={})
    day = datetime(*evening).date()
    next_day = day + timedelta(days=1)
    appt_id = make(engine, local(next_day.year, next_day.month, next_day.day, *due))  # due 1 day before, at `due`
    plan(engine, local(*evening, 9, 0) - timedelta(days=3))
    row = reminders_of(engine, appt_id)["1d"]
    assert row.due_at == local(*evening, *due)
    morning = local(next_day.year, next_day.month, next_day.day, 8, 0)
    assert row.send_at == (morning if moved else local(*evening, *due))
    assert row.status == ReminderStatus.PLANNED

    if not moved:
        assert send(engine, local(*evening, 20, 58)).texts == 0
        assert send(engine, local(*evening, *due)).texts == 1
        return
    assert send(engine, local(*evening, *due)).texts == 0
    assert send(engine, local(*evening, 23, 59)).texts == 0
    assert send(engine, local(next_day.year, next_day.month, next_day.day, 7, 59)).texts == 0
    assert send(engine, morning).texts == 1
    assert texts(engine)[0].created_at == morning


@pytest.mark.parametrize("evening", EVENINGS)
def test_a_worker_running_late_at_nine_pm_holds_a_due_reminder_until_eight_next_morning(engine, evening):
    """Planned for 20:59, but the worker's pass only comes at 21:00: quiet hours are checked at send time too."""
    set_reminder_config(engine, offsets=["1d"], by_type={})
    day = datetime(*evening).date()
    next_day = day + timedelta(days=1)
    appt_id = make(engine, local(next_day.year, next_day.month, next_day.day, 20, 59))
    plan(engine, local(*evening, 9, 0) - timedelta(days=3))

    assert send(engine, local(*evening, 21, 0)).texts == 0
    row = reminders_of(engine, appt_id)["1d"]
    morning = local(next_day.year, next_day.month, next_day.day, 8, 0)
    assert (row.status, row.send_at) == (ReminderStatus.PLANNED, morning)
    assert send(engine, morning).texts == 1


def test_a_reminder_already_due_when_the_visit_was_booked_is_not_sent(engine, now):
    appt_id = make(engine, local(2027, 3, 2, 15, 0), created_at=now - timedelta(minutes=5))
    plan(engine, now)
    rows = reminders_of(engine, appt_id)
    assert rows["2d"].status == ReminderStatus.SKIPPED
    assert rows["2h"].status == ReminderStatus.PLANNED


@pytest.mark.parametrize("start, two_days_before", [
    (local(2026, 11, 2, 9, 0), local(2026, 10, 31, 9, 0)),   # fall back on Nov 1
    (local(2027, 3, 15, 9, 0), local(2027, 3, 13, 9, 0)),    # spring forward on Mar 14
])
def test_day_offsets_keep_the_local_time_across_daylight_saving_changes(engine, start, two_days_before):
    appt_id = make(engine, start)
    plan(engine, start - timedelta(days=5))
    rows = reminders_of(engine, appt_id)
    assert rows["2d"].send_at == two_days_before
    assert rows["2d"].send_at.astimezone(ZONE).hour == 9
    assert abs((start - rows["2d"].send_at) - timedelta(days=2)) == timedelta(hours=1)
    assert rows["2h"].send_at == local(start.year, start.month, start.day, 8, 0)  # 7:00 moved to 8:00


def test_an_hour_offset_on_the_night_of_the_change_counts_real_hours(engine):
    start = local(2027, 3, 14, 10, 0)  # 10:00 PDT; 2 hours earlier is 08:00 PDT
    appt_id = make(engine, start)
    plan(engine, local(2027, 3, 10, 9, 0))
    assert reminders_of(engine, appt_id)["2h"].send_at == local(2027, 3, 14, 8, 0)
    start = local(2026, 11, 1, 9, 30)  # 9:30 PST; 2 hours earlier is 7:30 PST -> quiet until 8:00
    appt_id = make(engine, start, first="Ben", phone="+15035550124")
    plan(engine, local(2026, 10, 28, 9, 0))
    row = reminders_of(engine, appt_id)["2h"]
    assert row.due_at == local(2026, 11, 1, 7, 30)
    assert row.send_at == local(2026, 11, 1, 8, 0)


def test_the_worker_sends_a_reminder_on_the_day_after_fall_back_at_the_local_time(engine):
    start = local(2026, 11, 2, 9, 0)
    make(engine, start)
    plan(engine, local(2026, 10, 28, 9, 0))
    assert send(engine, local(2026, 10, 31, 8, 59)).texts == 0
    assert send(engine, local(2026, 10, 31, 9, 0)).texts == 1
    assert "Mon, Nov 2 at 9:00 AM" in texts(engine)[0].body


# --- sending rules --------------------------------------------------------------------------

def test_nothing_is_sent_before_its_time_and_each_reminder_once(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    assert send(engine, local(2027, 3, 2, 9, 59)).texts == 0
    assert send(engine, local(2027, 3, 2, 10, 0)).texts == 1
    assert send(engine, local(2027, 3, 2, 10, 5)).texts == 0
    rows = reminders_of(engine, appt_id)
    assert rows["2d"].status == ReminderStatus.SENT and rows["2d"].sent_at == local(2027, 3, 2, 10, 0)
    [text] = texts(engine)
    assert text.kind == "reminder" and rows["2d"].outbound_id == text.id


def test_an_opted_out_phone_is_never_texted(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
    plan(engine, now)
    send(engine, local(2027, 3, 2, 10, 0))
    send(engine, local(2027, 3, 4, 8, 0))
    assert texts(engine) == []
    assert {r.reason for r in reminders_of(engine, appt_id).values()} == {"opted out"}


def test_a_cancelled_appointment_gets_no_reminder(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    with Session(engine) as session, session.begin():
        session.get(Appointment, appt_id).status = AppointmentStatus.CANCELLED
    send(engine, local(2027, 3, 2, 10, 0))
    assert texts(engine) == []
    assert reminders_of(engine, appt_id)["2d"].reason == "appointment cancelled"


def test_a_confirmed_appointment_gets_no_more_reply_c_reminders(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    send(engine, local(2027, 3, 2, 10, 0))  # the 2-day reminder asks for C
    with Session(engine) as session, session.begin():
        confirm_appointment(session, appt_id, now=local(2027, 3, 2, 10, 5), changed_by=ChangedBy.PATIENT_SMS)
    send(engine, local(2027, 3, 4, 8, 0))  # the 2-hour reminder is due
    assert len(texts(engine)) == 1
    assert reminders_of(engine, appt_id)["2h"].reason == "appointment already confirmed"


def test_a_rescheduled_appointment_is_reminded_at_its_new_time_only(engine, now):
    with Session(engine) as session, session.begin():
        who = patient(session)
        slots = find_open_slots(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                                window_start=local(2027, 3, 4, 10, 0), window_end=local(2027, 3, 4, 10, 1),
                                provider_id=None, limit=1, spread=False)
        old = appointment(session, who, slots[0].start, provider_key=session.get(
            Provider, slots[0].provider_id).key)
        old_id = old.id
    plan(engine, now)
    with Session(engine) as session, session.begin():
        [slot] = find_open_slots(session, appointment_type_id=kind(session, "follow_up").id, now=now,
                                 window_start=local(2027, 3, 5, 11, 0), window_end=local(2027, 3, 5, 11, 1),
                                 limit=1, spread=False)
        new_id = reschedule_appointment(session, old_id, slot, now=now, changed_by=ChangedBy.PATIENT_SMS).id
    plan(engine, now)
    send(engine, local(2027, 3, 2, 10, 0))
    assert texts(engine) == []
    send(engine, local(2027, 3, 3, 11, 0))
    [text] = texts(engine)
    assert "Fri, Mar 5 at 11:00 AM" in text.body
    assert reminders_of(engine, old_id)["2d"].status == ReminderStatus.SKIPPED
    assert reminders_of(engine, new_id)["2d"].status == ReminderStatus.SENT


def test_the_daily_cap_skips_a_second_automated_text_the_same_day(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    with Session(engine) as session, session.begin():
        enqueue_text(session, PHONE, "Your earlier reply", "reply", local(2027, 3, 2, 8, 30))  # not automated
        enqueue_text(session, PHONE, "A recall", "recall", local(2027, 3, 2, 8, 30))
    send(engine, local(2027, 3, 2, 10, 0))
    assert reminders_of(engine, appt_id)["2d"].reason == "daily cap"
    assert [t.kind for t in texts(engine)] == ["reply", "recall"]
    send(engine, local(2027, 3, 4, 8, 0))  # a new local day
    assert reminders_of(engine, appt_id)["2h"].status == ReminderStatus.SENT


def test_a_text_back_to_a_missed_call_does_not_use_up_the_days_reminder(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    with Session(engine) as session, session.begin():
        enqueue_text(session, PHONE, "Sorry we missed your call", "missed_call", local(2027, 3, 2, 8, 30))
    send(engine, local(2027, 3, 2, 10, 0))
    assert reminders_of(engine, appt_id)["2d"].status == ReminderStatus.SENT


def test_the_weekly_cap_counts_the_last_seven_days(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    with Session(engine) as session, session.begin():
        for day in (23, 26, 27):  # three automated texts within the 7 days before Mar 2 10:00
            enqueue_text(session, PHONE, "earlier", "waitlist", local(2027, 2, day, 12, 0))
    send(engine, local(2027, 3, 2, 10, 0))
    assert reminders_of(engine, appt_id)["2d"].reason == "weekly cap"
    send(engine, local(2027, 3, 4, 8, 0))  # Feb 23 12:00 is more than 7 days before Mar 4 08:00
    assert reminders_of(engine, appt_id)["2h"].status == ReminderStatus.SENT


def test_a_family_on_one_phone_gets_one_text_listing_each_appointment(engine, now):
    with Session(engine) as session, session.begin():
        mom, kid = patient(session, "Maria"), patient(session, "Leo")
        a = appointment(session, mom, local(2027, 3, 4, 10, 0)).id
        b = appointment(session, kid, local(2027, 3, 4, 10, 0), provider_key="okafor").id
        other = appointment(session, kid, local(2027, 3, 20, 10, 0)).id
    plan(engine, now, horizon_days=30)
    stats = send(engine, local(2027, 3, 2, 10, 0))
    [text] = texts(engine)
    assert stats.texts == 1 and stats.reminders_sent == 2
    assert "Maria - Thu, Mar 4 at 10:00 AM with Dr. Patel" in text.body
    assert "Leo - Thu, Mar 4 at 10:00 AM with Dr. Okafor" in text.body
    with Session(engine) as session:
        named = last_reminded_appointments(session, PHONE, local(2027, 3, 2, 12, 0))
        assert [x.id for x in named] == [a, b]
        assert other not in [x.id for x in named]


# --- what "C" and "R" refer to ---------------------------------------------------------------

def test_last_reminded_appointments_names_exactly_the_reminded_visit(engine, now):
    with Session(engine) as session, session.begin():
        who = patient(session)
        reminded = appointment(session, who, local(2027, 3, 4, 10, 0)).id
        later = appointment(session, who, local(2027, 3, 25, 10, 0)).id
    plan(engine, now)
    send(engine, local(2027, 3, 2, 10, 0))
    with Session(engine) as session:
        assert [a.id for a in last_reminded_appointments(session, PHONE, local(2027, 3, 2, 10, 30))] == [reminded]
        assert last_reminded_appointments(session, PHONE, local(2027, 3, 6, 10, 30)) == []  # past 3 days
        assert last_reminded_appointments(session, "+15035550999", local(2027, 3, 2, 10, 30)) == []
    with Session(engine) as session, session.begin():
        cancel_appointment(session, reminded, now=local(2027, 3, 2, 11, 0), changed_by=ChangedBy.PATIENT_SMS)
    with Session(engine) as session:
        assert last_reminded_appointments(session, PHONE, local(2027, 3, 2, 11, 30)) == []
        # the later visit is still booked, yet "C" now means nothing: no reminder named it
        assert session.get(Appointment, later).status == AppointmentStatus.BOOKED


class _FakeRasa:
    """Records Rasa HTTP API calls on loopback."""

    def __init__(self):
        self.calls = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def test_the_reminder_is_appended_to_the_rasa_conversation_with_its_appointment_ids(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    rasa = _FakeRasa()
    try:
        notifier = RasaNotifier(Settings(rasa_url=rasa.url, rasa_token="secret"))
        send_due_reminders(engine, lambda: local(2027, 3, 2, 10, 0), rate=0, notifier=notifier)
    finally:
        rasa.server.shutdown()
    [(path, events)] = rasa.calls
    assert path.startswith("/conversations/+15035550123/tracker/events?token=secret")
    assert events[0]["event"] == "bot" and "Dr. Patel" in events[0]["text"]
    assert events[1] == {"event": "slot", "name": "reminder_appointment_ids", "value": [appt_id],
                         "timestamp": events[1]["timestamp"]}


def test_with_rasa_down_the_reminder_still_goes_and_the_database_knows_it(engine, now):
    appt_id = make(engine, local(2027, 3, 4, 10, 0))
    plan(engine, now)
    notifier = RasaNotifier(Settings(rasa_url="http://127.0.0.1:9"))  # nothing listens on port 9
    stats = send_due_reminders(engine, lambda: local(2027, 3, 2, 10, 0), rate=0, notifier=notifier)
    assert stats.texts == 1 and notifier.enabled is False
    with Session(engine) as session:
        assert [a.id for a in last_reminded_appointments(session, PHONE, local(2027, 3, 2, 10, 1))] == [appt_id]


def test_a_pass_plans_and_sends_through_the_twilio_stub_once(engine, now, monkeypatch):
    from channels.sms_twilio.client import make_twilio_client
    from channels.sms_twilio.sender import OutboxSender
    from tools.twilio_stub import TwilioStub
    make(engine, local(2027, 3, 3, 9, 0), first="Ben", phone="+15035550124")  # 2d due Mar 1 09:00
    with TwilioStub() as stub:
        stats = run_pass(engine, lambda: now, rate=0, notify_rasa=False)
        settings = Settings(twilio_api_base=stub.base_url, sms_send_rate=0)
        client = make_twilio_client(settings.twilio_account_sid, settings.twilio_auth_token, stub.base_url)
        sender = OutboxSender(engine, client, settings, clock=lambda: now)
        sender.run(once=True)
        sender.run(once=True)
        run_pass(engine, lambda: now, rate=0, notify_rasa=False)
        sender.run(once=True)
        messages = stub.messages()
    assert stats.texts == 1
    assert [m["to"] for m in messages] == ["+15035550124"]
    assert "Ben has an appointment on Wed, Mar 3 at 9:00 AM with Dr. Patel" in messages[0]["body"]
