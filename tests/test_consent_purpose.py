"""Consent by purpose (care, billing, marketing), STOP and START across purposes, the carriers' one-time
welcome, and the consents on the inbox's conversation page."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.messaging import consent
from bot.messaging.outbox import OutboundKind, claim, enqueue_text
from bot.migrate import alembic_config
from bot.models import (
    ConsentPurpose,
    ConsentRecord,
    ConsentSource,
    ConsentStatus,
    OutboundMessage,
    OutboundStatus,
    WelcomeText,
)
from bot.practice import apply_practice_config
from tests.conftest import demo_practice_data
from tests.web_helpers import add_user, login, open_ticket

PHONE = "+15035550188"
IN, OUT = ConsentStatus.OPTED_IN, ConsentStatus.OPTED_OUT
WELCOME = ("Riverside Family Medicine: we'll text you about your appointments. Msg & data rates may apply. "
           "Reply HELP for help, STOP to opt out.")


def _allowed(session, purpose) -> bool:
    return consent.allows(session, PHONE, purpose)


def test_a_phone_gets_care_texts_by_default_but_billing_and_marketing_only_once_agreed(engine, now):
    with Session(engine) as session, session.begin():
        assert [_allowed(session, p) for p in ("care", "billing", "marketing")] == [True, False, False]
        consent.record_consent(session, PHONE, "billing", IN, ConsentSource.VERBAL, now)
        assert [_allowed(session, p) for p in ("care", "billing", "marketing")] == [True, True, False]


def test_stop_stops_every_purpose_and_start_restores_care_texts_only(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_consent(session, PHONE, "billing", IN, "intake_form", now)
        consent.record_consent(session, PHONE, "marketing", IN, "intake_form", now)
        consent.record_opt_out(session, PHONE, "keyword", now + timedelta(minutes=1))
        assert [_allowed(session, p) for p in ("care", "billing", "marketing")] == [False, False, False]
        consent.record_opt_in(session, PHONE, "keyword", now + timedelta(minutes=2))
        assert [_allowed(session, p) for p in ("care", "billing", "marketing")] == [True, False, False]
        assert not consent.is_opted_out(session, PHONE)


def test_withdrawing_billing_consent_leaves_care_texts_alone(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_consent(session, PHONE, "billing", IN, "text_reply", now)
        consent.record_consent(session, PHONE, "billing", OUT, "verbal", now + timedelta(minutes=1))
        assert [_allowed(session, p) for p in ("care", "billing")] == [True, False]


def test_marketing_consent_is_recorded_only_in_writing(engine, now):
    with Session(engine) as session, session.begin():
        for source in ("verbal", "text_reply", "web_chat"):
            with pytest.raises(consent.ConsentRefused):
                consent.record_consent(session, PHONE, "marketing", IN, source, now)
        assert not _allowed(session, "marketing")
        consent.record_consent(session, PHONE, "marketing", IN, "intake_form", now)
        assert _allowed(session, "marketing")


def test_a_marketing_opt_in_stored_without_writing_does_not_count(engine, now):
    with Session(engine) as session, session.begin():  # e.g. a row written by hand or by an older import
        session.add(ConsentRecord(phone=PHONE, purpose="marketing", status=IN, source="verbal", created_at=now))
        session.flush()
        assert not _allowed(session, "marketing")


def test_each_purpose_shows_its_status_source_and_time(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_consent(session, PHONE, "billing", IN, "intake_form", now)
        states = {s.purpose: s for s in consent.consents_of(session, PHONE)}
    assert (states["billing"].allowed, states["billing"].status, states["billing"].source) == (
        True, "opted_in", "intake_form")
    assert states["billing"].recorded_at == now
    assert (states["care"].allowed, states["care"].status, states["marketing"].allowed) == (True, None, False)


def test_a_bill_text_without_billing_consent_is_blocked_and_with_it_goes_out(engine, now):
    with Session(engine) as session, session.begin():
        refused = enqueue_text(session, PHONE, "statement ready", OutboundKind.BILL, now)
        consent.record_consent(session, PHONE, "billing", IN, "verbal", now)
        sent = enqueue_text(session, PHONE, "statement ready", OutboundKind.BILL, now)
        reminder = enqueue_text(session, "+15035550189", "reminder", OutboundKind.REMINDER, now)
        assert (refused.status, sent.status, reminder.status) == (
            OutboundStatus.BLOCKED, OutboundStatus.PENDING, OutboundStatus.PENDING)


def test_a_bill_text_stored_before_billing_consent_was_withdrawn_is_not_sent(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_consent(session, PHONE, "billing", IN, "verbal", now)
        row_id = enqueue_text(session, PHONE, "statement ready", OutboundKind.BILL, now).id
        consent.record_consent(session, PHONE, "billing", OUT, "verbal", now)
    with Session(engine) as session, session.begin():
        assert claim(session, row_id, now=now, sender_id="test") is None
        assert session.get(OutboundMessage, row_id).status == OutboundStatus.BLOCKED


# Consent events in any order, then a text of each kind: it is sent only if that kind's purpose allows it,
# judged by a model of the rules written out here on its own.
EVENTS = st.lists(st.tuples(st.sampled_from(["care", "billing", "marketing", "all"]),
                            st.sampled_from([IN, OUT]),
                            st.sampled_from([s.value for s in ConsentSource])), max_size=6)


def _model(events, purpose: str | None) -> bool:
    if purpose is None:
        return True
    last = [e for e in events if e[0] in (purpose, "all")]
    if not last:
        return purpose == "care"
    _, status, source = last[-1]
    return status == IN and (purpose != "marketing" or source == "intake_form")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_no_text_of_a_kind_goes_to_a_phone_without_that_kinds_consent(engine, now, events):
    with Session(engine) as session, session.begin():
        session.execute(ConsentRecord.__table__.delete())
        session.execute(OutboundMessage.__table__.delete())
        recorded = []
        for purpose, status, source in events:
            try:
                consent.record_consent(session, PHONE, purpose, status, source, now)
                recorded.append((purpose, status, source))
            except consent.ConsentRefused:
                pass
        for kind in OutboundKind:
            row = enqueue_text(session, PHONE, "text", kind, now)
            taken = claim(session, row.id, now=now, sender_id="test") if row.status == OutboundStatus.PENDING else None
            expected = _model(recorded, kind.purpose and kind.purpose.value)
            assert (taken is not None) == expected, (kind, recorded)


# --- The one-time welcome -------------------------------------------------------------------------------

@pytest.fixture
def welcoming(engine):
    """The demo practice with the carriers' welcome on (as its file has it)."""
    with Session(engine) as session, session.begin():
        apply_practice_config(session, demo_practice_data(welcome=True))
    return engine


def _texts(engine, phone=PHONE) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(r.kind, r.body) for r in session.execute(
            select(OutboundMessage).where(OutboundMessage.phone == phone).order_by(OutboundMessage.id)).scalars()]


def test_the_first_automated_text_to_a_number_is_preceded_by_the_welcome_once_ever(welcoming, now):
    with Session(welcoming) as session, session.begin():
        enqueue_text(session, PHONE, "reply first", OutboundKind.REPLY, now)  # a reply is not automated
        enqueue_text(session, PHONE, "reminder", OutboundKind.REMINDER, now)
        enqueue_text(session, PHONE, "recall", OutboundKind.RECALL, now + timedelta(days=30))
    assert _texts(welcoming) == [("reply", "reply first"), ("welcome", WELCOME), ("reminder", "reminder"),
                                 ("recall", "recall")]
    with Session(welcoming) as session:
        welcome = session.execute(select(WelcomeText)).scalar_one()
        assert (welcome.phone, welcome.sent_at) == (PHONE, now)


def test_the_welcome_goes_out_before_the_text_it_announces(welcoming, now):
    from bot.messaging.outbox import due_ids
    with Session(welcoming) as session, session.begin():
        enqueue_text(session, PHONE, "reminder", OutboundKind.REMINDER, now)
        first = session.get(OutboundMessage, due_ids(session, now)[0])
        assert first.kind == "welcome"


def test_no_welcome_to_an_opted_out_number_nor_when_the_practice_turns_it_off(welcoming, engine, now):
    with Session(welcoming) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
        enqueue_text(session, PHONE, "reminder", OutboundKind.REMINDER, now)
    assert _texts(welcoming) == [("reminder", "reminder")]
    with Session(engine) as session, session.begin():
        apply_practice_config(session, demo_practice_data(welcome=False))
        enqueue_text(session, "+15035550190", "reminder", OutboundKind.REMINDER, now)
    assert _texts(engine, "+15035550190") == [("reminder", "reminder")]


def test_the_database_holds_one_welcome_per_number(engine, now):
    with Session(engine) as session, session.begin():
        session.add(WelcomeText(phone=PHONE, sent_at=now))
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(WelcomeText(phone=PHONE, sent_at=now))


def test_a_welcome_stored_by_another_text_meanwhile_is_not_repeated(welcoming, now, monkeypatch):
    """Two first texts at once: the second finds the unique phone taken and stores no second welcome."""
    from bot.messaging import outbox
    with Session(welcoming) as session, session.begin():
        session.add(WelcomeText(phone=PHONE, sent_at=now))
    real_execute = Session.execute
    calls = {"n": 0}

    def blind_first_look(self, statement, *args, **kwargs):  # as if the other text committed just after we looked
        if calls["n"] == 0 and "welcome_text" in str(statement):
            calls["n"] += 1
            return real_execute(self, select(WelcomeText.id).where(WelcomeText.id < 0))
        return real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(Session, "execute", blind_first_look)
    with Session(welcoming) as session, session.begin():
        outbox.enqueue_text(session, PHONE, "reminder", OutboundKind.REMINDER, now)
    monkeypatch.undo()
    assert _texts(welcoming) == [("reminder", "reminder")]


# --- The migration -------------------------------------------------------------------------------------

AT = datetime(2027, 2, 1, 17, 0, tzinfo=timezone.utc)


def test_0009_gives_old_records_their_purpose_and_marks_numbers_already_texted_as_welcomed(empty_database_url):
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0006_on_call")
    engine = make_engine(empty_database_url)
    at = AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO consent_record (phone, status, source, created_at) VALUES "
                          "('+15035550101', 'opted_out', 'keyword', :at), ('+15035550101', 'opted_in', 'keyword', :at)"),
                     {"at": at})
        conn.execute(text("INSERT INTO conversation (id, channel, address, created_at) VALUES "
                          "(1, 'sms', '+15035550102', :at), (2, 'sms', '+15035550103', :at)"), {"at": at})
        conn.execute(text("INSERT INTO outbound_message (conversation_id, phone, body, kind, status, attempts, "
                          "next_attempt_at, created_at) VALUES (1, '+15035550102', 'r', 'reminder', 'delivered', 1, "
                          ":at, :at), (2, '+15035550103', 'hi', 'reply', 'delivered', 1, :at, :at)"), {"at": at})
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status, purpose FROM consent_record ORDER BY id")).all() == [
            ("opted_out", "all"), ("opted_in", "care")]
        assert conn.execute(text("SELECT phone FROM welcome_text")).scalars().all() == ["+15035550102"]
    with Session(engine) as session:
        assert consent.is_opted_out(session, "+15035550101") is False
        assert consent.allows(session, "+15035550101", ConsentPurpose.BILLING) is False
    command.downgrade(config, "0006_on_call")
    command.upgrade(config, "head")
    engine.dispose()


# --- The inbox -----------------------------------------------------------------------------------------

def test_the_conversation_page_shows_each_purposes_consent(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "front_desk", now)
    with Session(engine) as session, session.begin():
        consent.record_consent(session, PHONE, "billing", IN, "intake_form", now - timedelta(days=2))
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    listing = page[page.index('id="consents"'):]
    listing = listing[:listing.index("</ul>")]
    assert ('<li data-purpose="care"><b>Care (appointments, reminders, replies)</b>: allowed (nothing recorded)'
            ' · — · —</li>') in listing
    assert '<li data-purpose="billing"><b>Billing</b>: agreed · intake form · Sat Feb 27, 9:00 AM</li>' in listing
    assert '<li data-purpose="marketing"><b>Marketing</b>: not asked · — · —</li>' in listing
