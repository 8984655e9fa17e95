"""Bill-ready texts: the statement import (matching, bad rows, nothing half-imported, idempotence), the CLI's
dry run, POST /api/bills, and the texts (billing consent, the bills' quiet hours, the caps, one follow-up unless
paid, exactly once with two workers), up to the demo import reaching the Twilio stub."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import bills, consent
from bot.messaging.outbox import OutboundKind, enqueue_text
from bot.models import (
    AuditEntry,
    BillStatement,
    BillText,
    ConsentRecord,
    ConsentStatus,
    OutboundMessage,
    OutboundStatus,
    Patient,
    Practice,
)
from bot.settings import ROOT
from tests.conftest import ZONE
from tests.test_consent_purpose import EVENTS, _model

MARIA, DAVID, LUCIA = "+15035550181", "+15035550182", "+15035550183"
LINK = "https://pay.example.com/statements/"


def _patients(engine):
    with Session(engine) as session, session.begin():
        session.add_all([
            Patient(first_name="Maria", last_name="Garcia", phone=MARIA, date_of_birth=date(1984, 5, 19),
                    external_id="PM-1"),
            Patient(first_name="David", last_name="Kim", phone=DAVID, date_of_birth=date(1977, 10, 2),
                    external_id="PM-2"),
            Patient(first_name="Lucía", last_name="Hernández", phone=LUCIA, date_of_birth=date(1979, 9, 14),
                    language="es"),
            # Twins: one phone, one birthday; a row naming them by phone and birth date matches both.
            Patient(first_name="Ana", last_name="Ruiz", phone="+15035550184", date_of_birth=date(2015, 6, 1)),
            Patient(first_name="Eva", last_name="Ruiz", phone="+15035550184", date_of_birth=date(2015, 6, 1)),
        ])


@pytest.fixture
def billing(engine, now):
    """Three patients (and twins); Maria and Lucía gave billing consent, David did not."""
    _patients(engine)
    with Session(engine) as session, session.begin():
        for phone in (MARIA, LUCIA):
            consent.record_consent(session, phone, "billing", ConsentStatus.OPTED_IN, "verbal", now - timedelta(days=1))
    return engine


def _import(engine, rows, now, **options) -> bills.ImportResult:
    with Session(engine) as session, session.begin():
        return bills.import_statements(session, list(enumerate(rows, start=2)), now, **options)


def _row(statement_id, *, patient_id="", phone="", born="", paid="", when="2027-02-26"):
    return {"statement_id": statement_id, "statement_date": when, "patient_id": patient_id, "phone": phone,
            "date_of_birth": born, "paid": paid}


GOOD = [_row("S-1", patient_id="PM-1"), _row("S-2", patient_id="PM-2"),
        _row("S-3", phone="(503) 555-0183", born="1979-09-14")]


def _statements(engine) -> dict[str, tuple[int, bool]]:
    with Session(engine) as session:
        return {s.statement_id: (s.patient_id, s.paid_at is not None)
                for s in session.execute(select(BillStatement)).scalars()}


def _bill_texts(engine, phone=None) -> list[OutboundMessage]:
    with Session(engine) as session:
        query = select(OutboundMessage).where(OutboundMessage.kind == OutboundKind.BILL.value)
        if phone:
            query = query.where(OutboundMessage.phone == phone)
        return list(session.execute(query.order_by(OutboundMessage.id)).scalars())


def _steps(engine) -> list[tuple[str, str, str, str | None]]:
    with Session(engine) as session:
        return [(s.statement_id, t.step, t.status, t.reason) for t, s in session.execute(
            select(BillText, BillStatement).join(BillStatement, BillStatement.id == BillText.statement_id)
            .order_by(BillStatement.statement_id, BillText.id)).all()]


def _local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 1 + day_offset, hour, minute, tzinfo=ZONE)


# --- Import -------------------------------------------------------------------------------------

def test_rows_match_by_practice_id_or_by_phone_and_birth_date(billing, now):
    result = _import(billing, GOOD, now)
    assert result.ok and result.written
    with Session(billing) as session:
        ids = {p.first_name: p.id for p in session.execute(select(Patient)).scalars()}
    assert _statements(billing) == {"S-1": (ids["Maria"], False), "S-2": (ids["David"], False),
                                    "S-3": (ids["Lucía"], False)}
    assert [r.texting for r in result.rows] == ["bill text", "skipped: no billing consent", "bill text"]


def test_bad_rows_are_reported_with_their_line_and_reason_and_nothing_is_imported(billing, now):
    rows = GOOD + [
        _row("S-4", patient_id="PM-404"),
        _row("S-5", phone="+15035550184", born="2015-06-01"),
        _row("S-6", phone="+15035550199", born="1984-05-19"),
        _row("S-7", patient_id="PM-1", when="26/02/2027"),
        _row("", patient_id="PM-1"),
        _row("S-1", patient_id="PM-1"),
        _row("S-8"),
        _row("S-9", patient_id="PM-1", paid="maybe"),
    ]
    result = _import(billing, rows, now)
    assert [(b.line, b.reason) for b in result.bad] == [
        (5, "no patient with patient_id 'PM-404'"),
        (6, "2 patients have this phone and date of birth"),
        (7, "no patient with this phone and date of birth"),
        (8, "statement_date '26/02/2027' is not a date (YYYY-MM-DD)"),
        (9, "statement_id is missing"),
        (10, "statement_id 'S-1' is also on line 2"),
        (11, "needs patient_id, or phone and date_of_birth"),
        (12, "paid 'maybe' must be true or false"),
    ]
    assert not result.written and _statements(billing) == {}


def test_importing_the_same_statements_again_changes_nothing_and_paid_marks_one_paid(billing, now):
    _import(billing, GOOD, now)
    before = _statements(billing)
    again = _import(billing, GOOD, now + timedelta(days=1))
    assert [r.action for r in again.rows] == ["unchanged"] * 3 and _statements(billing) == before
    paid = _import(billing, [_row("S-1", patient_id="PM-1", paid="true")], now + timedelta(days=2))
    assert [r.action for r in paid.rows] == ["marked paid"]
    assert _statements(billing)["S-1"][1] is True


def test_a_statement_id_already_imported_for_another_patient_is_a_bad_row(billing, now):
    _import(billing, GOOD, now)
    result = _import(billing, [_row("S-1", patient_id="PM-2")], now)
    assert [b.reason for b in result.bad] == ["statement_id 'S-1' was imported for another patient"]


def test_a_dry_run_reports_but_writes_nothing(billing, now):
    result = _import(billing, GOOD, now, dry_run=True)
    assert result.ok and not result.written and len(result.rows) == 3
    assert _statements(billing) == {}


# --- The command line --------------------------------------------------------------------------

@pytest.fixture
def cli(billing, monkeypatch):
    from bot.settings import get_settings
    from workers.cli import main

    monkeypatch.setenv("DATABASE_URL", str(billing.url))
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


def _csv(tmp_path, lines: list[str]):
    path = tmp_path / "statements.csv"
    path.write_text("\n".join(["statement_id,statement_date,patient_id,phone,date_of_birth,paid", *lines]) + "\n")
    return str(path)


def test_the_cli_dry_run_prints_what_would_be_imported_and_texted_and_changes_nothing(cli, tmp_path, capsys, billing):
    file = _csv(tmp_path, ["S-1,2027-02-26,PM-1,,,", "S-2,2027-02-26,PM-2,,,"])
    assert cli(["bills", "import", file, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "statement S-1" in out and "bill text" in out and "skipped: no billing consent" in out
    assert "dry run: 2 statements would be imported; nothing was changed" in out
    assert "5550181" not in out  # phones masked
    assert _statements(billing) == {}
    assert cli(["bills", "import", file]) == 0
    assert set(_statements(billing)) == {"S-1", "S-2"}


def test_the_cli_reports_bad_rows_imports_nothing_and_exits_1(cli, tmp_path, capsys, billing):
    file = _csv(tmp_path, ["S-1,2027-02-26,PM-1,,,", "S-2,2027-02-26,PM-404,,,"])
    assert cli(["bills", "import", file]) == 1
    out = capsys.readouterr().out
    assert "bad row: line 3: no patient with patient_id 'PM-404'" in out
    assert "1 bad rows: nothing imported" in out
    assert _statements(billing) == {}


def test_the_cli_records_billing_consent_with_its_source(cli, capsys, billing):
    assert cli(["consent", "record", "(503) 555-0182", "--purpose", "billing", "--source", "verbal"]) == 0
    with Session(billing) as session:
        assert consent.allows(session, DAVID, "billing")
        record = session.execute(select(ConsentRecord).where(ConsentRecord.phone == DAVID)).scalar_one()
        assert (record.purpose, record.source) == ("billing", "verbal")
    assert cli(["consent", "record", DAVID, "--purpose", "marketing", "--source", "verbal"]) == 1


# --- POST /api/bills ---------------------------------------------------------------------------

@pytest.fixture
def api(billing, now):
    import dataclasses

    from bot.settings import Settings
    from web import create_app

    app = create_app(dataclasses.replace(Settings(), bills_api_token="s3cret-token"), billing, clock=lambda: now)
    return app.test_client()


def test_the_endpoint_refuses_without_the_bearer_token(api, billing):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        response = api.post("/api/bills", json=GOOD, headers=headers)
        assert response.status_code == 401
    assert _statements(billing) == {}
    with Session(billing) as session:
        assert session.execute(select(func.count()).where(AuditEntry.action == "denied")).scalar_one() == 3


def test_the_endpoint_imports_json_and_answers_400_with_the_bad_rows_of_a_csv(api, billing):
    auth = {"Authorization": "Bearer s3cret-token"}
    csv_body = "statement_id,statement_date,patient_id\nS-1,2027-02-26,PM-1\nS-2,2027-02-26,PM-404\n"
    bad = api.post("/api/bills", data=csv_body, content_type="text/csv", headers=auth)
    assert bad.status_code == 400
    assert bad.get_json()["bad_rows"] == [{"line": 3, "reason": "no patient with patient_id 'PM-404'"}]
    assert _statements(billing) == {}
    good = api.post("/api/bills", json=GOOD, headers=auth)
    assert good.status_code == 200 and good.get_json()["imported"] is True
    assert set(_statements(billing)) == {"S-1", "S-2", "S-3"}


# --- The texts ---------------------------------------------------------------------------------

def test_a_bill_text_goes_only_with_billing_consent_and_names_the_practice_and_the_link(billing, now):
    _import(billing, GOOD, now)
    outcome = bills.send_due_bill_texts(billing, now)
    assert (outcome.sent, outcome.skipped) == (2, 1)
    [maria] = _bill_texts(billing, MARIA)
    [lucia] = _bill_texts(billing, LUCIA)
    assert maria.body == ("Riverside Family Medicine: your new statement is ready. View or pay it securely at "
                          f"{LINK}S-1 Questions? Reply to this text.")
    assert lucia.body.startswith("Riverside Family Medicine: tiene un nuevo estado de cuenta") and f"{LINK}S-3" in lucia.body
    assert _bill_texts(billing, DAVID) == []
    assert ("S-2", "ready", "skipped", "no billing consent") in _steps(billing)
    assert bills.send_due_bill_texts(billing, now + timedelta(hours=1)).sent == 0  # once


def test_bills_keep_their_own_quiet_hours_8_am_to_9_pm(billing, now):
    with Session(billing) as session, session.begin():  # reminders may go later; bills still stop at 9 PM
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "reminders": {**practice.config["reminders"],
                                                            "quiet_hours": ["07:00", "22:00"]}}
    _import(billing, [GOOD[0]], now)
    for moment in (_local(0, 7, 59), _local(0, 21, 0), _local(0, 21, 30)):
        assert bills.send_due_bill_texts(billing, moment.astimezone(timezone.utc)).waiting == 1
    assert _bill_texts(billing) == [] and _steps(billing) == []
    assert bills.send_due_bill_texts(billing, _local(1, 8, 0)).sent == 1


def test_a_bill_waits_for_a_day_under_the_daily_cap(billing, now):
    with Session(billing) as session, session.begin():
        enqueue_text(session, MARIA, "reminder", OutboundKind.REMINDER, now - timedelta(hours=1))
    _import(billing, [GOOD[0]], now)
    assert bills.send_due_bill_texts(billing, now).waiting == 1
    assert _bill_texts(billing) == []
    assert bills.send_due_bill_texts(billing, _local(1, 9)).sent == 1


def test_one_follow_up_after_follow_up_days_and_never_more(billing, now):
    _import(billing, [GOOD[0]], now)
    bills.send_due_bill_texts(billing, now)
    assert bills.send_due_bill_texts(billing, _local(6, 9)).sent == 0
    assert bills.send_due_bill_texts(billing, _local(7, 9)).sent == 1
    for day in (8, 15, 30):
        assert bills.send_due_bill_texts(billing, _local(day, 9)).sent == 0
    ready, follow_up = _bill_texts(billing, MARIA)
    assert follow_up.body.startswith("Riverside Family Medicine: a reminder that your statement is ready")
    assert [(s, step) for s, step, *_ in _steps(billing)] == [("S-1", "ready"), ("S-1", "follow_up")]


def test_a_statement_marked_paid_gets_no_follow_up_and_one_imported_paid_no_text(billing, now):
    _import(billing, [GOOD[0], _row("S-9", patient_id="PM-1", paid="true")], now)
    bills.send_due_bill_texts(billing, now)
    _import(billing, [_row("S-1", patient_id="PM-1", paid="yes")], _local(3, 9))
    assert bills.send_due_bill_texts(billing, _local(8, 9)).sent == 0
    assert len(_bill_texts(billing, MARIA)) == 1
    assert [(s, step) for s, step, *_ in _steps(billing)] == [("S-1", "ready")]


def test_an_opt_out_skips_the_follow_up(billing, now):
    _import(billing, [GOOD[0]], now)
    bills.send_due_bill_texts(billing, now)
    with Session(billing) as session, session.begin():
        consent.record_opt_out(session, MARIA, "keyword", _local(2, 9))
    bills.send_due_bill_texts(billing, _local(7, 9))
    assert ("S-1", "follow_up", "skipped", "opted out") in _steps(billing)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_no_bill_text_goes_to_a_phone_without_billing_consent(engine, now, events):
    with Session(engine) as session, session.begin():
        for table in (BillText, BillStatement, OutboundMessage, ConsentRecord, Patient):
            session.execute(table.__table__.delete())
        session.add(Patient(first_name="Pat", last_name="Doe", phone=MARIA, external_id="PM-1"))
        recorded = []
        for purpose, status, source in events:
            try:
                consent.record_consent(session, MARIA, purpose, status, source, now - timedelta(days=1))
                recorded.append((purpose, status, source))
            except consent.ConsentRefused:
                pass
    _import(engine, [GOOD[0]], now)
    bills.send_due_bill_texts(engine, now)
    sent = [t for t in _bill_texts(engine) if t.status != OutboundStatus.BLOCKED]
    assert bool(sent) == _model(recorded, "billing"), recorded


def test_two_workers_send_each_step_exactly_once(any_engine, now):
    _patients(any_engine)
    with Session(any_engine) as session, session.begin():
        consent.record_consent(session, MARIA, "billing", ConsentStatus.OPTED_IN, "verbal", now - timedelta(days=1))
        consent.record_consent(session, LUCIA, "billing", ConsentStatus.OPTED_IN, "verbal", now - timedelta(days=1))
    with Session(any_engine) as session, session.begin():  # room under the caps for every statement
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "reminders": {**practice.config["reminders"],
                                                            "max_per_day": 50, "max_per_week": 50}}
    rows = [_row(f"S-{n}", patient_id=("PM-1", "PM-2")[n % 2]) for n in range(12)]
    rows += [_row(f"L-{n}", phone=LUCIA, born="1979-09-14") for n in range(12)]
    _import(any_engine, rows, now)
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait()
            bills.send_due_bill_texts(any_engine, now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    steps = _steps(any_engine)
    assert len(steps) == len(rows) == len({(s, step) for s, step, *_ in steps})
    assert len(_bill_texts(any_engine)) == 6 + 12  # Maria's and Lucía's; David's skipped
    assert sorted(t.body.split("/statements/")[1].split()[0] for t in _bill_texts(any_engine)) == sorted(
        r["statement_id"] for r in rows if r["patient_id"] != "PM-2")


# --- Done when: the demo import reaches the Twilio stub --------------------------------------------

def test_the_demo_import_texts_maria_and_lucia_through_the_outbox_and_skips_david(demo_engine, now, twilio_stub):
    from tests.test_outbox_sender import sender_for
    from workers.reminder_worker import run_pass

    records = bills.csv_records((ROOT / "tools" / "demo_statements.csv").read_text())
    with Session(demo_engine) as session, session.begin():
        assert bills.import_statements(session, records, now).written
    # The worker's passes every two hours: today the visits' reminders take the daily cap; the bills go the next
    # morning.
    for moment in (now + timedelta(hours=h) for h in range(0, 26, 2)):
        run_pass(demo_engine, lambda m=moment: m, rate=0, notify_rasa=False)
    sender = sender_for(demo_engine, twilio_stub, clock=lambda: now + timedelta(days=1))
    while sender.send_due():
        pass
    maria = [m["body"] for m in twilio_stub.messages(to="+15035550111") if "statement" in m["body"]]
    lucia = [m["body"] for m in twilio_stub.messages(to="+15035550116") if "estado de cuenta" in m["body"]]
    david = [m["body"] for m in twilio_stub.messages(to="+15035550112") if "statement" in m["body"]]
    assert maria == [f"Riverside Family Medicine: your new statement is ready. View or pay it securely at "
                     f"{LINK}ST-5001 Questions? Reply to this text."]
    assert len(lucia) == 1 and f"{LINK}ST-5003" in lucia[0]
    assert david == []
    assert ("ST-5002", "ready", "skipped", "no billing consent") in _steps(demo_engine)


# --- Replies -----------------------------------------------------------------------------------

def _tickets(engine, phone):
    from bot.models import HandoffTicket
    with Session(engine) as session:
        return [(t.queue, t.reason) for t in session.execute(
            select(HandoffTicket).where(HandoffTicket.phone == phone)).scalars()]


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
def test_a_reply_the_nlu_cannot_place_soon_after_a_bill_text_goes_to_the_billing_queue(demo_engine, now, converse,
                                                                                      intent):
    records = bills.csv_records((ROOT / "tools" / "demo_statements.csv").read_text())
    with Session(demo_engine) as session, session.begin():
        bills.import_statements(session, records, now)
    bills.send_due_bill_texts(demo_engine, now + timedelta(days=1))  # Maria's (David has no billing consent)
    assert len(_bill_texts(demo_engine, "+15035550111")) == 1
    reply = converse("+15035550111", demo_engine, now + timedelta(days=2)).say("why so much??", intent)
    assert "billing team" in reply
    assert _tickets(demo_engine, "+15035550111") == [("billing", "Reply to a bill text: why so much??")]
    # No bill text (David): the usual answer; a bill text longer ago than reply_days (7) no longer counts.
    other = converse("+15035550112", demo_engine, now + timedelta(days=2)).say("why so much", intent)
    assert other and "billing team" not in other
    assert _tickets(demo_engine, "+15035550112") == []
    with Session(demo_engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        assert bills.replying_to_a_bill(session, practice, "+15035550111", now + timedelta(days=8))
        assert not bills.replying_to_a_bill(session, practice, "+15035550111", now + timedelta(days=8, minutes=1))


def test_without_a_portal_url_the_import_refuses_and_nothing_is_imported(billing, now, cli, tmp_path, capsys):
    with Session(billing) as session, session.begin():
        practice = session.execute(select(Practice)).scalar_one()
        practice.config = {**practice.config, "billing": {}}
    with pytest.raises(bills.BillingNotConfigured):
        _import(billing, GOOD, now)
    assert cli(["bills", "import", _csv(tmp_path, ["S-1,2027-02-26,PM-1,,,"])]) == 1
    assert "no billing.portal_url; nothing imported" in capsys.readouterr().out
    assert _statements(billing) == {}


def test_the_first_automated_text_to_a_phone_being_a_bill_it_comes_after_the_welcome(billing, now):
    from bot.practice import apply_practice_config
    from tests.conftest import demo_practice_data

    with Session(billing) as session, session.begin():
        apply_practice_config(session, demo_practice_data(welcome=True))
    _import(billing, [GOOD[0]], now)
    bills.send_due_bill_texts(billing, now)
    with Session(billing) as session:
        kinds = session.execute(select(OutboundMessage.kind).where(OutboundMessage.phone == MARIA)
                                .order_by(OutboundMessage.id)).scalars().all()
    assert kinds == ["welcome", "bill"]
