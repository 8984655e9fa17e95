"""Minimum necessary: a ticket shows its own conversation, and of a phone's other conversations only what
the viewer's role may see; sensitive visit types are named only to clinical staff and admins.

One phone has an earlier clinical (a refill, by medication), front-desk and billing conversation, all
resolved, and a behavioral-health visit booked. Each role opens a new ticket of its own queue on that
phone; the page and the transcript API must show exactly the allowed parts.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from bot.messaging.inbound import store_inbound, triage_inbound
from bot.messaging.outbox import enqueue_text
from bot.models import Patient
from bot.staff import handoff
from bot.wording import texts
from tests.web_helpers import add_appointment, add_user, login, open_ticket

PHONE = "+15035550123"

# What each earlier conversation said: the patient's text, the staff reply and a note.
EARLIER = {
    "clinical": ("Can I get a refill of my sertraline?", "Your sertraline refill is at the pharmacy.",
                 "Dr. Patel approved the sertraline refill"),
    "front_desk": ("Can I move my appointment to Friday?", "Moved to Friday 3 PM.", "Patient prefers afternoons"),
    "billing": ("Why was I charged twice?", "The second charge was refunded.", "Refund number 4471"),
}
BETWEEN = "Reminder: Riverside Family Medicine, your visit is soon."  # an automated text outside every span
NEW_TEXT = "Please call me back today"

# Which earlier conversations each role sees; the rest are withheld. Admin opens a billing ticket.
OWN_QUEUE = {"front_desk": "front_desk", "billing": "billing", "clinical": "clinical", "admin": "billing"}
SEES = {
    "front_desk": {"front_desk"},
    "billing": {"billing"},
    "clinical": {"clinical"},
    "admin": {"clinical", "front_desk", "billing"},
}
WITHHELD_LINES = {
    "clinical": "1 earlier clinical conversation, not shown",
    "front_desk": "1 earlier front desk conversation, not shown",
    "billing": "1 earlier billing conversation, not shown",
}
SENSITIVE_TYPE = "Behavioral health visit"


def _staff_reply(session, ticket_id: int, user_id: int, body: str, at) -> None:
    enqueue_text(session, PHONE, body, "staff", at, ticket_id=ticket_id, staff_user_id=user_id)
    handoff.record_staff_reply(session, ticket_id, at)


@pytest.fixture
def history(engine, now):
    """The phone's earlier conversations (one per queue, resolved) and a booked sensitive visit."""
    with Session(engine) as session, session.begin():
        patient = Patient(phone=PHONE, first_name="Dana", last_name="Reyes", date_of_birth=date(1980, 5, 4))
        session.add(patient)
        session.flush()
        patient_id = patient.id
        add_appointment(session, patient_id, "patel", "behavioral_health", now + timedelta(days=2))
    writer = add_user(engine, "writer", "admin", now - timedelta(days=30), display_name="Writer")
    tickets = {}
    for days_ago, queue in [(7, "clinical"), (5, "front_desk"), (3, "billing")]:
        at = now - timedelta(days=days_ago)
        text, reply, note = EARLIER[queue]
        ticket_id = open_ticket(engine, PHONE, queue, at, reason=f"{queue} question", patient_id=patient_id,
                                texts=(text,))
        with Session(engine) as session, session.begin():
            _staff_reply(session, ticket_id, writer, reply, at + timedelta(minutes=10))
            handoff.add_note(session, ticket_id, writer, note, at + timedelta(minutes=11))
            handoff.resolve_ticket(session, ticket_id, writer, at + timedelta(minutes=20))
        tickets[queue] = ticket_id
    with Session(engine) as session, session.begin():
        enqueue_text(session, PHONE, BETWEEN, "reminder", now - timedelta(days=1))
    return {"patient_id": patient_id, "tickets": tickets}


@pytest.mark.parametrize("role", ["front_desk", "billing", "clinical", "admin"])
def test_each_role_sees_its_ticket_and_only_the_earlier_conversations_of_its_queues(
        app, engine, now, history, role):
    ticket_id = open_ticket(engine, PHONE, OWN_QUEUE[role], now, reason="call back",
                            patient_id=history["patient_id"], texts=(NEW_TEXT,))
    add_user(engine, "viewer", role, now)
    client = app.test_client()
    login(client, "viewer")

    page = client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    entries = client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["entries"]
    bodies = [e["body"] for e in entries]

    for text in (NEW_TEXT,):
        assert text in html and text in bodies
    for queue, words in EARLIER.items():
        for words_said in words:
            if queue in SEES[role]:
                assert words_said in html and words_said in bodies, (queue, words_said)
            else:
                assert words_said not in html and words_said not in bodies, (queue, words_said)
        line = WITHHELD_LINES[queue]
        if queue in SEES[role]:
            assert line not in html and line not in bodies
        else:
            assert line in html and line in bodies
    assert BETWEEN not in html and BETWEEN not in bodies  # outside every conversation: nobody's to read
    assert "sertraline" not in html.lower() or "clinical" in SEES[role]

    if role in ("clinical", "admin"):
        assert f"Dr. Patel · {SENSITIVE_TYPE}" in html
    else:
        assert SENSITIVE_TYPE not in html and "Behavioral" not in html
        assert "Wed Mar 3, 9:00 AM · Dr. Patel · a visit" in html


def test_earlier_conversations_are_withheld_in_order_and_shown_ones_are_marked(app, engine, now, history):
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, reason="call back",
                            patient_id=history["patient_id"], texts=(NEW_TEXT,))
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    entries = client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["entries"]
    front_desk = history["tickets"]["front_desk"]
    assert [(e["who"], e["body"]) for e in entries] == [
        ("withheld", "1 earlier clinical conversation, not shown"),
        ("span", f"Earlier front desk conversation (ticket {front_desk})"),
        ("patient", EARLIER["front_desk"][0]),
        ("staff", EARLIER["front_desk"][1]),
        ("note", EARLIER["front_desk"][2]),
        ("withheld", "1 earlier billing conversation, not shown"),
        ("span", f"This conversation (ticket {ticket_id})"),
        ("patient", NEW_TEXT),
    ]
    assert entries[1]["url"] == f"/tickets/{front_desk}"


def test_a_resolved_ticket_shows_nothing_of_later_conversations(app, engine, now, history):
    open_ticket(engine, PHONE, "clinical", now, reason="call back", patient_id=history["patient_id"],
                texts=(NEW_TEXT,))
    add_user(engine, "cleo", "clinical", now)
    client = app.test_client()
    login(client, "cleo")
    first = history["tickets"]["clinical"]
    entries = client.get(f"/api/tickets/{first}/transcript").get_json()["entries"]
    assert [e["body"] for e in entries] == list(EARLIER["clinical"])  # no markers: nothing before it


def _text_while_with_staff(engine, body: str, at) -> None:
    """A text arriving as the SMS channel stores and triages it (joining the open ticket; an emergency opens one)."""
    with Session(engine) as session, session.begin():
        message, _ = store_inbound(session, message_sid=f"SMsame{at.timestamp():.0f}", phone=PHONE,
                                   to_number="+15035550199", body=body, media=[], now=at)
        triage_inbound(session, message, now=at, advanced_opt_out=False)


def test_a_conversation_at_the_same_time_in_a_hidden_queue_is_withheld(app, engine, now):
    billing = open_ticket(engine, PHONE, "billing", now, texts=("Question about my bill",))
    _text_while_with_staff(engine, "is the copay $40?", now + timedelta(minutes=1))
    _text_while_with_staff(engine, "my chest hurts", now + timedelta(minutes=5))
    _text_while_with_staff(engine, "it is getting worse", now + timedelta(minutes=6))
    with Session(engine) as session:
        urgent = handoff.open_ticket_for(session, PHONE).id
    assert urgent != billing
    add_user(engine, "bea", "billing", now)
    add_user(engine, "cleo", "clinical", now)

    client = app.test_client()
    login(client, "bea")
    entries = client.get(f"/api/tickets/{billing}/transcript").get_json()["entries"]
    assert [e["body"] for e in entries] == [
        f"This conversation (ticket {billing})", "Question about my bill", "is the copay $40?",
        "1 urgent conversation at the same time, not shown"]

    client = app.test_client()
    login(client, "cleo")
    entries = client.get(f"/api/tickets/{urgent}/transcript").get_json()["entries"]
    assert [e["body"] for e in entries] == [
        "1 earlier billing conversation, not shown", f"This conversation (ticket {urgent})",
        "my chest hurts", texts.TEMPLATES["emergency"], "it is getting worse"]


def test_consecutive_hidden_conversations_of_a_queue_are_one_line(app, engine, now):
    for days_ago in (9, 8):
        earlier = open_ticket(engine, PHONE, "clinical", now - timedelta(days=days_ago), texts=("my lab results?",))
        with Session(engine) as session, session.begin():
            handoff.resolve_ticket(session, earlier, None, now - timedelta(days=days_ago, hours=-1))
    ticket_id = open_ticket(engine, PHONE, "billing", now, texts=("a bill question",))
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "2 earlier clinical conversations, not shown" in html
    assert "lab results" not in html


def test_a_patients_visit_type_is_named_unless_sensitive(app, engine, now):
    with Session(engine) as session, session.begin():
        patient = Patient(phone=PHONE, first_name="Dana", last_name="Reyes")
        session.add(patient)
        session.flush()
        for key, days in [("flu_shot", 1), ("womens_health", 2)]:
            add_appointment(session, patient.id, "lopez", key, now + timedelta(days=days))
        patient_id = patient.id
    ticket_id = open_ticket(engine, PHONE, "billing", now, patient_id=patient_id)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "Tue Mar 2, 9:00 AM · Maria Lopez, NP · Flu shot" in html
    assert "Wed Mar 3, 9:00 AM · Maria Lopez, NP · a visit" in html
    assert "Women" not in html
