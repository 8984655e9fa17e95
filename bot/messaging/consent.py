"""Consent to texts: who opted out, who opted back in, and the keywords for it.

The newest :class:`ConsentRecord` of a phone is in force. Nothing automated
may be sent to an opted-out phone; :mod:`bot.messaging.outbox` asks here before every
send.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ConsentRecord, ConsentStatus

# Twilio's default keywords (Advanced Opt-Out off or on, they behave alike).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


def keyword_of(text: str) -> str | None:
    """The consent keyword a text consists of, if it is a single keyword."""
    word = text.strip().strip(".!").upper()
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS | {"YES"}:
        return word
    return None


def current_status(session: Session, phone: str) -> ConsentStatus | None:
    return session.execute(
        select(ConsentRecord.status).where(ConsentRecord.phone == phone)
        .order_by(ConsentRecord.id.desc()).limit(1)
    ).scalar_one_or_none()


def is_opted_out(session: Session, phone: str) -> bool:
    return current_status(session, phone) == ConsentStatus.OPTED_OUT


def record_opt_out(session: Session, phone: str, source: str, now: datetime, detail: str | None = None) -> ConsentRecord:
    record = ConsentRecord(phone=phone, status=ConsentStatus.OPTED_OUT, source=source, detail=detail, created_at=now)
    session.add(record)
    session.flush()
    return record


def record_opt_in(session: Session, phone: str, source: str, now: datetime, detail: str | None = None) -> ConsentRecord:
    record = ConsentRecord(phone=phone, status=ConsentStatus.OPTED_IN, source=source, detail=detail, created_at=now)
    session.add(record)
    session.flush()
    return record
