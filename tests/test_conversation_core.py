"""The channel-neutral conversation: one per (channel, address) even under a race, Rasa's sender id and back,
texts and tickets in the conversation, each channel's sender taking only its own rows, the inbox's channel label."""
from __future__ import annotations

import threading
from datetime import timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.messaging import conversations, inbound, outbox
from bot.models import Channel, Conversation, HandoffTicket, OutboundMessage
from bot.staff import handback, handoff
from channels import registry
from tests.web_helpers import add_user, login, open_ticket

PHONE = "+15035550123"


def test_conversation_for_gives_one_conversation_per_channel_and_address(any_engine, now):
    with Session(any_engine) as session, session.begin():
        first = conversations.conversation_for(session, Channel.SMS, PHONE, now)
        again = conversations.conversation_for(session, "sms", PHONE, now)
        other = conversations.sms_conversation(session, "+15035550124", now)
        assert again.id == first.id != other.id
        assert (first.channel, first.address, first.created_at, first.language) == (Channel.SMS, PHONE, now, None)


def test_two_transactions_creating_the_same_conversation_at_once_get_the_same_one(any_engine, now):
    """The first holds its new row uncommitted; the second's insert waits on the unique key, then reads it."""
    created, second_done, ids = threading.Event(), threading.Event(), {}

    def second() -> None:
        created.wait(5)
        with Session(any_engine) as session, session.begin():
            ids["second"] = conversations.sms_conversation(session, PHONE, now).id
        second_done.set()

    worker = threading.Thread(target=second)
    worker.start()
    with Session(any_engine) as session, session.begin():
        ids["first"] = conversations.sms_conversation(session, PHONE, now).id
        created.set()
        assert not second_done.wait(0.5)  # it waits for this transaction
    worker.join(10)
    assert ids["first"] == ids["second"]
    with Session(any_engine) as session:
        assert session.execute(select(func.count(Conversation.id))).scalar_one() == 1


def test_an_sms_conversations_sender_id_is_the_bare_phone_and_maps_back():
    assert conversations.sender_id_of(Channel.SMS, PHONE) == PHONE  # trackers kept before conversations stay valid
    assert conversations.parse_sender_id(PHONE) == (Channel.SMS, PHONE)
    assert conversations.parse_sender_id("nochannel:x") == (Channel.SMS, "nochannel:x")  # no such channel: a phone


def test_texts_tickets_and_commands_belong_to_the_phones_conversation(engine, now):
    with Session(engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid="SM" + "1" * 32, phone=PHONE, to_number=None,
                                           body="question", media=[], now=now)
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
        reply = outbox.enqueue_text(session, PHONE, "We will call.", "staff", now, ticket_id=ticket.id)
        resume = handback.resolve_and_hand_back(session, ticket.id, None, now)
        conversation = conversations.sms_conversation(session, PHONE)
        assert {message.conversation_id, ticket.conversation_id, reply.conversation_id,
                resume.conversation_id} == {conversation.id}
        assert message.ticket_id == ticket.id and message.channel == Channel.SMS
        assert handoff.open_ticket_for(session, conversation) is None  # resolved: the bot has it again
        assert handoff.open_ticket_for(session, "+15035550999") is None  # a phone that never texted
        assert session.execute(select(func.count(Conversation.id))).scalar_one() == 1  # lookups created none


def test_each_channels_sender_takes_only_its_channels_rows(engine, now):
    with engine.begin() as conn:  # a conversation on a channel no sender here knows (as a future web chat's)
        conn.execute(text("INSERT INTO conversation (id, channel, address, created_at)"
                          " VALUES (99, 'web_chat', 'visitor-1', :at)"), {"at": now.astimezone(timezone.utc).replace(tzinfo=None)})
    with Session(engine) as session, session.begin():
        sms = outbox.enqueue_text(session, PHONE, "by text", "reply", now).id
        session.add(OutboundMessage(conversation_id=99, body="in the widget", kind="reply", created_at=now,
                                    next_attempt_at=now))
        session.flush()
        web = session.execute(select(OutboundMessage.id).where(OutboundMessage.conversation_id == 99)).scalar_one()
    later = now + timedelta(seconds=1)
    with Session(engine) as session, session.begin():
        assert outbox.due_ids(session, later, channel=Channel.SMS) == [sms]
        assert set(outbox.due_ids(session, later)) == {sms, web}
        assert outbox.claim(session, web, now=later, sender_id="sms-1", channel=Channel.SMS) is None
        assert outbox.claim(session, sms, now=later, sender_id="sms-1", channel=Channel.SMS).id == sms


def test_every_channel_has_a_registered_outbox_sender():
    assert set(registry.OUTBOX_SENDERS) == set(Channel)
    for channel in Channel:
        assert callable(registry.outbox_sender_module(channel).run_outbox)


def test_the_inbox_shows_each_conversations_channel(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, reason="question")
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    [row] = client.get("/api/queue").get_json()["tickets"]
    assert (row["channel"], row["phone"]) == ("SMS", "(503) 555-0123")
    assert '<span class="channel">SMS</span> (503) 555-0123' in client.get("/").get_data(as_text=True)
    assert '<span class="channel">SMS</span>' in client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    with Session(engine) as session:
        assert session.get(HandoffTicket, ticket_id).conversation.channel == Channel.SMS
