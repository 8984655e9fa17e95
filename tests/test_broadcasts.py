"""Broadcasts to a day's patients (bot/messaging/broadcasts.py): recipients, skips, one text per shared phone,
segments, quiet hours and pacing, replies first, cancel midway sending each text once, cancelling the visits
and rebooking, roles, audit, and the CLI's dry run. An injected clock throughout; SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.messaging import broadcasts, consent, outbox, wrong_number
from bot.messaging.outbox import OutboundKind
from bot.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    AuditEntry,
    ChangedBy,
    ClosedDate,
    OutboundMessage,
    OutboundStatus,
    Patient,
    Provider,
    WaitlistOffer,
)
from bot.practice import get_practice
from bot.scheduling import waitlist
from bot.scheduling.booking import book_appointment, find_open_slots
from bot.wording.texts import segments
from tests.test_outbox_sender import sender_for

TUESDAY = date(2027, 3, 2)
TEXT = "{practice_name}: Hi {first_name}, the office is closed today (snow). We will text you to rebook."


@pytest.fixture
def db_engine(any_engine):
    """Every test on SQLite and on PostgreSQL."""
    return any_engine


@pytest.fixture
def Session(db_engine):  # noqa: N802
    return sessionmaker(bind=db_engine, future=True, expire_on_commit=False)


def _patient(session, first: str, phone: str, language: str = "en") -> Patient:
    patient = Patient(phone=phone, first_name=first, last_name="Test", date_of_birth=date(1980, 1, 1),
                      language=language)
    session.add(patient)
    session.flush()
    return patient


def _book(session, patient: Patient, now: datetime, day: date = TUESDAY, provider_key: str | None = None,
          index: int = 0) -> Appointment:
    zone = now.tzinfo
    provider_id = None
    if provider_key:
        provider_id = session.execute(select(Provider.id).where(Provider.key == provider_key)).scalar_one()
    for candidate in session.execute(select(AppointmentType).order_by(AppointmentType.id)).scalars():
        slots = find_open_slots(session, appointment_type_id=candidate.id, now=now,
                                window_start=datetime.combine(day, time(0), tzinfo=zone),
                                window_end=datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone),
                                provider_id=provider_id, limit=200, spread=False, patient_id=patient.id)
        if slots:
            break
    if not slots:
        return None
    return book_appointment(session, patient_id=patient.id, slot=slots[index % len(slots)], now=now,
                            changed_by=ChangedBy.SYSTEM)


@pytest.fixture
def day(Session, now):
    """Tuesday's patients: two own phones, a shared phone (two children), an opted-out phone, a wrong number,
    a patient with no phone, and one patient on Wednesday (not Tuesday's)."""
    with Session() as session, session.begin():
        people = {
            "ana": _patient(session, "Ana", "+15035550201"),
            "ben": _patient(session, "Ben", "+15035550202", language="es"),
            "emma": _patient(session, "Emma", "+15035550203"),
            "liam": _patient(session, "Liam", "+15035550203"),
            "olga": _patient(session, "Olga", "+15035550204"),
            "wes": _patient(session, "Wes", "+15035550205"),
            "nora": _patient(session, "Nora", ""),
            "wed": _patient(session, "Wednesday", "+15035550206"),
        }
        for index, (name, patient) in enumerate(people.items()):
            _book(session, patient, now, day=TUESDAY + timedelta(days=1) if name == "wed" else TUESDAY, index=index)
        consent.record_opt_out(session, "+15035550204", "keyword", now)
        wrong_number.report_wrong_number(session, "+15035550205", "wrong number", now)
        return {name: p.id for name, p in people.items()}


def test_preview_gives_one_text_per_phone_and_says_who_is_skipped_and_why(Session, day, now):
    with Session() as session:
        preview = broadcasts.preview(session, day=TUESDAY, text=TEXT)
        practice = get_practice(session)
        reasons = {s.names: s.reason for s in preview.skipped}
        by_phone = {r.phone: r for r in preview.recipients}

    assert set(by_phone) == {"+15035550201", "+15035550202", "+15035550203"}
    assert preview.count == 3
    assert by_phone["+15035550203"].names == ("Emma Test", "Liam Test")  # the shared phone: one text
    assert by_phone["+15035550203"].body == TEXT.format(practice_name=practice.name, first_name="there")
    assert by_phone["+15035550201"].body == TEXT.format(practice_name=practice.name, first_name="Ana")
    assert reasons == {("Olga Test",): broadcasts.OPTED_OUT, ("Wes Test",): broadcasts.WRONG_NUMBER,
                       ("Nora Test",): broadcasts.NO_PHONE}
    assert preview.segments == max(segments(r.body)[1] for r in preview.recipients) == 1
    assert preview.total_segments == 3 and preview.encodings == ("GSM-7",)


def test_a_template_is_written_in_each_patients_language_and_long_texts_count_their_segments(Session, day):
    with Session() as session:
        preview = broadcasts.preview(session, day=TUESDAY, template="broadcast_closed_weather")
        long_one = broadcasts.preview(session, day=TUESDAY, text="Café ó " + "x" * 70)
    bodies = {r.phone: r.body for r in preview.recipients}
    assert "closed today because of the weather" in bodies["+15035550201"]
    assert "hoy la oficina cierra" in bodies["+15035550202"] and "Hola Ben" in bodies["+15035550202"]
    assert long_one.segments == 2 and long_one.encodings == ("UCS-2",)


def test_own_text_with_an_amount_needs_confirmation_and_an_unknown_placeholder_is_refused(Session, day, now):
    money = "{practice_name}: please bring $40 for your copay."
    with Session() as session, session.begin():
        assert [f.kind for f in broadcasts.preview(session, day=TUESDAY, text=money).findings]
        with pytest.raises(broadcasts.NeedsConfirmation):
            broadcasts.start(session, day=TUESDAY, text=money, staff_user_id=None, role="admin", now=now,
                             send_rate=0)
        with pytest.raises(broadcasts.EmptyText):
            broadcasts.preview(session, day=TUESDAY, text="Hi {last_name}")
        assert broadcasts.start(session, day=TUESDAY, text=money, staff_user_id=None, role="admin", now=now,
                                send_rate=0, confirmed=True).id
        assert not broadcasts.preview(session, day=TUESDAY, template="broadcast_running_late").findings


def test_one_provider_only(Session, now):
    with Session() as session, session.begin():
        mine = _book(session, _patient(session, "Mine", "+15035550211"), now)
        provider_id = mine.provider_id
        other = _patient(session, "Other", "+15035550212")
        keys = session.execute(select(Provider.key).where(Provider.id != provider_id)).scalars()
        assert any(_book(session, other, now, provider_key=key) for key in keys)
    with Session() as session:
        preview = broadcasts.preview(session, day=TUESDAY, text=TEXT, provider_id=provider_id)
    assert [r.phone for r in preview.recipients] == ["+15035550211"]


def test_start_stores_a_broadcast_text_per_recipient_held_by_quiet_hours_then_paced(Session, day, now):
    late = now.replace(hour=22)  # quiet hours: the texts wait until 8:00 the next morning
    with Session() as session, session.begin():
        broadcast = broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="front_desk",
                                     now=late, send_rate=2)
        rows = session.execute(select(OutboundMessage).where(OutboundMessage.kind == "broadcast")
                               .order_by(OutboundMessage.id)).scalars().all()
        progress = broadcasts.progress(session, broadcast.id)
    opens = datetime.combine(late.date() + timedelta(days=1), time(8), tzinfo=now.tzinfo)
    assert [r.next_attempt_at for r in rows] == [opens, opens + timedelta(seconds=0.5), opens + timedelta(seconds=1)]
    assert {r.phone for r in rows} == {"+15035550201", "+15035550202", "+15035550203"}
    assert progress.counts == {"queued": 3, "sent": 0, "failed": 0, "cancelled": 0, "blocked": 0, "skipped": 3}
    assert not OutboundKind.BROADCAST.capped and OutboundKind.BROADCAST.automated


def test_a_patients_reply_goes_before_a_due_broadcast(Session, day, now):
    with Session() as session, session.begin():
        broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="admin", now=now, send_rate=0)
        reply = outbox.enqueue_text(session, "+15035550299", "Your visit is moved.", OutboundKind.REPLY,
                                    now + timedelta(seconds=5))
    with Session() as session:
        assert outbox.due_ids(session, now + timedelta(seconds=5), limit=1) == [reply.id]


def test_cancel_midway_stops_what_is_not_sent_and_sends_each_text_once(Session, db_engine, day, now, twilio_stub):
    with Session() as session, session.begin():
        broadcast = broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="admin", now=now,
                                     send_rate=0)
    sender = sender_for(db_engine, twilio_stub, clock=lambda: now)
    assert sender.send_due(limit=1) == 1  # one is out
    with Session() as session, session.begin():  # a second sender has claimed the next one: it is sending
        [in_flight] = outbox.due_ids(session, now, limit=1)
        assert outbox.claim(session, in_flight, now=now, sender_id="other") is not None
    with Session() as session, session.begin():
        stopped = broadcasts.cancel(session, broadcast.id, staff_user_id=None, role="front_desk", now=now)
    assert stopped == 1
    assert sender.send_due() == 0  # nothing cancelled goes out afterwards
    with Session() as session:
        progress = broadcasts.progress(session, broadcast.id)
        assert session.get(OutboundMessage, in_flight).status == OutboundStatus.SENDING  # not lost, not blocked
    assert progress.counts["sent"] == 1 and progress.counts["queued"] == 1 and progress.counts["cancelled"] == 1
    assert progress.cancelled
    assert len([m for m in twilio_stub.messages() if "closed today" in m["body"]]) == 1


def test_cancelling_the_days_visits_frees_them_for_the_waitlist_and_an_R_rebooks(Session, day, now):
    with Session() as session, session.begin():
        ana = session.get(Appointment, session.execute(select(Appointment.id).where(
            Appointment.patient_id == day["ana"])).scalar_one())
        waiting = _patient(session, "Waiting", "+15035550220")
        waitlist.join_waitlist(session, patient_id=waiting.id, appointment_type_id=ana.appointment_type_id,
                               provider_id=ana.provider_id, window_start=now, window_end=now + timedelta(days=7),
                               now=now)
        broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="admin", now=now, send_rate=0,
                         cancel_appointments=True)
    with Session() as session:
        statuses = dict(session.execute(select(Appointment.patient_id, Appointment.status)).all())
        body = session.execute(select(OutboundMessage.body).where(OutboundMessage.phone == "+15035550201",
                                                                  OutboundMessage.kind == "broadcast")).scalar_one()
        offers = session.execute(select(func.count(WaitlistOffer.id))).scalar_one()
        rebook = broadcasts.rebooking_for(session, [day["ana"]], now + timedelta(hours=2))
    assert statuses[day["ana"]] == statuses[day["emma"]] == statuses[day["liam"]] == AppointmentStatus.CANCELLED
    assert statuses[day["olga"]] == statuses[day["wed"]] == AppointmentStatus.BOOKED  # skipped: staff call them
    assert body.endswith("Your visit today is cancelled. Reply R to rebook.")
    assert offers == 1
    assert rebook is not None and rebook.patient_id == day["ana"]


def test_on_a_day_marked_closed_the_cancelled_visits_are_not_offered_to_the_waitlist(Session, day, now):
    with Session() as session, session.begin():
        ana = session.execute(select(Appointment).where(Appointment.patient_id == day["ana"])).scalar_one()
        waiting = _patient(session, "Waiting", "+15035550220")
        waitlist.join_waitlist(session, patient_id=waiting.id, appointment_type_id=ana.appointment_type_id,
                               provider_id=ana.provider_id, window_start=now, window_end=now + timedelta(days=7),
                               now=now)
        session.add(ClosedDate(day=TUESDAY, name="Snow"))
        session.flush()
        broadcasts.start(session, day=TUESDAY, template="broadcast_closed_weather", staff_user_id=None,
                         role="admin", now=now, send_rate=0, cancel_appointments=True)
    with Session() as session:
        assert session.execute(select(func.count(WaitlistOffer.id))).scalar_one() == 0
        assert session.get(Appointment, ana.id).status == AppointmentStatus.CANCELLED


def test_only_admin_and_front_desk_may_broadcast_and_each_step_is_audited(Session, day, now):
    with Session() as session, session.begin():
        with pytest.raises(broadcasts.NotAllowed):
            broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="billing", now=now,
                             send_rate=0)
        broadcast = broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="front_desk",
                                     now=now, send_rate=0)
        broadcasts.cancel(session, broadcast.id, staff_user_id=None, role="admin", now=now)
    with Session() as session:
        actions = session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions == ["broadcast", "broadcast_cancel"]


def test_the_cli_dry_run_prints_the_preview_and_changes_nothing(db_engine, day, monkeypatch, capsys, Session):
    from bot.settings import get_settings
    from workers.cli import main

    monkeypatch.setenv("DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        assert main(["broadcast", "--day", TUESDAY.isoformat(), "--text", TEXT, "--dry-run"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "Emma Test, Liam Test: 1 GSM-7 segment(s):" in out and "Hi there" in out
    assert "skipped" in out and "opted_out" in out and "no_phone" in out
    assert "3 texts (3 segments), 3 skipped" in out
    assert "+15035550201" not in out  # phones masked
    with Session() as session:
        assert session.execute(select(func.count(OutboundMessage.id))).scalar_one() == 0


def test_after_a_broadcast_cancelled_the_visit_R_books_the_same_visit_again(Session, db_engine, day, now, converse):
    with Session() as session, session.begin():
        broadcasts.start(session, day=TUESDAY, text=TEXT, staff_user_id=None, role="admin", now=now, send_rate=0,
                         cancel_appointments=True)
        old = session.execute(select(Appointment).where(Appointment.patient_id == day["ana"])).scalar_one()
        old_type, old_provider = old.appointment_type_id, old.provider_id
    chat = converse("+15035550201", db_engine, now + timedelta(minutes=5))
    answer = chat.say("R", "reschedule_appointment")
    assert "upcoming appointments" not in answer
    if "What day and time" in answer:
        answer = chat.say("next week", "inform")
    assert "Open times" in answer or "nearest open times" in answer, answer
    chat.say("1", "inform")
    with Session() as session:
        booked = session.execute(select(Appointment).where(Appointment.patient_id == day["ana"],
                                                           Appointment.status == AppointmentStatus.BOOKED)).scalar_one()
    assert (booked.appointment_type_id, booked.provider_id) == (old_type, old_provider)
