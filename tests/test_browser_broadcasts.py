"""Broadcasts in a real browser (Debian's Chromium, Playwright) over the real app, database, outbox sender and
the Twilio stub: tomorrow's demo patients are previewed, sent to, and cancelled midway (the stub holds the
second text, so the cancel lands while it is being sent: it goes out once, the rest never), all under the
inbox's Content-Security-Policy. Also: a role that may not broadcast is refused and the refusal audited."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import broadcasts
from bot.models import Broadcast
from tests.test_browser_inbox import _log_in, inbox, page, playwright_api, rasa  # noqa: F401  (fixtures)
from tests.test_outbox_sender import sender_for
from tests.web_helpers import add_user, audit_actions

pytestmark = pytest.mark.browser
expect = playwright_api.expect


@pytest.fixture
def sending(demo_engine, twilio_stub, now):
    """The outbox sender in a thread, one text at a time, as `python -m bot outbox run` does."""
    sender = sender_for(demo_engine, twilio_stub, clock=lambda: now + timedelta(minutes=10), timeout=30)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            if not sender.send_due(limit=1):
                time.sleep(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield sender
    stop.set()
    twilio_stub.release()
    thread.join(10)


def test_tomorrows_patients_are_previewed_sent_to_and_cancelled_midway(demo_engine, inbox, page, now,  # noqa: F811
                                                                      twilio_stub, sending):
    add_user(demo_engine, "dana", "front_desk", now)
    with Session(demo_engine) as session:
        expected = broadcasts.preview(session, day=(now + timedelta(days=1)).date(),
                                      template="broadcast_closed_weather")
    assert expected.count >= 3, "the demo needs three phones with visits tomorrow"
    twilio_stub.hold(count=1, after=1)  # the first text goes, the second is held inside Twilio

    _log_in(page, inbox, "dana")
    page.click("nav >> text=Broadcasts")
    page.select_option("select[name=template]", "broadcast_closed_weather")
    page.click("text=Preview")
    assert page.locator("#broadcast-count strong").inner_text() == str(expected.count)
    assert "segment" in page.locator("#broadcast-count").inner_text()
    assert "closed today because of the weather" in page.locator(".broadcast-text").first.inner_text()
    skipped = page.locator("#broadcast-skipped").inner_text()
    for skip in expected.skipped:
        assert skip.names[0] in skipped
    page.click(f"text=Send {expected.count} texts")
    page.wait_for_selector("#broadcast-progress")

    assert twilio_stub.wait_held(1, timeout=20)  # one sent, one being sent
    expect(page.locator("[data-count=sent]")).to_have_text("1")
    page.click("#broadcast-cancel button")
    page.wait_for_selector("text=Broadcast cancelled")
    twilio_stub.release()  # the text Twilio held now completes: sent once, not lost
    expect(page.locator("[data-count=sent]")).to_have_text("2")  # refreshed by the page's polling
    assert page.locator("[data-count=cancelled]").inner_text() == str(expected.count - 2)
    assert page.locator("[data-count=queued]").inner_text() == "0"
    assert page.locator("#broadcast-state").inner_text() == "Cancelled."
    time.sleep(0.3)  # the sender keeps running: nothing cancelled goes out
    bodies = [m["body"] for m in twilio_stub.messages() if "because of the weather" in m["body"]
              or "por el mal tiempo" in m["body"]]
    assert len(bodies) == 2
    with Session(demo_engine) as session:
        assert session.execute(select(Broadcast.cancelled_at)).scalar_one() is not None
    actions = [a[0] for a in audit_actions(demo_engine)]
    assert "broadcast" in actions and "broadcast_cancel" in actions
    assert page.csp_refusals == []


def test_a_billing_user_is_refused_the_broadcasts_page(demo_engine, inbox, page, now):  # noqa: F811
    add_user(demo_engine, "bill", "billing", now)
    _log_in(page, inbox, "bill")
    assert page.locator("nav >> text=Broadcasts").count() == 0
    response = page.goto(inbox + "/broadcasts")
    assert response.status == 403
    assert any(a[0] == "denied" and "broadcasts" in (a[3] or "") for a in audit_actions(demo_engine))
