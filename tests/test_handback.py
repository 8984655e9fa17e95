"""Resolve never strands a patient: the hand-back to Rasa is stored with the resolve and delivered until
Rasa confirms, against a fake Rasa on loopback that fails a few times, or always.

The clock is the test's: each retry is made due by moving it past the backoff, so no test sleeps.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import CommandKind, CommandStatus, ConversationCommand, HandoffTicket, TicketNote, TicketStatus
from bot.settings import Settings
from bot.staff import handback, handoff
from channels.rasa_commands import deliver_conversation_commands
from channels.sms_twilio.sender import OutboxSender
from tests.web_helpers import add_user, login, make_app, open_ticket

PHONE = "+15035550123"


class FakeRasa:
    """Rasa's tracker-events endpoint on a free loopback port: answers ``failures`` times 503, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.events: list[tuple[str, dict]] = []  # (path, event) of every request, answered or not
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.events.append((self.path, json.loads(body)))
                status = 503 if len(fake.events) <= fake.failures else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def kinds(self) -> list[str]:
        return [event["event"] for _, event in self.events]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake_rasa():
    made = []

    def make(failures: int) -> FakeRasa:
        made.append(FakeRasa(failures))
        return made[-1]

    yield make
    for fake in made:
        fake.stop()


def _inbox(engine, clock, rasa: FakeRasa, now):
    app = make_app(engine, clock, rasa_url=rasa.url, rasa_token="s3cret")
    add_user(engine, "bea", "billing", now, display_name="Bea")
    client = app.test_client()
    return client, login(client, "bea")


def _retry_pass(engine, rasa: FakeRasa, clock) -> int:
    """One pass of the outbox sender's loop, once every backoff has run out."""
    clock.at += timedelta(minutes=10)
    return deliver_conversation_commands(engine, Settings(rasa_url=rasa.url, rasa_token="s3cret"), clock)


def _commands(engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        return [(c.kind.value, c.status.value, c.attempts)
                for c in session.execute(select(ConversationCommand).order_by(ConversationCommand.id)).scalars()]


def _queue_status(client, ticket_id):
    rows = {t["id"]: t for t in client.get("/api/queue").get_json()["tickets"]}
    return rows.get(ticket_id)


def test_a_resume_rasa_refuses_three_times_is_handing_back_until_it_succeeds(engine, now, clock, fake_rasa):
    rasa = fake_rasa(failures=3)
    client, csrf = _inbox(engine, clock, rasa, now)
    ticket_id = open_ticket(engine, PHONE, "billing", now)

    response = client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf}, follow_redirects=True)
    assert "handing back…" in response.get_data(as_text=True)  # the flash, and the ticket's status
    assert _commands(engine) == [("resume", "pending", 1)]
    with Session(engine) as session:
        assert session.get(HandoffTicket, ticket_id).status == TicketStatus.RESOLVED
    row = _queue_status(client, ticket_id)
    assert (row["status"], row["status_label"], row["handing_back"]) == ("resolved", "handing back…", True)
    assert client.get(f"/api/tickets/{ticket_id}/transcript").get_json()["ticket"]["status_label"] == "handing back…"
    page = client.get("/").get_data(as_text=True)
    assert "handing back…" in page

    assert _retry_pass(engine, rasa, clock) == 0
    assert _retry_pass(engine, rasa, clock) == 0
    assert _commands(engine) == [("resume", "pending", 3)]
    assert _retry_pass(engine, rasa, clock) == 1  # the fourth try: Rasa confirms
    assert _commands(engine) == [("resume", "done", 4)]
    assert rasa.kinds() == ["resume"] * 4
    assert {path for path, _ in rasa.events} == {"/conversations/+15035550123/tracker/events?token=s3cret"}
    assert _queue_status(client, ticket_id) is None  # gone from the open queue: the bot has the patient
    assert _retry_pass(engine, rasa, clock) == 0 and len(rasa.events) == 4  # never sent again


def test_a_resume_rasa_never_takes_puts_the_ticket_back_open_with_a_note_and_an_alert(engine, now, clock, fake_rasa):
    rasa = fake_rasa(failures=10**6)
    client, csrf = _inbox(engine, clock, rasa, now)
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    client.post(f"/tickets/{ticket_id}/claim", data={"csrf_token": csrf})
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})

    for _ in range(handback.MAX_ATTEMPTS - 1):
        _retry_pass(engine, rasa, clock)
    assert _commands(engine) == [("resume", "failed", handback.MAX_ATTEMPTS)]
    assert len(rasa.events) == handback.MAX_ATTEMPTS
    with Session(engine) as session:
        ticket = session.get(HandoffTicket, ticket_id)
        assert (ticket.status, ticket.claimed_by, ticket.resolved_at) == (TicketStatus.OPEN, None, None)
        note = session.execute(select(TicketNote)).scalar_one()
    assert note.staff_user_id is None
    assert "could not take this conversation back (8 tries; last: Rasa at" in note.body and "HTTP 503" in note.body

    row = _queue_status(client, ticket_id)
    assert (row["status_label"], row["alert"]) == ("open", "hand-back failed")
    assert '<b class="alert">hand-back failed</b>' in client.get("/").get_data(as_text=True)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "could not take this conversation back, so the ticket is open again" in page
    assert str(escape(note.body)) in page  # in the transcript, as the assistant's note
    assert _retry_pass(engine, rasa, clock) == 0 and len(rasa.events) == handback.MAX_ATTEMPTS  # given up

    # Staff resolve again once Rasa runs: the alert goes with the new hand-back.
    rasa.failures = 0
    rasa.events.clear()
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    assert rasa.kinds() == ["resume"]
    with Session(engine) as session, session.begin():
        assert handback.hand_back_states(session, [ticket_id]) == {}


def test_reopen_while_handing_back_sends_only_the_pause(engine, now, clock, fake_rasa):
    rasa = fake_rasa(failures=1)  # the resolve's own try fails
    client, csrf = _inbox(engine, clock, rasa, now)
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": csrf})
    client.post(f"/tickets/{ticket_id}/reopen", data={"csrf_token": csrf})  # Rasa answers again: the pause
    assert rasa.kinds() == ["resume", "pause"]
    assert _commands(engine) == [("resume", "superseded", 1), ("pause", "done", 1)]
    assert _retry_pass(engine, rasa, clock) == 0
    assert rasa.kinds() == ["resume", "pause"]  # the stale resume is never sent after the pause


def test_the_outbox_senders_loop_delivers_hand_backs(engine, now, fake_rasa):
    rasa = fake_rasa(failures=0)
    with Session(engine) as session, session.begin():
        ticket_id = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now).id
        handback.resolve_and_hand_back(session, ticket_id, None, now)
    settings = Settings(database_url=str(engine.url), rasa_url=rasa.url, twilio_api_base="http://127.0.0.1:9")
    sender = OutboxSender.from_settings(settings, engine)
    sender.clock = lambda: now + timedelta(seconds=1)
    sender.run(once=True)
    assert rasa.kinds() == ["resume"]
    assert _commands(engine) == [("resume", "done", 1)]


def test_a_resume_is_dropped_when_an_open_ticket_holds_the_conversation_again(engine, now):
    delivered = []
    with Session(engine) as session, session.begin():
        first = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now).id
        handback.resolve_and_hand_back(session, first, None, now)
        handoff.open_ticket(session, phone=PHONE, queue="front_desk", reason="a picture", now=now)
    count = handback.deliver_due(sessionmaker(bind=engine, future=True), lambda kind, phone: delivered.append(kind),
                                 lambda: now)
    assert (count, delivered) == (0, [])
    assert _commands(engine) == [("resume", "superseded", 1)]


def test_a_command_is_delivered_by_one_deliverer_and_one_phones_commands_in_order(any_engine, now):
    """On SQLite and PostgreSQL: the claim is one conditional UPDATE with a lease."""
    with Session(any_engine) as session, session.begin():
        ticket_id = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now).id
        handoff.resolve_ticket(session, ticket_id, None, now)
        resume = handback.request_command(session, CommandKind.RESUME, phone=PHONE, ticket_id=ticket_id, now=now).id
    with Session(any_engine) as session, session.begin():
        assert handback.claim(session, resume, now) is not None
    with Session(any_engine) as session, session.begin():
        assert handback.claim(session, resume, now) is None  # another deliverer has it
        # A pause while the resume is on its way: not superseding it, and waiting for it.
        pause = handback.request_command(session, CommandKind.PAUSE, phone=PHONE, ticket_id=ticket_id, now=now).id
    with Session(any_engine) as session, session.begin():
        assert handback.claim(session, pause, now) is None
        handback.mark_delivered(session, resume, now)
    with Session(any_engine) as session, session.begin():
        assert handback.claim(session, pause, now).kind == "pause"
        assert session.get(ConversationCommand, resume).status == CommandStatus.DONE
