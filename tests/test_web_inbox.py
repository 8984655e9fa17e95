"""The inbox's work: queue order, claim and assign, reply, notes, canned responses, resolve, reports."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    AppointmentStatus,
    CannedResponse,
    HandoffTicket,
    OutboundMessage,
    Patient,
    TicketNote,
    TicketStatus,
)
from tests.web_helpers import (
    add_appointment,
    add_patient,
    add_user,
    audit_actions,
    login,
    make_app,
    open_ticket,
    patient_texts,
)
from web import cli

PHONE = "+15035550123"


def _patient(engine, first="Dana", last="Reyes", phone=PHONE) -> int:
    return add_patient(engine, first, last, phone)


def _ticket(engine, ticket_id) -> HandoffTicket:
    with Session(engine) as session:
        return session.get(HandoffTicket, ticket_id)


def test_queue_lists_oldest_first_and_marks_late_tickets(app, engine, now, clock):
    late = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(days=3), reason="older one")  # Friday
    fresh = open_ticket(engine, "+15035550122", "front_desk", now, reason="newer one")
    open_ticket(engine, "+15035550133", "clinical", now, reason="clinical one")
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    tickets = client.get("/api/queue").get_json()["tickets"]
    assert [t["id"] for t in tickets] == [late, fresh]  # no clinical ticket for the front desk
    assert [t["urgency"] for t in tickets] == ["late", "ok"]
    assert tickets[0]["waiting"] == "3 d 0 h"
    page = client.get("/").get_data(as_text=True)
    assert page.index("older one") < page.index("newer one")
    assert f'class="u-late" data-id="{late}"' in page


def test_urgent_queue_reaches_front_desk_and_clinical_but_not_billing(app, engine, now):
    open_ticket(engine, PHONE, "urgent", now, reason="chest pain")
    for name, role in [("fran", "front_desk"), ("cleo", "clinical"), ("bea", "billing")]:
        add_user(engine, name, role, now)
    seen = {}
    for name in ("fran", "cleo", "bea"):
        client = app.test_client()
        login(client, name)
        seen[name] = [t["reason"] for t in client.get("/api/queue").get_json()["tickets"]]
    assert seen == {"fran": ["chest pain"], "cleo": ["chest pain"], "bea": []}


def test_reply_goes_to_the_outbox_and_sets_first_response(app, engine, now, clock):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    user = add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    clock.at = now + timedelta(minutes=12)
    response = client.post(f"/tickets/{ticket_id}/reply", data={"body": "We fixed it.", "csrf_token": csrf})
    assert response.status_code == 302
    with Session(engine) as session:
        row = session.execute(select(OutboundMessage)).scalar_one()
    assert (row.phone, row.body, row.kind, row.ticket_id, row.staff_user_id) == \
        (PHONE, "We fixed it.", "staff", ticket_id, user)
    ticket = _ticket(engine, ticket_id)
    assert ticket.first_response_at == now + timedelta(minutes=12)
    assert ticket.status == TicketStatus.CLAIMED and ticket.claimed_by == user  # replying claims it
    clock.at = now + timedelta(minutes=20)
    client.post(f"/tickets/{ticket_id}/reply", data={"body": "Anything else?", "csrf_token": csrf})
    assert _ticket(engine, ticket_id).first_response_at == now + timedelta(minutes=12)
    entries = client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["entries"]
    assert [(e["who"], e["author"], e["body"], e["status"]) for e in entries] == [
        ("patient", None, "I have a question", None), ("staff", "bea", "We fixed it.", "pending"),
        ("staff", "bea", "Anything else?", "pending")]
    assert [a[0] for a in audit_actions(engine)].count("reply") == 2


def test_transcript_after_a_ref_gives_only_newer_entries_with_local_times(app, engine, now, clock):
    ticket_id = open_ticket(engine, PHONE, "billing", now, texts=("first",))
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    first = client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["entries"]
    assert first[0]["time"] == "9:00 AM"  # the practice's zone, today
    patient_texts(engine, PHONE, ["second"], now + timedelta(minutes=5))
    newer = client.get(f"/api/tickets/{ticket_id}/transcript?after={first[-1]['ref']}").get_json()["entries"]
    assert [e["body"] for e in newer] == ["second"]
    assert newer[0]["time"] == "9:05 AM"


def test_note_is_shown_to_staff_and_never_texted(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now, display_name="Bea R.")
    client = app.test_client()
    csrf = login(client, "bea")
    client.post(f"/tickets/{ticket_id}/note", data={"body": "Insurance pays in May", "csrf_token": csrf})
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
        assert session.execute(select(TicketNote.body)).scalar_one() == "Insurance pays in May"
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "Insurance pays in May" in page and 'class="msg note"' in page
    assert '<span class="who">note · Bea R.</span>' in page  # who wrote it
    entries = client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["entries"]
    assert [(e["who"], e["author"]) for e in entries if e["who"] == "note"] == [("note", "Bea R.")]
    assert ("note", ticket_id) in [(a[0], a[2]) for a in audit_actions(engine)]


def test_view_of_a_conversation_is_audited(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    user = add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    client.get(f"/tickets/{ticket_id}")
    assert ("view", user, ticket_id, None) in audit_actions(engine)


def test_canned_response_placeholders_are_filled_for_the_patient(app, engine, now):
    patient_id = _patient(engine)
    ticket_id = open_ticket(engine, PHONE, "billing", now, patient_id=patient_id)
    with Session(engine) as session, session.begin():
        session.add(CannedResponse(title="Call us", body="Hi {first_name}, call {practice_name} at {practice_phone}. {other}"))
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert 'data-body="Hi Dana, call Riverside Family Medicine at (503) 555-0100. {other}"' in page


def test_conversation_shows_the_patients_upcoming_appointments(app, engine, now):
    patient_id = _patient(engine)
    with Session(engine) as session, session.begin():
        for days, status in [(2, AppointmentStatus.BOOKED), (3, AppointmentStatus.CANCELLED), (-2, AppointmentStatus.FULFILLED)]:
            add_appointment(session, patient_id, "patel", "follow_up", now + timedelta(days=days), status)
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, patient_id=patient_id)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "Wed Mar 3, 9:00 AM · Dr. Patel · Follow-up visit" in page
    assert "Thu Mar 4" not in page and "Sat Feb 27" not in page


def test_assign_only_to_a_colleague_of_a_matching_role(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    bill = add_user(engine, "bill", "billing", now, display_name="Bill K.")
    fran = add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    csrf = login(client, "bea")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "Bill K. (billing)" in page and "fran" not in page
    client.post(f"/tickets/{ticket_id}/assign", data={"staff_user_id": fran, "csrf_token": csrf})
    assert _ticket(engine, ticket_id).claimed_by is None
    client.post(f"/tickets/{ticket_id}/assign", data={"staff_user_id": bill, "csrf_token": csrf})
    assert _ticket(engine, ticket_id).claimed_by == bill
    assert ("assign", ticket_id, "to bill") in [(a[0], a[2], a[3]) for a in audit_actions(engine)]


def test_claim_takes_the_ticket(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    user = add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    client.post(f"/tickets/{ticket_id}/claim", data={"csrf_token": csrf})
    ticket = _ticket(engine, ticket_id)
    assert (ticket.status, ticket.claimed_by, ticket.claimed_at) == (TicketStatus.CLAIMED, user, now)


def test_resolve_hands_the_conversation_back_to_rasa(engine, now, clock, webhook_receiver):  # noqa: F811
    webhook_receiver.response = (200, "{}", "application/json")
    app = make_app(engine, clock, rasa_url=webhook_receiver.url("").rstrip("/"), rasa_token="s3cret")
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    response = client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    assert response.status_code == 302 and response.location == "/"
    (request,) = webhook_receiver.requests
    assert request.path == "/conversations/+15035550123/tracker/events?token=s3cret"
    assert json.loads(request.raw) == {"event": "resume"}
    assert _ticket(engine, ticket_id).status == TicketStatus.RESOLVED


def test_resolve_still_resolves_when_rasa_is_down_and_warns(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    response = client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf}, follow_redirects=True)
    assert "could not be reached" in response.get_data(as_text=True)
    ticket = _ticket(engine, ticket_id)
    assert ticket.status == TicketStatus.RESOLVED and ticket.resolved_at == now


def test_reopen_takes_the_conversation_back_and_pauses_rasa(engine, now, clock, webhook_receiver):  # noqa: F811
    webhook_receiver.response = (200, "{}", "application/json")
    app = make_app(engine, clock, rasa_url=webhook_receiver.url("").rstrip("/"))
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    user = add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    client.post(f"/tickets/{ticket_id}/reopen", data={"csrf_token": csrf})
    assert [json.loads(r.raw) for r in webhook_receiver.requests] == [{"event": "resume"}, {"event": "pause"}]
    assert webhook_receiver.requests[1].path == "/conversations/+15035550123/tracker/events"
    ticket = _ticket(engine, ticket_id)
    assert (ticket.status, ticket.claimed_by, ticket.resolved_at) == (TicketStatus.CLAIMED, user, None)
    assert [a[0] for a in audit_actions(engine)][-2:] == ["resolve", "reopen"]


def test_reply_to_a_resolved_conversation_is_not_sent(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    client.post(f"/tickets/{ticket_id}/reply", data={"body": "late", "csrf_token": csrf})
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None


def test_admin_manages_canned_responses_and_users(app, engine, now):
    add_user(engine, "ada", "admin", now)
    client = app.test_client()
    csrf = login(client, "ada")
    client.post("/admin/canned", data={"title": "Hours", "body": "Hi {first_name}", "csrf_token": csrf})
    client.post("/admin/users", data={"username": "newbie", "password": "long enough", "role": "clinical",
                                      "display_name": "New B.", "csrf_token": csrf})
    with Session(engine) as session:
        assert session.execute(select(CannedResponse.body)).scalar_one() == "Hi {first_name}"
    page = client.get("/admin/").get_data(as_text=True)
    assert "newbie" in page and "New B." in page
    assert login(app.test_client(), "newbie", "long enough")


def test_reports_page_shows_figures_and_an_svg_chart(app, engine, now, clock):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    clock.at = now + timedelta(minutes=30)
    client.post(f"/tickets/{ticket_id}/reply", data={"body": "Done.", "csrf_token": csrf})
    clock.at = now + timedelta(minutes=90)
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    page = client.get("/reports/").get_data(as_text=True)
    assert "<svg" in page and "<rect" in page
    row = re.search(r"<tr><td>Billing</td><td>2027-W09</td>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[:6] == ["1", "1", "30 min", "30 min", "1 h 30 min", "1 h 30 min"]
    assert cells[6].startswith("100%")


def test_cli_adds_a_staff_user_from_stdin_and_lists_it(engine, monkeypatch, capsys):
    from bot.settings import Settings
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(database_url=str(engine.url)))
    monkeypatch.setattr("sys.stdin", io.StringIO("first-admin-pass\n"))
    args = SimpleNamespace(username="admin", role="admin", display_name=None, password_stdin=True)
    assert cli.add_staff_command(args) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n"))
    assert cli.add_staff_command(SimpleNamespace(username="b", role="billing", display_name=None,
                                                 password_stdin=True)) == 1
    assert cli.list_staff_command(SimpleNamespace()) == 0
    out = capsys.readouterr()
    assert "added admin (admin)" in out.out and "at least 8" in out.err
    assert re.search(r"^admin\s+admin\s+admin$", out.out, re.M)


def test_cli_sets_a_new_password(engine, monkeypatch, capsys, now):
    from bot.settings import Settings
    from bot.staff import accounts as staff
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(database_url=str(engine.url)))
    with Session(engine) as session, session.begin():
        staff.create_staff_user(session, "admin", "old-password", "admin", None, now)
    monkeypatch.setattr("sys.stdin", io.StringIO("new-password\n"))
    assert cli.passwd_staff_command(SimpleNamespace(username="admin", password_stdin=True)) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("whatever-password\n"))
    assert cli.passwd_staff_command(SimpleNamespace(username="nobody", password_stdin=True)) == 1
    assert "no staff account 'nobody'" in capsys.readouterr().err
    with Session(engine) as session:
        assert staff.authenticate(session, "admin", "new-password") is not None
        assert staff.authenticate(session, "admin", "old-password") is None


# --- templates per language, and the conversation's language ----------------------------------------

def _spanish_patient(engine) -> int:
    patient_id = _patient(engine, "Lucía", "Hernández")
    with Session(engine) as session, session.begin():
        session.get(Patient, patient_id).language = "es"
    return patient_id


def test_a_spanish_conversation_shows_its_language_and_offers_its_templates_first_filled_in_spanish(
        app, engine, now):
    patient_id = _spanish_patient(engine)
    with Session(engine) as session, session.begin():
        add_appointment(session, patient_id, "patel", "follow_up", now + timedelta(days=2), AppointmentStatus.BOOKED)
        session.add(CannedResponse(title="A Visit", body="Hi {first_name}, see you {next_appointment}."))
        session.add(CannedResponse(title="Cita", body="Hola {first_name}, le esperamos el {next_appointment}.",
                                   language="es"))
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, patient_id=patient_id)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert '<span class="language" title="The conversation\'s language">Español</span>' in page
    spanish, english = page.index('<optgroup label="Español">'), page.index('<optgroup label="English">')
    assert spanish < english  # the conversation's language first, the other still there to choose
    assert 'data-body="Hola Lucía, le esperamos el mié 3 de mar a las 9:00 AM con Dr. Patel."' in page
    assert 'data-body="Hi Lucía, see you Wed, Mar 3 at 9:00 AM with Dr. Patel."' in page
    queue = client.get("/").get_data(as_text=True)
    assert '<span class="language">Español</span>' in queue


def test_an_english_conversation_offers_english_templates_first_and_says_so(app, engine, now):
    patient_id = _patient(engine)
    with Session(engine) as session, session.begin():
        session.add(CannedResponse(title="A Llamar", body="Hola {first_name}, llame al {practice_phone}.", language="es"))
        session.add(CannedResponse(title="Z Call", body="Hi {first_name}, call {practice_phone}."))
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, patient_id=patient_id)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert page.index('<optgroup label="English">') < page.index('<optgroup label="Español">')
    assert "title=\"The conversation's language\">English</span>" in page
    assert '<span class="language">' not in client.get("/").get_data(as_text=True)  # English is not flagged


def test_on_a_shared_phone_first_name_is_there_in_english_and_familia_in_spanish(app, engine, now):
    _patient(engine)
    _patient(engine, "Emma", "Reyes")
    with Session(engine) as session, session.begin():
        session.add(CannedResponse(title="Hi", body="Hi {first_name}!"))
        session.add(CannedResponse(title="Hola", body="¡Hola {first_name}!", language="es"))
    ticket_id = open_ticket(engine, PHONE, "front_desk", now)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert 'data-body="Hi there!"' in page and 'data-body="¡Hola familia!"' in page


def test_admin_saves_a_templates_language_and_refuses_an_unknown_one(app, engine, now):
    add_user(engine, "ada", "admin", now)
    client = app.test_client()
    csrf = login(client, "ada")
    client.post("/admin/canned", data={"title": "Horario", "body": "Hola {first_name}", "language": "es",
                                       "csrf_token": csrf})
    client.post("/admin/canned", data={"title": "Horaire", "body": "Bonjour", "language": "fr", "csrf_token": csrf})
    with Session(engine) as session:
        assert session.execute(select(CannedResponse.title, CannedResponse.language)).all() == [("Horario", "es")]
    page = client.get("/admin/").get_data(as_text=True)
    assert '<option value="es" selected>Español</option>' in page
