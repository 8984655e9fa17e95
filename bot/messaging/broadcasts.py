"""Broadcasts: one text from staff to every patient with an appointment on a day (the office closed for
snow, a provider running late), optionally cancelling those appointments in the same step.

:func:`preview` says what a broadcast would do (the texts, their count and segments, who is skipped and
why) and changes nothing; :func:`start` stores the broadcast and one outbox row per phone; :func:`cancel`
stops the rows not yet sent; :func:`progress` counts them by status. The web page and the CLI call these.

Rules (each decided here, once):

- **Who may**: admin and front desk (:data:`ROLES`): the front desk runs the day's schedule.
- **Recipients**: the phones of the day's active appointments (practice-local day), one text per phone
  (a family sharing a phone gets one; ``{first_name}`` is then "there"/"familia"). Skipped with the reason:
  no phone, opted out (STOP), no care consent, a reported wrong number for every patient of the phone.
- **Kind**: ``OutboundKind.BROADCAST``: a care text, automated (quiet hours hold it until they end; the
  one-time welcome goes first to a new phone) but never counted against the reminder caps.
- **Pacing**: row *i* is due ``i / SMS_SEND_RATE`` seconds after the start, and the sender takes replies and
  staff texts before any due broadcast row (``outbox.due_ids``), so a patient's reply never waits behind it.
- **Cancel**: one conditional UPDATE of the broadcast's *pending* rows to ``blocked`` (note
  :data:`CANCELLED`): a row a sender already claimed is sent once and counted as sent; no row is lost.
- **Cancelling appointments**: through ``bot.scheduling.appointments.cancel_appointment`` (the freed times go
  to the waitlist), by staff, and the text ends with an invitation to reply R to rebook
  (:func:`rebooking_for` lets that R book the cancelled visit's type with its provider).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import wording
from bot.messaging import consent, outbox, reminders, wrong_number
from bot.messaging.outbox import OutboundKind
from bot.messaging.quiet_hours import SendingWindow, wall_time
from bot.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    Broadcast,
    BroadcastRecipient,
    ChangedBy,
    ConsentPurpose,
    OutboundMessage,
    OutboundStatus,
    Patient,
    StaffRole,
)
from bot.practice import format_phone, get_practice, practice_zone
from bot.staff.accounts import audit
from bot.staff.send_guard import Finding, sensitive_findings
from bot.wording.texts import segments

ROLES = frozenset({StaffRole.ADMIN.value, StaffRole.FRONT_DESK.value})
TEMPLATES = ("broadcast_closed_weather", "broadcast_closed", "broadcast_running_late")  # catalog names
REBOOK_INVITATION = "broadcast_rebook"  # appended when the broadcast cancels the day's visits
PLACEHOLDERS = ("first_name", "practice_name", "practice_phone")
CANCELLED = "broadcast cancelled"  # the error_message of a row the broadcast's cancel stopped
REBOOK_WITHIN = timedelta(days=14)  # an R this long after a broadcast cancelled the visit rebooks it

NO_PHONE, OPTED_OUT, NO_CARE_CONSENT, WRONG_NUMBER = "no_phone", "opted_out", "no_care_consent", "wrong_number"


class NotAllowed(Exception):
    """The staff member's role may not send broadcasts."""


class EmptyText(ValueError):
    """No text (or an unknown template) was given, or the text leaves a placeholder unfilled."""


class NeedsConfirmation(Exception):
    """Staff's own text mentions an amount, a medication or a diagnosis word: sent only once confirmed."""

    def __init__(self, findings: tuple[Finding, ...]):
        super().__init__(", ".join(f.text for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class Recipient:
    phone: str
    patient_ids: tuple[int, ...]
    names: tuple[str, ...]
    language: str
    body: str
    appointment_ids: tuple[int, ...]

    @property
    def segments(self) -> int:
        return segments(self.body)[1]

    @property
    def encoding(self) -> str:
        return segments(self.body)[0]


@dataclass(frozen=True)
class Skipped:
    phone: str
    names: tuple[str, ...]
    reason: str  # NO_PHONE, OPTED_OUT, NO_CARE_CONSENT, WRONG_NUMBER


@dataclass(frozen=True)
class Preview:
    day: date
    recipients: tuple[Recipient, ...]
    skipped: tuple[Skipped, ...]
    findings: tuple[Finding, ...] = ()  # the send guard's, on staff's own text (the canned texts are vetted)

    @property
    def count(self) -> int:
        return len(self.recipients)

    @property
    def segments(self) -> int:
        """Segments of the longest text (what one patient's phone receives)."""
        return max((r.segments for r in self.recipients), default=0)

    @property
    def total_segments(self) -> int:
        """What the broadcast costs: every text's segments."""
        return sum(r.segments for r in self.recipients)

    @property
    def encodings(self) -> tuple[str, ...]:
        return tuple(sorted({r.encoding for r in self.recipients}))


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    counts: dict[str, int] = field(default_factory=dict)  # queued, sent, failed, cancelled, blocked, skipped
    cancelled: bool = False

    @property
    def done(self) -> bool:
        return self.counts.get("queued", 0) == 0


def may_broadcast(role: str) -> bool:
    return role in ROLES


def template_text(name: str, language: str | None) -> str:
    """A canned broadcast's words as written (placeholders unfilled) in ``language``."""
    if name not in TEMPLATES:
        raise EmptyText(f"unknown broadcast template {name!r}")
    return wording.catalog(language)[name]


def _day_bounds(day: date, zone) -> tuple[datetime, datetime]:
    return wall_time(day, time(0), zone), wall_time(day + timedelta(days=1), time(0), zone)


def _day_appointments(session: Session, day: date, zone, provider_id: int | None) -> list[Appointment]:
    lo, hi = _day_bounds(day, zone)
    query = (select(Appointment).join(Patient, Patient.id == Appointment.patient_id)
             .where(Appointment.start >= lo, Appointment.start < hi, Appointment.status.in_(ACTIVE_STATUSES))
             .order_by(Appointment.start, Appointment.id))
    if provider_id is not None:
        query = query.where(Appointment.provider_id == provider_id)
    return list(session.execute(query).scalars())


def _skip_reason(session: Session, phone: str, patients: Sequence[Patient]) -> str | None:
    if not phone:
        return NO_PHONE
    if consent.is_opted_out(session, phone):
        return OPTED_OUT
    if not consent.allows(session, phone, ConsentPurpose.CARE):
        return NO_CARE_CONSENT
    if all(wrong_number.automated_texts_stopped(session, phone, p.id) for p in patients):
        return WRONG_NUMBER
    return None


def preview(session: Session, *, day: date, text: str | None = None, template: str | None = None,
            provider_id: int | None = None, cancel_appointments: bool = False) -> Preview:
    """What a broadcast would send, to whom, and who is skipped and why; changes nothing.

    Give ``template`` (a name in :data:`TEMPLATES`, in each recipient's language) or ``text`` (staff's own
    words, as written, with ``{first_name}``, ``{practice_name}``, ``{practice_phone}`` filled).
    """
    if not template and not (text or "").strip():
        raise EmptyText("a broadcast needs a template or a text")
    unknown = set(re.findall(r"\{(\w+)\}", text or "")) - set(PLACEHOLDERS) if not template else set()
    if unknown:
        raise EmptyText("unknown placeholder " + ", ".join("{" + name + "}" for name in sorted(unknown)))
    practice = get_practice(session)
    zone = practice_zone(practice)
    by_phone: dict[str, list[Appointment]] = {}
    for appointment in _day_appointments(session, day, zone, provider_id):
        by_phone.setdefault(appointment.patient.phone or "", []).append(appointment)
    recipients, skipped = [], []
    for phone, appointments in by_phone.items():
        patients = list({a.patient.id: a.patient for a in appointments}.values())
        names = tuple(p.full_name for p in patients)
        reason = _skip_reason(session, phone, patients)
        if reason is not None:
            skipped.append(Skipped(phone, names, reason))
            continue
        language = wording.language_or_default(patients[0].language)
        words = template_text(template, language) if template else text.strip()
        first_name = (patients[0].first_name if len(patients) == 1
                      else wording.render("template_shared_phone_name", language))
        if cancel_appointments:
            words = f"{words} {wording.catalog(language)[REBOOK_INVITATION]}"
        body = words
        for key, value in (("first_name", first_name), ("practice_name", practice.name),
                           ("practice_phone", format_phone(practice.phone))):
            body = body.replace("{" + key + "}", value)
        recipients.append(Recipient(phone, tuple(p.id for p in patients), names, language, body,
                                    tuple(a.id for a in appointments)))
    findings = () if template else tuple(sensitive_findings(text))
    return Preview(day, tuple(recipients), tuple(skipped), findings)


def _window(session: Session) -> SendingWindow:
    rules = reminders.rules_for(get_practice(session))
    return SendingWindow(opens=rules.window_start, closes=rules.window_end, zone=rules.zone)


def start(session: Session, *, day: date, staff_user_id: int | None, role: str, now: datetime,
          send_rate: float, text: str | None = None, template: str | None = None, provider_id: int | None = None,
          cancel_appointments: bool = False, confirmed: bool = False) -> Broadcast:
    """Store the broadcast and one outbox row per recipient, paced at ``send_rate`` per second from when quiet
    hours allow; with ``cancel_appointments`` also cancel each recipient's visits that day. Audited.

    Staff's own text with send-guard findings raises :class:`NeedsConfirmation` unless ``confirmed``."""
    if not may_broadcast(role):
        raise NotAllowed(role)
    planned = preview(session, day=day, text=text, template=template, provider_id=provider_id,
                      cancel_appointments=cancel_appointments)
    if planned.findings and not confirmed:
        raise NeedsConfirmation(planned.findings)
    broadcast = Broadcast(day=day, provider_id=provider_id, template=template or None,
                          body=template_text(template, "en") if template else text.strip(),
                          cancel_appointments=cancel_appointments, staff_user_id=staff_user_id, created_at=now)
    session.add(broadcast)
    session.flush()
    first = _window(session).next_allowed(now)
    step = timedelta(seconds=1.0 / send_rate) if send_rate > 0 else timedelta(0)
    from bot.scheduling import appointments as scheduling

    for index, recipient in enumerate(planned.recipients):
        if cancel_appointments:
            for appointment_id in recipient.appointment_ids:
                scheduling.cancel_appointment(session, appointment_id, now=now, changed_by=ChangedBy.STAFF,
                                              staff_user_id=staff_user_id, note=_cancel_note(broadcast.id))
        row = outbox.enqueue_text(session, recipient.phone, recipient.body, OutboundKind.BROADCAST, now)
        if row.status == OutboundStatus.PENDING:
            row.next_attempt_at = first + index * step
        session.add(BroadcastRecipient(broadcast_id=broadcast.id, phone=recipient.phone, outbound_id=row.id))
    for skip in planned.skipped:
        session.add(BroadcastRecipient(broadcast_id=broadcast.id, phone=skip.phone or "-", skipped=skip.reason))
    session.flush()
    audit(session, "broadcast", now, staff_user_id=staff_user_id,
          detail=f"broadcast {broadcast.id} for {day.isoformat()}: {planned.count} texts, {len(planned.skipped)} "
                 f"skipped{', appointments cancelled' if cancel_appointments else ''}")
    return broadcast


def cancel(session: Session, broadcast_id: int, *, staff_user_id: int | None, role: str, now: datetime) -> int:
    """Stop the broadcast's texts not yet sent; returns how many were stopped. A row a sender has already
    claimed is not touched (it goes out once); a cancelled row can no longer be claimed. Audited."""
    if not may_broadcast(role):
        raise NotAllowed(role)
    broadcast = session.get(Broadcast, broadcast_id)
    ids = select(BroadcastRecipient.outbound_id).where(BroadcastRecipient.broadcast_id == broadcast_id,
                                                       BroadcastRecipient.outbound_id.is_not(None))
    stopped = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(ids), OutboundMessage.status == OutboundStatus.PENDING)
        .values(status=OutboundStatus.BLOCKED, status_at=now, error_message=CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount
    broadcast.cancelled_at = broadcast.cancelled_at or now
    broadcast.cancelled_by = broadcast.cancelled_by or staff_user_id
    audit(session, "broadcast_cancel", now, staff_user_id=staff_user_id,
          detail=f"broadcast {broadcast_id}: {stopped} texts stopped")
    return stopped


_BUCKET = {
    OutboundStatus.PENDING: "queued", OutboundStatus.SENDING: "queued",
    OutboundStatus.QUEUED: "sent", OutboundStatus.SENT: "sent", OutboundStatus.DELIVERED: "sent",
    OutboundStatus.UNDELIVERED: "failed", OutboundStatus.FAILED: "failed", OutboundStatus.BLOCKED: "blocked",
}


def progress(session: Session, broadcast_id: int) -> Progress:
    """Counts by status: queued (not yet with Twilio), sent, failed, cancelled, blocked (opted out since), skipped."""
    broadcast = session.get(Broadcast, broadcast_id)
    counts = Counter({"queued": 0, "sent": 0, "failed": 0, "cancelled": 0, "blocked": 0, "skipped": 0})
    rows = session.execute(
        select(BroadcastRecipient.skipped, OutboundMessage.status, OutboundMessage.error_message)
        .outerjoin(OutboundMessage, OutboundMessage.id == BroadcastRecipient.outbound_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id))
    for skipped, status, error in rows:
        if skipped:
            counts["skipped"] += 1
        elif status == OutboundStatus.BLOCKED and error == CANCELLED:
            counts["cancelled"] += 1
        else:
            counts[_BUCKET[OutboundStatus(status)]] += 1
    return Progress(broadcast_id, dict(counts), cancelled=broadcast.cancelled_at is not None)


def recent(session: Session, limit: int = 20) -> list[Broadcast]:
    return list(session.execute(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)).scalars())


def _cancel_note(broadcast_id: int) -> str:
    return f"cancelled by broadcast {broadcast_id}"


def rebooking_for(session: Session, patient_ids: Sequence[int], now: datetime) -> Appointment | None:
    """The visit a broadcast cancelled for these patients within :data:`REBOOK_WITHIN` (newest first), for an
    R to rebook: its type and provider are what the patient had."""
    return session.execute(
        select(Appointment).join(AppointmentChange, AppointmentChange.appointment_id == Appointment.id)
        .where(Appointment.patient_id.in_(list(patient_ids)), Appointment.status == AppointmentStatus.CANCELLED,
               AppointmentChange.status == AppointmentStatus.CANCELLED,
               AppointmentChange.note.like("cancelled by broadcast %"),
               AppointmentChange.changed_at >= now - REBOOK_WITHIN)
        .order_by(AppointmentChange.changed_at.desc(), Appointment.id).limit(1)
    ).scalars().first()
