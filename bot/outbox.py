"""The outbox: every text to a patient is stored here before it is sent.

Adapters (the SMS channel, the staff inbox, the reminder worker) call
:func:`enqueue_text`; the sender in :mod:`bot.channels.sender` hands rows to
Twilio. A row for an opted-out phone is stored as ``blocked`` and never sent.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import consent
from bot.models import OutboundMessage, OutboundStatus

# Texts allowed to an opted-out phone: the one confirmation of the opt-out itself.
CONSENT_CONFIRMATION = "consent_confirmation"


def enqueue_text(
    session: Session,
    phone: str,
    body: str,
    kind: str,
    now: datetime,
    *,
    ticket_id: int | None = None,
    staff_user_id: int | None = None,
) -> OutboundMessage:
    """Store a text for sending; returns the row (``blocked`` if the phone opted out)."""
    blocked = kind != CONSENT_CONFIRMATION and consent.is_opted_out(session, phone)
    row = OutboundMessage(
        phone=phone,
        body=body,
        kind=kind,
        status=OutboundStatus.BLOCKED if blocked else OutboundStatus.PENDING,
        created_at=now,
        next_attempt_at=now,
        ticket_id=ticket_id,
        staff_user_id=staff_user_id,
    )
    session.add(row)
    session.flush()
    return row
