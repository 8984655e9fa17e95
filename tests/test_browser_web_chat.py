"""The website chat widget in a real browser (Debian's Chromium via Playwright) at 375 px, over the real chat
API, database and event stream; Rasa is a table (no model). Keyboard only: Tab to the bubble, Enter, type,
Escape. Every request the page makes goes to the assistant's own server (no third party)."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import OutboundMessage, WebChat
from bot.settings import Settings
from channels.web_chat.rasa_channel import WebChatChannel
from tests.channel_helpers import FakeBrain, SanicServer, wait_for
from tests.test_browser_inbox import page  # noqa: F401  (the Chromium page fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def site(engine):
    """The chat channel on a loopback port; the sample page it serves is the practice's site."""
    brain = FakeBrain({"what are your hours": [{"text": "We are open Mon-Fri 8-5."}]})
    channel = WebChatChannel(settings=Settings(), engine=engine, retry_delays=(0.05, 0.1))
    app = Sanic(f"web_chat_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(brain), url_prefix="/webhooks/web_chat")
    server = SanicServer(app)
    channel.settings = dataclasses.replace(channel.settings, web_chat_origins=(server.base_url,))
    yield server.base_url
    server.stop()


def test_the_widget_is_usable_by_keyboard_at_375_px_and_talks_to_the_assistant(site, page, engine):  # noqa: F811
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.set_viewport_size({"width": 375, "height": 720})
    page.goto(site + "/webhooks/web_chat/sample")
    bubble = page.locator("button.pc-bubble")
    bubble.wait_for()
    assert bubble.get_attribute("aria-label").startswith("Chat with")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "pc-bubble"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    assert bubble.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.id") == "pc-input"
    log = page.locator("[role=log][aria-live=polite]")
    assert "verify your phone first" in log.inner_text()  # the welcome says so; nothing about health is shown
    page.keyboard.type("what are your hours")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.pc-log').innerText.includes('We are open Mon-Fri 8-5.')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing sticks out at 375 px
    box = page.locator("#pc-panel").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    page.keyboard.press("Escape")
    assert page.locator("#pc-panel").is_hidden()
    assert page.evaluate("document.activeElement.className") == "pc-bubble"
    assert requested and all(url.startswith(site + "/") for url in requested), requested


def test_the_widget_verifies_a_phone_with_the_texted_code(site, page, engine):  # noqa: F811
    page.set_viewport_size({"width": 375, "height": 720})
    page.goto(site + "/webhooks/web_chat/sample")
    page.locator("button.pc-bubble").click()
    page.get_by_role("button", name="Verify my phone").click()
    page.get_by_label("Your mobile number").fill("(503) 555-0111")
    page.get_by_role("button", name="Text me a code").click()
    page.wait_for_function("document.querySelector('.pc-log').innerText.includes('a code is on its way')")

    def texted_code():
        with Session(engine) as session:
            row = session.execute(select(OutboundMessage).where(OutboundMessage.kind == "verification")).scalar()
            return row and next(w for w in row.body.split() if w.isdigit() and len(w) == 6)
    code = wait_for(texted_code)
    page.get_by_label("The 6-digit code we texted you").fill(code)
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.pc-log').innerText.includes('your phone is verified')")
    with Session(engine) as session:
        assert session.execute(select(WebChat.verified_phone)).scalar_one() == "+15035550111"
