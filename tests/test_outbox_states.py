"""The outbox's sending state machine: claims, retries, consent at claim time, status callbacks."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.messaging import consent, outbox
from bot.models import OutboundMessage, OutboundStatus

PHONE = "+15035550123"


def _row(engine, outbound_id: int) -> OutboundMessage:
    with Session(engine) as session:
        return session.get(OutboundMessage, outbound_id)


def _enqueue(engine, now, phone: str = PHONE, body: str = "See you Monday at 9:00 AM.", kind: str = "reply") -> int:
    with Session(engine) as session, session.begin():
        return outbox.enqueue_text(session, phone, body, kind, now).id


def test_a_row_is_claimed_by_one_sender_only(any_engine, now):
    outbound_id = _enqueue(any_engine, now)
    winners = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        with Session(any_engine) as session, session.begin():
            if outbox.claim(session, outbound_id, now=now, sender_id=name) is not None:
                winners.append(name)

    threads = [threading.Thread(target=race, args=(f"sender-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    row = _row(any_engine, outbound_id)
    assert (row.status, row.claimed_by, row.attempts) == (OutboundStatus.SENDING, winners[0], 1)


def test_a_row_not_yet_due_is_not_claimed(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        assert outbox.claim(session, outbound_id, now=now - timedelta(seconds=1), sender_id="s") is None
        assert outbox.due_ids(session, now - timedelta(seconds=1)) == []
        assert outbox.due_ids(session, now) == [outbound_id]


def test_a_phone_that_opted_out_after_enqueue_is_blocked_at_claim(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
    with Session(engine) as session, session.begin():
        assert outbox.claim(session, outbound_id, now=now, sender_id="s") is None
    assert _row(engine, outbound_id).status == OutboundStatus.BLOCKED


def test_the_opt_out_confirmation_is_claimed_even_after_opt_out(engine, now):
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, PHONE, "keyword", now)
    outbound_id = _enqueue(engine, now, kind=outbox.CONSENT_CONFIRMATION)
    with Session(engine) as session, session.begin():
        assert outbox.claim(session, outbound_id, now=now, sender_id="s") is not None


def test_retryable_errors_back_off_and_are_retried_for_24_hours_before_giving_up(engine, now):
    outbound_id = _enqueue(engine, now)
    rng = random.Random(7)
    clock = now
    delays, attempt, status = [], 0, OutboundStatus.PENDING
    while status == OutboundStatus.PENDING:
        attempt += 1
        with Session(engine) as session, session.begin():
            assert outbox.claim(session, outbound_id, now=clock, sender_id="s") is not None
            status = outbox.mark_retry(session, outbound_id, now=clock, error_code=20429,
                                       error_message="HTTP 429", rng=rng)
        row = _row(engine, outbound_id)
        assert row.attempts == attempt
        if status == OutboundStatus.PENDING:
            delays.append(row.next_attempt_at - clock)
            clock = row.next_attempt_at
    assert status == OutboundStatus.FAILED
    assert clock >= now + outbox.RETRY_FOR - timedelta(seconds=outbox.BACKOFF_MAX_SECONDS)  # tried for ~24 h
    assert _row(engine, outbound_id).error_code == 20429
    growing = delays[:8]
    assert all(later > earlier for earlier, later in zip(growing, growing[1:])), growing
    assert max(delays) <= timedelta(seconds=outbox.BACKOFF_MAX_SECONDS)
    print(f"{attempt} attempts; first backoff delays (s):", [round(d.total_seconds(), 1) for d in growing])


def test_backoff_is_jittered_and_capped():
    rng = random.Random(1)
    first = {outbox.backoff_delay(1, rng) for _ in range(20)}
    assert len(first) > 1
    assert all(timedelta(seconds=1) <= d <= timedelta(seconds=2) for d in first)
    assert outbox.backoff_delay(40, rng) <= timedelta(seconds=outbox.BACKOFF_MAX_SECONDS)


def test_error_21610_records_the_opt_out_and_blocks_the_row(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        outbox.claim(session, outbound_id, now=now, sender_id="s")
        outbox.mark_opted_out_by_carrier(session, outbound_id, now=now)
    with Session(engine) as session:
        assert consent.is_opted_out(session, PHONE)
        record = session.query(consent.ConsentRecord).filter_by(phone=PHONE).one()
        assert record.source == "twilio_21610"
    assert _row(engine, outbound_id).status == OutboundStatus.BLOCKED


def test_status_callbacks_only_move_a_row_forward(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        outbox.claim(session, outbound_id, now=now, sender_id="s")
        outbox.mark_sent(session, outbound_id, sid="SM1", twilio_status="queued", now=now)
    for status in ("sent", "delivered", "sent", "queued"):  # the last two arrive late
        with Session(engine) as session, session.begin():
            assert outbox.apply_status_callback(session, sid="SM1", twilio_status=status,
                                                error_code=None, now=now) is not None
    assert _row(engine, outbound_id).status == OutboundStatus.DELIVERED


def test_a_callback_before_the_sid_is_stored_finds_the_row_by_its_id(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        outbox.claim(session, outbound_id, now=now, sender_id="s")
        outbox.apply_status_callback(session, sid="SM2", twilio_status="sent", error_code=None,
                                     now=now, outbound_id=outbound_id)
    with Session(engine) as session, session.begin():  # the sender's answer comes after
        outbox.mark_sent(session, outbound_id, sid="SM2", twilio_status="queued", now=now)
    row = _row(engine, outbound_id)
    assert (row.twilio_sid, row.status) == ("SM2", OutboundStatus.SENT)


def test_a_callback_for_someone_elses_sid_does_not_touch_our_row(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        outbox.claim(session, outbound_id, now=now, sender_id="s")
        outbox.mark_sent(session, outbound_id, sid="SM3", twilio_status="queued", now=now)
        assert outbox.apply_status_callback(session, sid="SMother", twilio_status="failed",
                                            error_code=30003, now=now, outbound_id=outbound_id) is None
    assert _row(engine, outbound_id).status == OutboundStatus.QUEUED


def test_undelivered_keeps_the_carrier_error_code(engine, now):
    outbound_id = _enqueue(engine, now)
    with Session(engine) as session, session.begin():
        outbox.claim(session, outbound_id, now=now, sender_id="s")
        outbox.mark_sent(session, outbound_id, sid="SM4", twilio_status="queued", now=now)
        outbox.apply_status_callback(session, sid="SM4", twilio_status="undelivered", error_code=30003, now=now)
    row = _row(engine, outbound_id)
    assert (row.status, row.error_code) == (OutboundStatus.UNDELIVERED, 30003)
