"""The staff inbox in a real browser (Debian's Chromium driven by Playwright) over a real app and database.

A billing patient's conversation is claimed, answered (the reply goes through
the outbox sender into the Twilio stub) and resolved (Rasa, here a recorder,
gets the resume event); new texts and tickets appear without a reload. All of it under the inbox's
Content-Security-Policy: anything the policy refuses (an inline script, say) fails the test.
"""
from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from bot.models import CannedResponse, OutboundMessage, Patient
from bot.settings import Settings
from tests.ci import require
from tests.web_helpers import PASSWORD, add_user, make_app, open_ticket, patient_texts

playwright_api = require("playwright.sync_api")
pytestmark = pytest.mark.browser

PHONE = "+15035550123"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def rasa(webhook_receiver):  # noqa: F811
    webhook_receiver.response = (200, "{}", "application/json")
    return webhook_receiver


@pytest.fixture
def inbox(engine, clock, rasa, twilio_stub):  # noqa: F811
    """The real app on a free loopback port, in a thread."""
    app = make_app(engine, clock, rasa_url=rasa.url("").rstrip("/"), twilio_api_base=twilio_stub.base_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page():
    import os
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(10_000)
        refused = []  # what the Content-Security-Policy blocked: must stay empty (checked in each test)
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.csp_refusals = refused
        yield page
        browser.close()


def _log_in(page, base: str, username: str) -> None:
    response = page.goto(base + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_billing_staff_claims_replies_and_resolves_a_conversation(page, inbox, engine, now, clock, rasa,
                                                                   twilio_stub):  # noqa: F811
    expect = playwright_api.expect
    with Session(engine) as session, session.begin():
        patient = Patient(phone=PHONE, first_name="Dana", last_name="Reyes", date_of_birth=date(1980, 5, 4))
        session.add(patient)
        session.add(CannedResponse(title="Greeting", body="Hi {first_name}, this is {practice_name}."))
        session.flush()
        patient_id = patient.id
    ticket_id = open_ticket(engine, PHONE, "billing", now, reason="question about a bill", patient_id=patient_id,
                            texts=("Why was I charged twice?",))
    add_user(engine, "bea", "billing", now, display_name="Bea")

    _log_in(page, inbox, "bea")
    row = page.locator(f"#queue-body tr[data-id='{ticket_id}']")
    expect(row).to_contain_text("Dana Reyes")
    expect(row).to_contain_text("question about a bill")
    row.get_by_role("link").click()

    expect(page.locator("#transcript")).to_contain_text("Why was I charged twice?")
    page.click("#claim")
    expect(page.locator("#ticket-claimed")).to_have_text("Bea")

    clock.at = now + timedelta(minutes=10)
    page.select_option("#canned", label="Greeting")
    expect(page.locator("#reply-body")).to_have_value("Hi Dana, this is Riverside Family Medicine.")
    page.locator("#reply-body").press("End")
    page.locator("#reply-body").type(" The second charge was refunded.")
    page.get_by_role("button", name="Send text").click()
    reply = "Hi Dana, this is Riverside Family Medicine. The second charge was refunded."
    expect(page.locator("#transcript li.staff")).to_contain_text(reply)

    with Session(engine) as session:
        row = session.execute(select(OutboundMessage)).scalar_one()
    assert (row.phone, row.body, row.kind, row.ticket_id) == (PHONE, reply, "staff", ticket_id)

    from channels.sms_twilio.sender import OutboxSender
    settings = Settings(database_url=str(engine.url), twilio_api_base=twilio_stub.base_url)
    sender = OutboxSender.from_settings(settings, engine)
    sender.clock = lambda: now + timedelta(minutes=11)
    assert sender.send_due() == 1
    assert [m["body"] for m in twilio_stub.messages(to=PHONE)] == [reply]
    expect(page.locator("#transcript li.staff .delivery")).not_to_have_text("pending")  # updated by polling

    patient_texts(engine, PHONE, ["Great, thank you!"], now + timedelta(minutes=12))
    expect(page.locator("#transcript li.patient").last).to_contain_text("Great, thank you!")

    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(inbox + "/")
    expect(page.locator(".flash")).to_contain_text("the assistant has the conversation again")
    expect(page.locator(f"#queue-body tr[data-id='{ticket_id}']")).to_have_count(0)
    (resume,) = rasa.requests
    assert resume.path == "/conversations/+15035550123/tracker/events"
    assert json.loads(resume.raw) == {"event": "resume"}
    assert page.csp_refusals == []  # the whole flow ran under the inbox's Content-Security-Policy


def test_new_ticket_appears_in_the_open_queue_without_reload(page, inbox, engine, now):
    add_user(engine, "fran", "front_desk", now)
    _log_in(page, inbox, "fran")
    playwright_api.expect(page.locator("#queue-empty")).to_be_visible()
    ticket_id = open_ticket(engine, "+15035550177", "urgent", now, reason="chest pain")
    row = page.locator(f"#queue-body tr[data-id='{ticket_id}']")
    playwright_api.expect(row).to_contain_text("chest pain")
    playwright_api.expect(page.locator("#queue-empty")).to_be_hidden()
    assert page.csp_refusals == []
