"""Outbound kinds carry their rules (automated, allowed after an opt-out, transcript label); statuses are enums."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.messaging import consent, inbound, reminders
from bot.messaging.outbox import (
    ALLOWED_WHEN_OPTED_OUT,
    CONVERSATION_KINDS,
    OutboundKind,
    enqueue_text,
    transcript_label,
)
from bot.models import OutboundMessage, OutboundStatus
from bot.scheduling import waitlist

PHONE = "+15035550188"


def test_each_kind_says_whether_it_is_automated_allowed_after_an_opt_out_and_who_wrote_it():
    rules = {k.value: (k.automated, k.after_opt_out, k.conversation, k.label) for k in OutboundKind}
    assert rules == {
        "reply": (False, False, True, "bot"), "staff": (False, False, True, "staff"),
        "reminder": (True, False, False, "reminder"), "recall": (True, False, False, "reminder"),
        "waitlist": (True, False, False, "reminder"), "consent": (False, False, False, "system"),
        "consent_confirmation": (False, True, False, "system"), "help_reply": (False, True, False, "system"),
        # a page to the on-call staff phone: at any hour (not automated), no patient consent applies
        "on_call_page": (False, True, False, "on call"),
        # the text back to a caller nobody answered: quiet hours apply, never after an opt-out
        "missed_call": (True, False, False, "missed call"),
        # the carriers' one-time welcome (not automated: it never uses up the text it announces under the caps)
        "welcome": (False, False, False, "system"),
        "bill": (True, False, False, "billing"),
        # a broadcast to a day's patients: quiet hours apply (automated), the caps do not (below)
        "broadcast": (True, False, False, "broadcast"),
        # the code a web chat visitor asked for: not automated (asked for), never after an opt-out
        "verification": (False, False, False, "system"),
    }
    assert ALLOWED_WHEN_OPTED_OUT == {"consent_confirmation", "help_reply", "on_call_page"}
    assert CONVERSATION_KINDS == {"reply", "staff"}
    # the caps count what the practice sends unasked; the text back to a patient's own call is not counted
    assert set(reminders.CAPPED_KINDS) == {"reminder", "recall", "waitlist", "bill"}
    assert transcript_label("a kind of an older release") == "system"


@pytest.mark.parametrize("kind", list(OutboundKind))
def test_after_an_opt_out_only_the_kinds_allowed_go_out_and_the_column_holds_the_plain_value(engine, now, kind):
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
        row = enqueue_text(session, PHONE, "text", kind.value, now)
        assert (row.status == OutboundStatus.BLOCKED) == (not kind.after_opt_out)
        row_id = row.id
    with Session(engine) as session:
        assert type(session.get(OutboundMessage, row_id).kind) is str


def test_each_kind_names_its_consent_purpose():
    purposes = {k.value: k.purpose and k.purpose.value for k in OutboundKind}
    assert purposes == {
        "reply": "care", "staff": "care", "reminder": "care", "recall": "care", "waitlist": "care",
        "consent": "care", "welcome": "care", "bill": "billing", "missed_call": "care",
        "broadcast": "care",
        "verification": "care",
        # no patient consent governs these (they go after an opt-out)
        "consent_confirmation": None, "help_reply": None, "on_call_page": None,
    }
    assert {k for k in OutboundKind if k.purpose is None} == ALLOWED_WHEN_OPTED_OUT


def test_an_unknown_kind_is_refused(engine, now):
    with Session(engine) as session, session.begin(), pytest.raises(ValueError):
        enqueue_text(session, PHONE, "text", "newsletter", now)


def test_statuses_and_outcomes_are_enums_equal_to_their_stored_values():
    assert inbound.REPLIED is inbound.InboundOutcome.REPLIED and inbound.REPLIED == "replied"
    assert [s.value for s in inbound.InboundOutcome] == [
        "replied", "with_staff", "handed_to_staff", "consent_keyword", "opted_out", "nothing_to_say"]
    assert (waitlist.WAITING, waitlist.OFFERED, waitlist.TAKEN) == ("waiting", "offered", "taken")


def test_a_transaction_commits_at_the_end_and_rolls_back_on_error(engine, now):
    with transaction(engine) as session:
        kept = enqueue_text(session, PHONE, "kept", OutboundKind.REPLY, now)
    assert kept.body == "kept"  # still readable after the commit
    with pytest.raises(RuntimeError), transaction(engine) as session:
        enqueue_text(session, PHONE, "dropped", OutboundKind.REPLY, now)
        raise RuntimeError
    with transaction(engine) as session:
        assert [r.body for r in session.query(OutboundMessage)] == ["kept"]
