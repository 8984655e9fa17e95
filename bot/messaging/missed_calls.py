"""Missed calls: where a call to the practice rings, and the one text back to a caller nobody answered.

A call to the practice's Twilio number rings the front desk (the practice
file's ``voice`` section: ``front_desk_number``, ``ring_seconds``, see
:func:`voice_config`). When the front desk does not pick up (Twilio's
DialCallStatus ``no-answer``, ``busy``, ``failed``, or ``canceled``: the caller
hung up first), :func:`text_back_missed_call` stores one text to the caller's
phone in its SMS conversation, so a reply is an ordinary text to the assistant.

The rules: at most one text back per caller and practice-local day (a
:class:`~bot.models.MissedCallText` row, unique per phone and day, written with
its outbox text in one savepoint: a second server or a Twilio retry hits the
constraint and writes nothing); never to an opted-out phone; an automated
text (``OutboundKind.MISSED_CALL``), so a call at 10 PM is texted when quiet
hours end (the practice's ``reminders.quiet_hours``). Reminder caps do not hold
it back: the caller has just asked for the practice. Every text back, and every
decision not to text, is an :class:`~bot.models.AuditEntry` with the phone masked.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import wording
from bot.messaging import consent, outbox
from bot.messaging.reminders import rules_for
from bot.models import AuditEntry, MissedCallText, Practice
from bot.patients import language_for_phone
from bot.practice import format_phone, get_practice, practice_zone
from bot.privacy import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_RING_SECONDS = 20
# Twilio's DialCallStatus values that mean nobody at the practice spoke with the caller.
MISSED_STATUSES = frozenset({"no-answer", "busy", "failed", "canceled"})
E164 = re.compile(r"^\+[1-9]\d{7,14}$")

# Audit actions (AuditEntry.action)
TEXTED = "missed_call_text"
NOT_TEXTED = "missed_call_not_texted"


@dataclass(frozen=True)
class VoiceConfig:
    """Where the practice's calls ring, and for how long; ``front_desk_number`` None: nowhere."""

    front_desk_number: str | None
    ring_seconds: int = DEFAULT_RING_SECONDS


def voice_config(practice: Practice) -> VoiceConfig:
    """The practice file's ``voice`` section (checked when the file is loaded)."""
    config = (practice.config or {}).get("voice") or {}
    return VoiceConfig(config.get("front_desk_number"), int(config.get("ring_seconds", DEFAULT_RING_SECONDS)))


@dataclass(frozen=True)
class TextBack:
    """What a finished call came to: ``texted`` (``outbound_id`` is the stored text) or why not.

    Reasons: ``answered``, ``no caller id``, ``opted out``, ``already texted today``.
    ``send_at`` is when the text may go out (after quiet hours).
    """

    outcome: str
    outbound_id: int | None = None
    send_at: datetime | None = None


def is_missed(dial_status: str | None) -> bool:
    return (dial_status or "").strip().lower() in MISSED_STATUSES


def text_back_missed_call(session: Session, *, caller: str, call_sid: str, dial_status: str | None,
                          now: datetime) -> TextBack:
    """Text the caller once today if the front desk did not answer; returns what happened.

    The caller owns the transaction. A caller id that is not a phone
    (``anonymous``, a withheld number) gets nothing.
    """
    if not is_missed(dial_status):
        return TextBack("answered")
    if not E164.match(caller or ""):
        return _not_texted(session, caller, call_sid, now, "no caller id")
    if consent.is_opted_out(session, caller):
        return _not_texted(session, caller, call_sid, now, "opted out")
    practice = get_practice(session)
    local_day = now.astimezone(practice_zone(practice)).date()
    send_at = rules_for(practice).next_allowed(now)
    body = wording.render("missed_call_text_back", language_for_phone(session, caller),
                          practice_name=practice.name, practice_phone=format_phone(practice.phone))
    try:
        with session.begin_nested():
            record = MissedCallText(phone=caller, local_day=local_day, call_sid=call_sid,
                                    dial_status=dial_status.strip().lower(), missed_at=now)
            session.add(record)
            session.flush()  # the unique (phone, local day) refuses a second text back the same day here
            row = outbox.enqueue_text(session, caller, body, outbox.OutboundKind.MISSED_CALL, now)
            row.next_attempt_at = send_at
            record.outbound_id = row.id
    except IntegrityError:
        return _not_texted(session, caller, call_sid, now, "already texted today")
    held = f", held until {send_at.astimezone(practice_zone(practice)):%H:%M} (quiet hours)" if send_at > now else ""
    _audit(session, TEXTED, now, f"call {call_sid} {dial_status}: texted {mask_phone(caller)}{held}")
    logger.info("missed call %s from %s (%s): text back stored%s", call_sid, mask_phone(caller), dial_status, held)
    return TextBack("texted", row.id, send_at)


def _not_texted(session: Session, caller: str, call_sid: str, now: datetime, reason: str) -> TextBack:
    who = mask_phone(caller) if caller else "no caller id"
    _audit(session, NOT_TEXTED, now, f"call {call_sid} from {who}: not texted ({reason})")
    logger.info("missed call %s from %s: not texted (%s)", call_sid, who, reason)
    return TextBack(reason)


def _audit(session: Session, action: str, now: datetime, detail: str) -> None:
    session.add(AuditEntry(at=now, staff_user_id=None, action=action, ticket_id=None, detail=detail[:300]))
