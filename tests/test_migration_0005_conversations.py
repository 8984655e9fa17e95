"""Migration 0005_conversations upgrades a database in use (at 0004, with texts, tickets and commands) on SQLite
and PostgreSQL: one SMS conversation per phone, every row in its phone's conversation, nothing lost (a ticket's
notes and commands survive SQLite's table rebuild), the MessageSid still deduplicates; and it goes back down."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base, make_engine
from bot.messaging import inbound
from bot.migrate import alembic_config
from bot.models import Channel, Conversation, HandoffTicket
from bot.practice import apply_practice_config, load_practice_file
from bot.settings import ROOT
from bot.staff import handoff

ANA, BEN = "+15035550123", "+15035550124"
T1 = datetime(2027, 3, 1, 17, 0, tzinfo=timezone.utc)
T2 = datetime(2027, 3, 1, 18, 0, tzinfo=timezone.utc)
CONVERSATION_TABLES = ("inbound_message", "outbound_message", "handoff_ticket", "conversation_command")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _at(engine, moment: datetime):
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


def _rows(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def _fill_0004(engine) -> None:
    """What a running practice has at 0004: Ben texted first, then Ana; a ticket for Ana with a note and a resume."""
    t1, t2 = _at(engine, T1), _at(engine, T2)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO inbound_message (id, message_sid, phone, body, media, received_at, status,"
                          " attempts) VALUES (1, 'SM1', :ben, 'hours?', '[]', :t1, 'processed', 1),"
                          " (2, 'SM2', :ana, 'my bill', '[]', :t2, 'processed', 1)"), {"ben": BEN, "ana": ANA,
                                                                                       "t1": t1, "t2": t2})
        conn.execute(text("INSERT INTO handoff_ticket (id, queue, reason, status, phone, created_at, due_at,"
                          " last_activity_at) VALUES (7, 'billing', 'bill', 'resolved', :ana, :t2, :t2, :t2)"),
                     {"ana": ANA, "t2": t2})
        conn.execute(text("UPDATE inbound_message SET ticket_id = 7 WHERE id = 2"))
        conn.execute(text("INSERT INTO ticket_note (ticket_id, body, created_at) VALUES (7, 'called back', :t2)"),
                     {"t2": t2})
        conn.execute(text("INSERT INTO conversation_command (id, kind, phone, ticket_id, status, attempts,"
                          " next_attempt_at, created_at) VALUES (3, 'resume', :ana, 7, 'done', 1, :t2, :t2)"),
                     {"ana": ANA, "t2": t2})
        conn.execute(text("INSERT INTO outbound_message (id, phone, body, kind, status, attempts, next_attempt_at,"
                          " created_at, ticket_id) VALUES (4, :ben, 'We open at 8.', 'reply', 'delivered', 1, :t1,"
                          " :t1, NULL), (5, :ana, 'Bea will call.', 'staff', 'delivered', 1, :t2, :t2, 7)"),
                     {"ben": BEN, "ana": ANA, "t1": t1, "t2": t2})


def test_0005_gives_every_row_its_phones_sms_conversation_and_downgrades(url):
    config = alembic_config(url)
    command.upgrade(config, "0004_planning")
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        apply_practice_config(session, load_practice_file(ROOT / "bot" / "demo_practice.yml"))
    _fill_0004(engine)

    command.upgrade(config, "head")
    with engine.connect() as conn:  # the schema is the models' (nothing for autogenerate to add)
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if any(t in repr(d) for t in ("conversation",) + CONVERSATION_TABLES)] == []
    with Session(engine) as session:
        conversations = session.query(Conversation).order_by(Conversation.id).all()
        assert [(c.channel, c.address, c.created_at) for c in conversations] == [
            (Channel.SMS, BEN, T1), (Channel.SMS, ANA, T2)]  # as old as each phone's first row
    ben, ana = (c.id for c in conversations)
    assert _rows(engine, "SELECT id, conversation_id, channel, channel_message_id, phone FROM inbound_message"
                         " ORDER BY id") == [(1, ben, "sms", "SM1", BEN), (2, ana, "sms", "SM2", ANA)]
    assert _rows(engine, "SELECT id, conversation_id, phone FROM outbound_message ORDER BY id") == [
        (4, ben, BEN), (5, ana, ANA)]
    assert _rows(engine, "SELECT id, conversation_id, phone FROM handoff_ticket") == [(7, ana, ANA)]
    assert _rows(engine, "SELECT id, conversation_id, ticket_id FROM conversation_command") == [(3, ana, 7)]
    assert _rows(engine, "SELECT ticket_id, body FROM ticket_note") == [(7, "called back")]  # not cascaded away
    for table in CONVERSATION_TABLES:
        assert not {c["name"]: c for c in inspect(engine).get_columns(table)}["conversation_id"]["nullable"]

    with Session(engine) as session, session.begin():  # the domain carries on in the migrated conversations
        again, is_new = inbound.store_inbound(session, message_sid="SM2", phone=ANA, to_number=None, body="my bill",
                                              media=[], now=T2)
        assert (again.id, is_new) == (2, False)  # a Twilio retry of an old MessageSid is still recognised
        ticket = handoff.open_ticket(session, phone=BEN, queue="front_desk", reason="question", now=T2)
        assert ticket.conversation_id == ben
        new_ticket = ticket.id
        assert session.query(HandoffTicket).get(7).conversation.address == ANA
    with pytest.raises(IntegrityError), engine.begin() as conn:  # and (channel, address) stays one conversation
        conn.execute(text("INSERT INTO conversation (channel, address, created_at) VALUES ('sms', :ana, :t)"),
                     {"ana": ANA, "t": _at(engine, T2)})

    command.downgrade(config, "0004_planning")
    assert "conversation" not in set(inspect(engine).get_table_names())
    assert _rows(engine, "SELECT id, message_sid, phone FROM inbound_message ORDER BY id") == [
        (1, "SM1", BEN), (2, "SM2", ANA)]
    assert {(7, ANA), (new_ticket, BEN)} == set(_rows(engine, "SELECT id, phone FROM handoff_ticket"))
    assert _rows(engine, "SELECT ticket_id, body FROM ticket_note") == [(7, "called back")]
    assert _rows(engine, "SELECT id, ticket_id FROM conversation_command") == [(3, 7)]
    with pytest.raises(IntegrityError), engine.begin() as conn:  # MessageSid unique again
        conn.execute(text("INSERT INTO inbound_message (message_sid, phone, body, media, received_at, status,"
                          " attempts) VALUES ('SM1', :ben, 'x', '[]', :t, 'received', 0)"),
                     {"ben": BEN, "t": _at(engine, T2)})
    command.upgrade(config, "head")  # and up again
    engine.dispose()
