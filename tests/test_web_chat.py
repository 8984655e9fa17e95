"""The web chat API on a loopback server: sessions, messages through the turn machinery, the event stream
read from the database, and every refusal (origin, size, flood, another visitor's chat, timeout).

Rasa is a table (``FakeBrain``); the database, the HTTP, the stream and the staff inbox are real.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import uuid
from datetime import timedelta

import pytest
from sanic import Sanic
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messaging import web_chat
from bot.models import Channel, Conversation, InboundMessage, OutboundMessage, RateHit, WebChat
from bot.settings import Settings
from bot.staff import handoff
from channels.web_chat.rasa_channel import WebChatChannel
from tests.channel_helpers import FakeBrain, SanicServer, wait_for
from tests.web_helpers import Clock, add_user, login

SITE = "https://www.smile-dental.example"
OTHER_SITE = "https://evil.example"


@pytest.fixture
def chat_clock(now):
    return Clock(now)


@pytest.fixture
def brain():
    return FakeBrain({
        "hi": [{"text": "Hello! How can I help?"}],
        "what are your hours": [{"text": "We are open Mon-Fri 8-5."}, {"text": "Anything else?"}],
    })


@pytest.fixture
def chat_server(engine, brain, chat_clock):
    settings = dataclasses.replace(Settings(), web_chat_origins=(SITE,))
    channel = WebChatChannel(settings=settings, engine=engine, clock=chat_clock, retry_delays=(0.05, 0.1))
    channel.poll_seconds = 0.05
    channel.stream_seconds = 10.0
    app = Sanic(f"web_chat_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(brain), url_prefix="/webhooks/web_chat")
    server = SanicServer(app)
    yield channel, server
    server.stop()


def call(server, method: str, path: str, body: dict | str | None = None, origin: str | None = SITE,
         headers: dict | None = None) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = dict(headers or {})
    if origin:
        sent["Origin"] = origin
    payload = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    if payload is not None:
        sent["Content-Type"] = "application/json"
    connection.request(method, "/webhooks/web_chat" + path, body=payload, headers=sent)
    reply = connection.getresponse()
    raw = reply.read()
    connection.close()
    return reply.status, (json.loads(raw) if raw and reply.getheader("content-type", "").startswith("application/json")
                          else {}), dict(reply.getheaders())


def new_chat(server) -> tuple[str, str]:
    status, body, _ = call(server, "POST", "/session", {})
    assert status == 201, body
    return body["chat_id"], body["token"]


def say(server, chat_id: str, token: str, text: str, **extra) -> tuple[int, dict]:
    status, body, _ = call(server, "POST", "/messages", {"chat_id": chat_id, "token": token, "text": text, **extra})
    return status, body


def read_events(server, chat_id: str, token: str, count: int, last_event_id: int | None = None,
                origin: str | None = SITE) -> list[dict]:
    """Open the stream and read ``count`` message events (then hang up), as EventSource would."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Accept": "text/event-stream"}
    if origin:
        headers["Origin"] = origin
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    connection.request("GET", f"/webhooks/web_chat/events?chat_id={chat_id}&token={token}", headers=headers)
    reply = connection.getresponse()
    assert reply.status == 200, reply.read()
    assert reply.getheader("content-type").startswith("text/event-stream")
    events, current = [], {}
    while len(events) < count:
        line = reply.fp.readline().decode().rstrip("\n")
        if line == "":
            if current.get("event") == "message":
                events.append({"id": int(current["id"]), **json.loads(current["data"])})
            current = {}
            continue
        field, _, value = line.partition(":")
        current[field] = value.strip()
    connection.close()
    return events


def outbound(engine, chat_id: str) -> list[OutboundMessage]:
    with Session(engine) as session:
        return session.execute(
            select(OutboundMessage).join(Conversation, OutboundMessage.conversation_id == Conversation.id)
            .where(Conversation.channel == Channel.WEB_CHAT, Conversation.address == chat_id)
            .order_by(OutboundMessage.id)).scalars().all()


def test_a_visitor_message_is_stored_answered_by_the_bot_and_streamed_once(chat_server, engine, brain):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    status, body = say(server, chat_id, token, "what are your hours")
    assert status == 202
    with Session(engine) as session:
        message = session.get(InboundMessage, body["accepted"])
        assert (message.channel, message.conversation.address, message.body) == \
            (Channel.WEB_CHAT, chat_id, "what are your hours")
    rows = wait_for(lambda: outbound(engine, chat_id))
    assert brain.received[-1].sender_id == f"web_chat:{chat_id}"  # Rasa's sender id for the chat
    assert [r.status.value for r in rows] == ["pending"]  # the one reply waits for the widget's stream
    events = read_events(server, chat_id, token, 1)
    assert events[0]["text"] == "We are open Mon-Fri 8-5.\nAnything else?" and events[0]["from"] == "bot"
    assert wait_for(lambda: [r.status.value for r in outbound(engine, chat_id)] == ["delivered"])
    with Session(engine) as session:
        assert session.get(InboundMessage, body["accepted"]).outcome == "replied"


def test_a_reconnect_with_last_event_id_resumes_without_loss_or_repeats(chat_server, engine):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    say(server, chat_id, token, "hi")
    wait_for(lambda: len(outbound(engine, chat_id)) == 1)
    first = read_events(server, chat_id, token, 1)
    say(server, chat_id, token, "what are your hours")
    wait_for(lambda: len(outbound(engine, chat_id)) == 2)
    say(server, chat_id, token, "hi")
    wait_for(lambda: len(outbound(engine, chat_id)) == 3)
    resumed = read_events(server, chat_id, token, 2, last_event_id=first[0]["id"])
    assert [e["text"] for e in resumed] == ["We are open Mon-Fri 8-5.\nAnything else?", "Hello! How can I help?"]
    assert [e["id"] for e in first + resumed] == [r.id for r in outbound(engine, chat_id)]
    assert wait_for(lambda: {r.status.value for r in outbound(engine, chat_id)} == {"delivered"})


def test_a_staff_reply_from_the_inbox_reaches_the_stream(chat_server, engine, app, now, chat_clock):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    say(server, chat_id, token, "hi")
    wait_for(lambda: len(outbound(engine, chat_id)) == 1)
    with Session(engine) as session, session.begin():
        conversation = session.execute(select(Conversation).where(Conversation.address == chat_id)).scalar_one()
        ticket_id = handoff.open_ticket(session, conversation=conversation, queue="front_desk",
                                        reason="asked for a person", now=now).id
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    csrf = login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "Web chat" in page  # the inbox names the conversation's channel
    assert client.post(f"/tickets/{ticket_id}/reply",
                       data={"body": "Hi, this is Fran at the front desk.", "csrf_token": csrf}).status_code == 302
    events = read_events(server, chat_id, token, 2)
    assert (events[1]["text"], events[1]["from"]) == ("Hi, this is Fran at the front desk.", "staff")
    assert outbound(engine, chat_id)[-1].phone is None  # a chat without a verified phone texts no phone


def test_another_site_is_refused_and_nothing_is_stored(chat_server, engine):
    channel, server = chat_server
    status, body, _ = call(server, "POST", "/session", {}, origin=OTHER_SITE)
    assert (status, body["error"]) == (403, "origin_not_allowed")
    status, body, _ = call(server, "POST", "/session", {}, origin=None)
    assert status == 403
    status, _, headers = call(server, "OPTIONS", "/messages", origin=OTHER_SITE)
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    chat_id, token = new_chat(server)
    status, body, _ = call(server, "POST", "/messages", {"chat_id": chat_id, "token": token, "text": "hi"},
                           origin=OTHER_SITE)
    assert status == 403
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(WebChat)).scalar_one() == 1


def test_the_allowed_site_gets_cors_headers(chat_server):
    channel, server = chat_server
    status, _, headers = call(server, "OPTIONS", "/messages")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == SITE
    status, _, headers = call(server, "POST", "/session", {})
    assert headers["Access-Control-Allow-Origin"] == SITE


def test_a_message_over_1600_characters_is_refused_with_413(chat_server, engine):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    status, body = say(server, chat_id, token, "a" * 1601)
    assert (status, body["error"]) == (413, "message_too_long")
    status, body = say(server, chat_id, token, "a" * 1600)
    assert status == 202
    status, body, _ = call(server, "POST", "/messages", {"chat_id": chat_id, "token": token, "text": "x" * 20_000})
    assert status == 413
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar_one() == 1


def test_a_flood_from_one_chat_is_refused_with_429_counted_in_the_database(chat_server, engine):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    statuses = [say(server, chat_id, token, f"message {n}")[0] for n in range(13)]
    assert statuses == [202] * 12 + [429]
    assert say(server, chat_id, token, "still here")[1]["error"] == "too_many_requests"
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(RateHit)
                               .where(RateHit.key == f"chat-message:{chat_id}")).scalar_one() == 12


def test_a_flood_from_one_address_is_refused_across_chats(chat_server, chat_clock):
    channel, server = chat_server
    statuses = [call(server, "POST", "/session", {})[0] for _ in range(11)]
    assert statuses == [201] * 10 + [429]  # 10 new chats an hour per address
    chat_clock.at += timedelta(hours=1, seconds=1)
    assert call(server, "POST", "/session", {})[0] == 201


def test_messages_per_address_are_limited_across_chats(engine, now):
    with Session(engine) as session, session.begin():
        chats = [web_chat.open_chat(session, client_address=f"10.0.0.{n}", origin=SITE, now=now)[0]
                 for n in range(5)]
        for n in range(web_chat.MESSAGES_PER_ADDRESS.count):
            web_chat.receive_message(session, chats[n % 4], f"m{n}", client_address="192.0.2.7",
                                     now=now + timedelta(seconds=n))
        with pytest.raises(web_chat.Flooded):
            web_chat.receive_message(session, chats[4], "one more", client_address="192.0.2.7",
                                     now=now + timedelta(seconds=50))


def test_another_visitors_chat_cannot_be_read_or_written(chat_server, engine):
    channel, server = chat_server
    mine, my_token = new_chat(server)
    theirs, their_token = new_chat(server)
    say(server, theirs, their_token, "hi")
    wait_for(lambda: len(outbound(engine, theirs)) == 1)
    status, body = say(server, theirs, my_token, "hello")
    assert (status, body["error"]) == (403, "not_your_chat")
    status, body = say(server, "no-such-chat", my_token, "hello")
    assert (status, body["error"]) == (404, "no_such_chat")
    status, body, _ = call(server, "GET", f"/events?chat_id={theirs}&token={my_token}")
    assert (status, body["error"]) == (403, "not_your_chat")
    status, body, _ = call(server, "GET", f"/events?chat_id={theirs}")
    assert status == 403
    assert [r.status.value for r in outbound(engine, theirs)] == ["pending"]  # nothing of theirs was streamed


def test_a_chat_idle_for_30_minutes_is_over(chat_server, chat_clock):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    assert say(server, chat_id, token, "hi")[0] == 202
    chat_clock.at += timedelta(minutes=29)
    assert say(server, chat_id, token, "hi")[0] == 202
    chat_clock.at += timedelta(minutes=31)
    status, body = say(server, chat_id, token, "hi")
    assert (status, body["error"]) == (410, "chat_expired")


def test_the_token_is_stored_only_hashed(chat_server, engine):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    with Session(engine) as session:
        chat = session.execute(select(WebChat).where(WebChat.chat_id == chat_id)).scalar_one()
    assert token not in chat.token_hash and len(token) >= 40 and len(chat_id) >= 24


def test_reports_count_conversations_messages_and_tickets_per_channel(engine, app, now, clock):
    from tests.web_helpers import open_ticket
    open_ticket(engine, "+15035550123", "front_desk", now - timedelta(days=1), texts=("one", "two"))
    with Session(engine) as session, session.begin():
        for n, address in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3")):
            chat, _ = web_chat.open_chat(session, client_address=address, origin=SITE, now=now - timedelta(hours=2))
            web_chat.receive_message(session, chat, "hello", client_address=address, now=now - timedelta(hours=2))
        handoff.open_ticket(session, conversation=chat.conversation, queue="front_desk", reason="asked for a person",
                            now=now - timedelta(hours=1))
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get("/reports/").get_data(as_text=True)
    table = page[page.index('id="channel-counts"'):]
    assert "<tr><td>SMS</td><td>1</td><td>2</td><td>1</td></tr>" in table
    assert "<tr><td>Web chat</td><td>3</td><td>3</td><td>1</td></tr>" in table


def test_verify_over_http_texts_a_code_and_a_wrong_code_counts(chat_server, engine):
    channel, server = chat_server
    chat_id, token = new_chat(server)
    status, body, _ = call(server, "POST", "/verify", {"chat_id": chat_id, "token": token, "phone": "5035550111"})
    assert status == 202
    with Session(engine) as session:
        [text] = session.execute(select(OutboundMessage).where(OutboundMessage.kind == "verification")).scalars()
    code = next(word for word in text.body.split() if word.isdigit() and len(word) == 6)
    wrong = "000000" if code != "000000" else "111111"
    status, body, _ = call(server, "POST", "/verify/check", {"chat_id": chat_id, "token": token, "code": wrong})
    assert (status, body["error"], body["tries_left"]) == (400, "wrong_code", 4)
    status, body, _ = call(server, "POST", "/verify/check", {"chat_id": chat_id, "token": token, "code": code})
    assert (status, body) == (200, {"verified": True})
    with Session(engine) as session:
        assert session.execute(select(WebChat.verified_phone).where(WebChat.chat_id == chat_id)).scalar_one() \
            == "+15035550111"
    status, body, _ = call(server, "POST", "/verify", {"chat_id": chat_id, "token": token, "phone": "nope"})
    assert (status, body["error"]) == (400, "not_a_phone_number")
