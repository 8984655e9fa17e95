"""The staff inbox in a real browser (Debian's Chromium driven by Playwright) over a real app and database.

A billing patient's conversation is claimed, answered (the reply goes through
the outbox sender into the Twilio stub) and resolved (Rasa, here a recorder,
gets the resume event); new texts and tickets appear without a reload. All of it under the inbox's
Content-Security-Policy: anything the policy refuses (an inline script, say) fails the test.
"""
from __future__ import annotations

import json
import re
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


# --- The staff's day (issue 12): queue, conversation, send guard, start, alerts, reports ---------------------

SHOTS = __import__("pathlib").Path(__file__).resolve().parent.parent / "reports"
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/ACtest0000000000000000000000000000/Messages/MM7/Media/ME7"
LONG_TEXT = ("My father has had chest pain since dinner and his face looks like it is drooping on one side. " * 15
             ).strip() + " END OF MESSAGE"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_queue_pins_urgent_filters_searches_and_moves_with_the_keyboard(page, inbox, engine, now, clock):
    expect = playwright_api.expect
    from tests.web_helpers import add_patient
    add_patient(engine, "Sam", "Okafor", "+15035550111")
    routine = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(hours=1), reason="asked for a person",
                          texts=(LONG_TEXT,))
    urgent = open_ticket(engine, "+15035550177", "urgent", now, reason="chest pain", texts=("Chest pain, face drooping",))
    add_user(engine, "fran", "front_desk", now, display_name="Fran")
    _log_in(page, inbox, "fran")

    rows = page.locator("#queue-body tr")
    expect(rows.first).to_have_attribute("data-id", str(urgent))
    expect(rows.first).to_have_class(re.compile(r"\bpinned\b"))
    expect(rows.first).to_contain_text("Urgent")
    second = page.locator(f"#queue-body tr[data-id='{routine}']")
    expect(second).not_to_have_class(re.compile(r"\bpinned\b"))
    last = second.locator(".last")
    expect(last).to_contain_text("…")
    assert len(last.inner_text()) <= 120 and "END OF MESSAGE" not in last.inner_text()
    expect(second.locator(".pulse")).to_have_text("waiting 1 h 00 min")
    _shot(page, "inbox-queue")

    page.locator("#search").click()
    page.keyboard.type("jk")  # typing in a field moves nothing
    expect(page.locator("#queue-body tr.selected")).to_have_count(0)
    page.locator("#search").fill("okafor")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#queue-body tr")).to_have_count(1)
    expect(page.locator("#queue-body tr").first).to_have_attribute("data-id", str(routine))
    page.goto(inbox + "/?unassigned=1&queue=urgent")
    expect(page.locator("#queue-body tr")).to_have_count(1)
    expect(page.locator("#queue-body tr").first).to_have_attribute("data-id", str(urgent))

    page.goto(inbox + "/")
    page.locator("body").press("j")
    expect(page.locator("#queue-body tr.selected")).to_have_attribute("data-id", str(urgent))
    page.locator("body").press("j")
    page.locator("body").press("k")
    page.locator("body").press("j")
    expect(page.locator("#queue-body tr.selected")).to_have_attribute("data-id", str(routine))
    page.wait_for_timeout(3000)  # a poll redraws the rows: the selection stays
    expect(page.locator("#queue-body tr.selected")).to_have_attribute("data-id", str(routine))
    page.locator("body").press("Enter")
    page.wait_for_url(f"{inbox}/tickets/{routine}")
    expect(page.locator("#transcript")).to_contain_text("END OF MESSAGE")  # the whole long text
    page.go_back()
    page.locator("body").press("j")
    page.locator("body").press("r")
    page.wait_for_url(f"{inbox}/tickets/{urgent}#reply")
    expect(page.locator("#reply-body")).to_be_focused()
    assert page.csp_refusals == []


def test_conversation_shows_pictures_fills_templates_and_guards_a_money_amount(page, inbox, engine, now, clock,
                                                                               twilio_stub):  # noqa: F811
    expect = playwright_api.expect
    from bot.messaging.inbound import store_inbound
    from bot.staff import handoff
    from tests.web_helpers import add_appointment, add_patient
    patient_id = add_patient(engine)
    with Session(engine) as session, session.begin():
        store_inbound(session, message_sid="SMpicture7", phone=PHONE, to_number="+15035550199", body="My card",
                      media=[{"url": MEDIA_URL, "content_type": "image/png"}], now=now)
        ticket_id = handoff.open_ticket(session, phone=PHONE, queue="billing", now=now, patient_id=patient_id,
                                        reason=f"patient sent a picture with no text: {MEDIA_URL}").id
        add_appointment(session, patient_id, "patel", "follow_up", now + timedelta(days=2))
        session.add(CannedResponse(title="Visit", body="Hi {first_name}, {staff_first_name} here: see you "
                                                       "{next_appointment}."))
    add_user(engine, "bea", "billing", now, display_name="Bea Lind")
    _log_in(page, inbox, "bea")
    page.goto(f"{inbox}/tickets/{ticket_id}")
    thumb = page.locator("#transcript img.thumb")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_js_property("naturalWidth", 48)  # the stub's PNG, fetched through the inbox
    assert "twilio.com" not in page.content()

    page.select_option("#canned", label="Visit")
    expect(page.locator("#reply-body")).to_have_value("Hi Dana, Bea here: see you Wed, Mar 3 at 9:00 AM with Dr. Patel.")
    page.locator("#reply-body").fill("Your balance is $250.")
    page.get_by_role("button", name="Send text").click()
    guard = page.locator("#send-guard")
    expect(guard).to_contain_text("$250")
    expect(guard).to_contain_text("money amount")
    expect(page.locator("#reply-body")).to_have_value("Your balance is $250.")
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
    _shot(page, "inbox-send-guard")
    page.get_by_role("button", name="Send anyway").click()
    expect(page.locator("#transcript li.staff")).to_contain_text("Your balance is $250.")

    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    expect(page.locator("#reply-body")).to_be_visible()
    assert _fits(page, 375)
    _shot(page, "inbox-conversation-375")
    page.goto(inbox + "/")
    assert _fits(page, 375)
    _shot(page, "inbox-queue-375")
    assert page.csp_refusals == []


def test_staff_start_a_conversation_and_an_opted_out_phone_is_refused(page, inbox, engine, now):
    expect = playwright_api.expect
    from bot.messaging import consent
    from tests.web_helpers import add_patient
    add_patient(engine)
    add_patient(engine, "Sam", "Okafor", "+15035550111")
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, "+15035550111", "keyword", now)
    add_user(engine, "fran", "front_desk", now)
    _log_in(page, inbox, "fran")
    page.click("#start-link")
    page.fill("#patient-search", "okafor")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Sam Okafor").click()
    expect(page.locator("#opted-out")).to_be_visible()
    expect(page.locator("#compose textarea")).to_have_count(0)

    page.fill("#patient-search", "503 555 0123")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Dana Reyes").click()
    page.fill("#reply-body", "Hi Dana, please call us about your visit.")
    _shot(page, "inbox-start-conversation")
    page.get_by_role("button", name="Send text").click()
    page.wait_for_url(re.compile(r".*/tickets/\d+$"))
    expect(page.locator("#transcript li.staff")).to_contain_text("Hi Dana, please call us about your visit.")
    with Session(engine) as session:
        assert [m.phone for m in session.execute(select(OutboundMessage)).scalars()] == [PHONE]
    assert page.csp_refusals == []


COUNT_ALERTS = """
window.__alerts = {notifications: [], tones: 0};
const RealNotification = window.Notification;
window.Notification = function (title, options) {
  window.__alerts.notifications.push({title: title, body: options && options.body});
  return new RealNotification(title, options);
};
window.Notification.permission = RealNotification.permission;
window.Notification.requestPermission = RealNotification.requestPermission.bind(RealNotification);
const RealAudio = window.AudioContext;
window.AudioContext = function () {
  const context = new RealAudio();
  const make = context.createOscillator.bind(context);
  context.createOscillator = function () { window.__alerts.tones += 1; return make(); };
  return context;
};
"""


def test_a_new_urgent_ticket_raises_a_notification_and_a_tone(page, inbox, engine, now):
    page.context.grant_permissions(["notifications"], origin=inbox)
    page.add_init_script(COUNT_ALERTS)
    open_ticket(engine, "+15035550144", "urgent", now, reason="earlier emergency")  # there before the login
    add_user(engine, "fran", "front_desk", now)
    _log_in(page, inbox, "fran")
    page.wait_for_timeout(3000)
    assert page.evaluate("window.__alerts.notifications.length") == 0  # only new urgent tickets are announced
    open_ticket(engine, "+15035550177", "front_desk", now, reason="routine")
    open_ticket(engine, "+15035550188", "urgent", now, reason="chest pain", texts=("Chest pain and a drooping face",))
    for _ in range(40):
        if page.evaluate("window.__alerts.notifications.length"):
            break
        page.wait_for_timeout(250)
    [alert] = page.evaluate("window.__alerts.notifications")
    assert alert == {"title": "Urgent patient message waiting", "body": "Open the staff inbox."}  # no health detail
    assert page.evaluate("window.__alerts.tones") == 1
    page.goto(inbox + "/reports/")  # another page: the same ticket is not announced again
    page.wait_for_timeout(3000)
    assert page.evaluate("window.__alerts.notifications.length") == 0  # a fresh page's counter
    assert page.csp_refusals == []


def test_reports_page_has_a_chart_and_a_csv_download(page, inbox, engine, now, clock):
    from bot.staff import handoff, replies
    bea = add_user(engine, "bea", "billing", now)
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
        replies.send_staff_reply(session, ticket.id, staff_user_id=bea, body="Done.", now=now + timedelta(minutes=30))
    _log_in(page, inbox, "bea")
    page.goto(inbox + "/reports/")
    playwright_api.expect(page.locator("svg.chart rect").first).to_be_visible()
    _shot(page, "inbox-reports")
    with page.expect_download() as download:
        page.click("#csv")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("queue,week,tickets,answered")
    assert "\nBilling,2027-W09,1,1,0,30.0," in text
    assert page.csp_refusals == []


def test_on_a_spanish_conversation_staff_pick_a_spanish_or_an_english_template_each_filled_in_its_words(
        page, inbox, engine, now):
    expect = playwright_api.expect
    from bot.staff import handoff
    from tests.web_helpers import add_appointment, add_patient
    patient_id = add_patient(engine, "Lucía", "Hernández")
    with Session(engine) as session, session.begin():
        session.get(Patient, patient_id).language = "es"
        add_appointment(session, patient_id, "patel", "follow_up", now + timedelta(days=2))
        session.add(CannedResponse(title="Visit", body="Hi {first_name}, see you {next_appointment}."))
        session.add(CannedResponse(title="Cita", body="Hola {first_name}, le esperamos el {next_appointment}.",
                                   language="es"))
        ticket_id = handoff.open_ticket(session, phone=PHONE, queue="front_desk", now=now, patient_id=patient_id,
                                        reason="pregunta").id
    add_user(engine, "fran", "front_desk", now)
    _log_in(page, inbox, "fran")
    page.goto(f"{inbox}/tickets/{ticket_id}")
    expect(page.locator("span.language")).to_have_text("Español")
    first_group = page.locator("#canned optgroup").first
    expect(first_group).to_have_attribute("label", "Español")  # the conversation's language comes first
    page.select_option("#canned", label="Cita")
    expect(page.locator("#reply-body")).to_have_value(
        "Hola Lucía, le esperamos el mié 3 de mar a las 9:00 AM con Dr. Patel.")
    page.locator("#reply-body").fill("")  # a template is inserted where the cursor is
    page.select_option("#canned", label="Visit")  # staff may still choose English
    expect(page.locator("#reply-body")).to_have_value("Hi Lucía, see you Wed, Mar 3 at 9:00 AM with Dr. Patel.")
    assert page.csp_refusals == []
