"""review-nlu: which real texts reach the trainer, and that nothing personal does."""
from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import timedelta

import yaml
from sqlalchemy.orm import Session

from bot.models import HandoffTicket, InboundMessage, Patient
from tests.rows import sms
from tools.review_nlu import TO_LABEL, export_review, render_review_yaml, texts_for_review
from workers.cli import build_parser


def _add_inbound(session, now, body, *, intent=None, confidence=None, ticket_id=None,
                 phone="+15035550111", days_ago=1):
    session.add(InboundMessage(
        message_sid=f"SM{uuid.uuid4().hex}", **sms(session, phone, inbound=True), body=body,
        received_at=now - timedelta(days=days_ago), status="processed", intent=intent,
        confidence=confidence, ticket_id=ticket_id))


def _ticket(session, now, phone="+15035550111"):
    ticket = HandoffTicket(queue="front_desk", reason="patient asked", **sms(session, phone), due_at=now + timedelta(hours=2),
                           created_at=now, last_activity_at=now)
    session.add(ticket)
    session.flush()
    return ticket.id


def _patient(session, first, last, phone="+15035550111"):
    session.add(Patient(phone=phone, first_name=first, last_name=last))


def _examples(document: dict) -> dict[str, list[str]]:
    """intent -> example lines of a Rasa NLU document."""
    return {
        block["intent"]: [line[2:] for line in block["examples"].splitlines() if line.startswith("- ")]
        for block in document["nlu"]
    }


def test_fallbacks_handoffs_and_unsure_texts_are_exported_but_confident_ones_are_not(engine, now):
    with Session(engine) as session, session.begin():
        ticket_id = _ticket(session, now)
        _add_inbound(session, now, "can my dog come to the cleaning", intent="nlu_fallback", confidence=0.3)
        _add_inbound(session, now, "whats the wifi password", intent="out_of_scope", confidence=0.9)
        _add_inbound(session, now, "the thing from last time again pls", intent=None, ticket_id=ticket_id)
        _add_inbound(session, now, "move me to the afternoon maybe", intent="reschedule_appointment", confidence=0.55)
        _add_inbound(session, now, "cancel my appointment", intent="cancel_appointment", confidence=0.98)
        _add_inbound(session, now, "what is going on with my bill", intent="billing_question", confidence=0.3,
                     days_ago=45)

    with Session(engine) as session:
        picked = texts_for_review(session, now - timedelta(days=30))

    by_text = {item.text: item for item in picked}
    assert set(by_text) == {"can my dog come to the cleaning", "whats the wifi password",
                            "the thing from last time again pls", "move me to the afternoon maybe"}
    assert by_text["can my dog come to the cleaning"].reason == "fallback"
    assert by_text["the thing from last time again pls"].reason == "handed to staff"
    assert by_text["move me to the afternoon maybe"].reason == "low confidence"


def test_phones_emails_and_patient_names_are_masked(engine, now):
    with Session(engine) as session, session.begin():
        _patient(session, "Rosalind", "Okonkwo-Baptiste")
        _add_inbound(session, now, "this is rosalind OKONKWO-baptiste, call me at (503) 555-0147 or "
                                   "rosa.ok@example.com", intent="nlu_fallback", confidence=0.2)

    with Session(engine) as session:
        [item] = texts_for_review(session, now - timedelta(days=30))

    assert item.text == "this is [name] [name]-[name], call me at [phone] or [email]"
    for secret in ("rosalind", "okonkwo", "baptiste", "555", "0147", "example.com"):
        assert secret not in item.text.lower()


def test_duplicates_differing_in_case_spacing_or_name_are_exported_once(engine, now):
    with Session(engine) as session, session.begin():
        _patient(session, "Dana", "Whitlock")
        _patient(session, "Lee", "Marsh", phone="+15035550112")
        _add_inbound(session, now, "Hi it's Dana  can I bring   my kid", intent="nlu_fallback", confidence=0.2)
        _add_inbound(session, now, "hi it's lee can i bring my kid", intent="nlu_fallback", confidence=0.1,
                     phone="+15035550112")
        _add_inbound(session, now, "HI IT'S DANA CAN I BRING MY KID", intent="nlu_fallback", confidence=0.3,
                     days_ago=2)

    with Session(engine) as session:
        picked = texts_for_review(session, now - timedelta(days=30))

    assert [item.text.lower() for item in picked] == ["hi it's [name] can i bring my kid"]


def test_review_file_is_rasa_nlu_yaml_grouped_by_predicted_intent(engine, now, tmp_path):
    with Session(engine) as session, session.begin():
        ticket_id = _ticket(session, now)
        _add_inbound(session, now, "can my dog come", intent="nlu_fallback", confidence=0.3)
        _add_inbound(session, now, "is parking free", intent="office_info", confidence=0.41)
        _add_inbound(session, now, "do u validate parking", intent="office_info", confidence=0.52)
        _add_inbound(session, now, "hmm [see](provider) me", intent=None, ticket_id=ticket_id)
    out = tmp_path / "review.yml"

    written = export_review(engine, out, now - timedelta(days=30), now, tracker_db=None)

    text = out.read_text()
    assert "TRAINER" in text.split('version: "3.1"')[0]  # the instructions come first, as comments
    document = yaml.safe_load(text)
    assert document["version"] == "3.1"
    examples = _examples(document)
    assert list(examples) == [TO_LABEL, "nlu_fallback", "office_info"]
    assert examples["office_info"] == ["is parking free", "do u validate parking"]  # least sure first
    assert examples[TO_LABEL] == ["hmm [see] (provider) me"]  # no accidental entity markup
    assert len(written) == 4


def test_empty_review_file_is_still_valid_yaml(now):
    document = yaml.safe_load(render_review_yaml([], since=now - timedelta(days=30), now=now))
    assert document == {"version": "3.1", "nlu": []}


def test_predictions_missing_on_inbound_rows_are_taken_from_rasas_sqlite_tracker_store(engine, now, tmp_path):
    tracker_db = tmp_path / "rasa_tracker.db"
    connection = sqlite3.connect(tracker_db)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                       "timestamp FLOAT, intent_name TEXT, action_name TEXT, data TEXT)")
    for text, intent, confidence in [("do you do teeth whitening", "book_appointment", 0.42),
                                     ("cancel tuesday", "cancel_appointment", 0.97)]:
        data = {"event": "user", "text": text,
                "parse_data": {"intent": {"name": intent, "confidence": confidence}}}
        connection.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                           "VALUES (?, 'user', ?, ?, ?)",
                           ("+15035550111", (now - timedelta(days=1)).timestamp(), intent, json.dumps(data)))
    connection.commit()
    connection.close()
    with Session(engine) as session, session.begin():
        _add_inbound(session, now, "Do you do teeth whitening")
        _add_inbound(session, now, "cancel tuesday")

    out = tmp_path / "review.yml"
    export_review(engine, out, now - timedelta(days=30), now, tracker_db=tracker_db)

    assert _examples(yaml.safe_load(out.read_text())) == {"book_appointment": ["Do you do teeth whitening"]}


def test_review_nlu_is_a_command_of_python_m_bot():
    args = build_parser().parse_args(["review-nlu", "--since", "7", "--out", "x.yml"])
    assert (args.since, args.out) == (7, "x.yml")
