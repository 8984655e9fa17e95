"""The queue and the conversation: claim, assign, reply, note, resolve, reopen.

Pages render server-side; ``/api/queue`` and ``/api/tickets/<id>/transcript``
give the same data as JSON for the 2-3 s polling in ``static/inbox.js``.
A ticket outside the user's queues is refused (403, audited) before anything
of it is read.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import patients
from bot.models import (
    Appointment,
    CannedResponse,
    HandoffTicket,
    Patient,
    Practice,
    StaffUser,
    TicketStatus,
)
from bot.practice import format_phone, get_practice, practice_zone
from bot.staff import access, handback, handoff, replies
from bot.staff import accounts as staff
from bot.staff.responsetimes import format_duration
from channels import rasa_commands
from web.auth import db, deny, now, settings

bp = Blueprint("inbox", __name__)

MAX_REPLY = replies.MAX_REPLY
REPLY_REFUSALS = {
    replies.EMPTY: "Write a reply first.",
    replies.TOO_LONG: f"A text can be at most {MAX_REPLY} characters.",
    replies.RESOLVED: "This conversation is resolved; reopen it to reply.",
}
REQUEST_RASA_TIMEOUT = 3.0  # seconds a resolve or reopen waits for Rasa before leaving it to the retries
DUE_SOON = timedelta(minutes=15)


# --- Formatting --------------------------------------------------------------------

def local_time(moment: datetime | None, zone: ZoneInfo, today: datetime | None = None) -> str:
    """'9:05 AM' today, 'Tue Mar 2, 9:05 AM' on other days."""
    if moment is None:
        return ""
    here = moment.astimezone(zone)
    clock = here.strftime("%I:%M %p").lstrip("0")
    if today is not None and here.date() == today.astimezone(zone).date():
        return clock
    return f"{here.strftime('%a %b')} {here.day}, {clock}"


def waited(delta: timedelta) -> str:
    """How long a patient has waited, in whole minutes (never negative)."""
    whole_minutes = timedelta(minutes=max(0, int(delta.total_seconds() // 60)))
    return format_duration(whole_minutes)


def _names(session: Session) -> dict[int, str]:
    return {u.id: u.display_name for u in session.execute(select(StaffUser)).scalars()}


def _queue_names(practice: Practice) -> dict[str, str]:
    return {key: cfg.get("name", key) for key, cfg in (practice.config.get("queues") or {}).items()}


def _patient_label(session: Session, ticket: HandoffTicket) -> str:
    if ticket.patient is not None:
        return ticket.patient.full_name
    people = session.execute(select(Patient).where(Patient.phone == ticket.phone).order_by(Patient.id)).scalars().all()
    if people:
        return " / ".join(p.full_name for p in people)
    return "Unknown patient"


def _hand_back_words(state: handback.HandBack | None) -> tuple[str | None, str | None, str | None]:
    """(what is under way, the alert, the alert explained) for a ticket's newest unsettled or failed command."""
    if state is None:
        return None, None, None
    if state.status == "pending":
        return ("handing back…" if state.kind == "resume" else "pausing the assistant…"), None, None
    if state.kind == "resume":
        return None, "hand-back failed", ("The assistant could not take this conversation back, so the ticket is "
                                          "open again: answer the patient here (see the note).")
    return None, "pause failed", "The assistant could not be paused: it may answer this patient's texts (see the note)."


def _queue_row(session: Session, ticket: HandoffTicket, names: dict[int, str], zone: ZoneInfo,
               at: datetime, state: handback.HandBack | None = None) -> dict[str, Any]:
    answered = ticket.first_response_at is not None
    doing, alert, alert_text = _hand_back_words(state)
    if ticket.status == TicketStatus.RESOLVED:
        urgency = "done"
    elif not answered and at > ticket.due_at:
        urgency = "late"
    elif not answered and ticket.due_at - at <= DUE_SOON:
        urgency = "soon"
    else:
        urgency = "ok"
    queue_names = getattr(g, "queue_names", {})
    return {
        "id": ticket.id,
        "url": url_for("inbox.ticket", ticket_id=ticket.id),
        "queue": ticket.queue,
        "queue_name": queue_names.get(ticket.queue, ticket.queue),
        "patient": _patient_label(session, ticket),
        "phone": format_phone(ticket.phone),
        "reason": ticket.reason,
        "status": ticket.status.value,
        "status_label": doing or ticket.status.value,
        "handing_back": doing is not None,
        "alert": alert,
        "alert_text": alert_text,
        "created": local_time(ticket.created_at, zone, at),
        "waiting": waited(at - ticket.created_at),
        "due": local_time(ticket.due_at, zone, at),
        "urgency": urgency,
        "answered": answered,
        "claimed_by": names.get(ticket.claimed_by, "") if ticket.claimed_by else "",
        "mine": ticket.claimed_by == g.staff.user_id,
    }


def _ticket_row(session: Session, ticket: HandoffTicket, names: dict[int, str], zone: ZoneInfo,
                at: datetime) -> dict[str, Any]:
    return _queue_row(session, ticket, names, zone, at, handback.hand_back_states(session, [ticket.id]).get(ticket.id))


def _queue_rows(session: Session, show: str) -> list[dict[str, Any]]:
    practice = get_practice(session)
    g.queue_names = _queue_names(practice)
    zone, at = practice_zone(practice), now()
    query = select(HandoffTicket).where(HandoffTicket.queue.in_(g.staff.queues))
    if show == "resolved":
        query = query.where(HandoffTicket.status == TicketStatus.RESOLVED).order_by(
            HandoffTicket.resolved_at.desc()).limit(50)
    else:
        # A resolved ticket stays among the open ones until Rasa has the conversation again.
        query = query.where(HandoffTicket.status.in_(handoff.OPEN_STATUSES)
                            | HandoffTicket.id.in_(handback.tickets_handing_back())).order_by(
            HandoffTicket.created_at, HandoffTicket.id)
        if show == "mine":
            query = query.where(HandoffTicket.claimed_by == g.staff.user_id)
    names = _names(session)
    tickets = list(session.execute(query).scalars())
    states = handback.hand_back_states(session, [t.id for t in tickets])
    return [_queue_row(session, t, names, zone, at, states.get(t.id)) for t in tickets]


def marker_text(entry: handoff.TranscriptEntry, ticket_id: int, queue_names: dict[str, str]) -> str:
    """The words of a span or withheld line: '1 earlier clinical conversation, not shown'."""
    queue = queue_names.get(entry.queue, entry.queue).lower()
    if entry.who == "withheld":
        plural = "s" if entry.count != 1 else ""
        when = "earlier " if entry.earlier else ""
        after = "" if entry.earlier else " at the same time"
        return f"{entry.count} {when}{queue} conversation{plural}{after}, not shown"
    if entry.ticket_id == ticket_id:
        return f"This conversation (ticket {ticket_id})"
    if entry.earlier:
        return f"Earlier {queue} conversation (ticket {entry.ticket_id})"
    return f"{queue.capitalize()} conversation at the same time (ticket {entry.ticket_id})"


def _entry_json(entry: handoff.TranscriptEntry, zone: ZoneInfo, at: datetime, ticket_id: int,
                queue_names: dict[str, str]) -> dict[str, Any]:
    marker = entry.who in handoff.MARKERS
    link = entry.who == "span" and entry.ticket_id != ticket_id
    return {"ref": entry.ref, "who": entry.who, "author": entry.author, "status": entry.status,
            "body": marker_text(entry, ticket_id, queue_names) if marker else entry.body,
            "url": url_for("inbox.ticket", ticket_id=entry.ticket_id) if link else None,
            "at": entry.at.isoformat(), "time": local_time(entry.at, zone, at)}


def fill_placeholders(body: str, values: dict[str, str]) -> str:
    """Replace {first_name}, {practice_phone}, {practice_name}; other braces stay as written."""
    for key, value in values.items():
        body = body.replace("{" + key + "}", value)
    return body


def _upcoming_appointments(session: Session, ticket: HandoffTicket, at: datetime) -> list[Appointment]:
    """The booked visits of the ticket's patient (or of everyone on its phone), soonest first."""
    patient_ids = [ticket.patient_id] if ticket.patient_id else list(
        session.execute(select(Patient.id).where(Patient.phone == ticket.phone)).scalars())
    return patients.upcoming_appointments(session, patient_ids, at)[:10]


# --- Access -------------------------------------------------------------------------

def _check_ticket_access(ticket_id: int) -> None:
    """404 for no such ticket; 403 (audited) for a ticket outside the user's queues."""
    with db() as session:
        queue = session.execute(select(HandoffTicket.queue).where(HandoffTicket.id == ticket_id)).scalar()
    if queue is None:
        abort(404)
    if not access.may_see_queue(g.staff.role, queue):
        deny(f"{g.staff.role} may not open the {queue} queue", ticket_id=ticket_id)


def _back(ticket_id: int):
    return redirect(url_for("inbox.ticket", ticket_id=ticket_id))


# --- The queue ----------------------------------------------------------------------

@bp.get("/")
def queue():
    show = request.args.get("show", "open")
    with db() as session:
        rows = _queue_rows(session, show)
    return render_template("inbox/queue.html", rows=rows, show=show)


@bp.get("/api/queue")
def api_queue():
    show = request.args.get("show", "open")
    with db() as session:
        rows = _queue_rows(session, show)
    return jsonify(tickets=rows)


# --- One conversation ---------------------------------------------------------------

@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    _check_ticket_access(ticket_id)
    at = now()
    with db() as session:
        practice = get_practice(session)
        zone = practice_zone(practice)
        ticket = session.get(HandoffTicket, ticket_id)
        names = _names(session)
        g.queue_names = _queue_names(practice)
        row = _ticket_row(session, ticket, names, zone, at)
        entries = [_entry_json(e, zone, at, ticket_id, g.queue_names)
                   for e in handoff.transcript(session, ticket, role=g.staff.role)]
        patients = [ticket.patient] if ticket.patient else list(
            session.execute(select(Patient).where(Patient.phone == ticket.phone)).scalars())
        values = {
            "first_name": patients[0].first_name if len(patients) == 1 else "there",
            "practice_phone": format_phone(practice.phone),
            "practice_name": practice.name,
        }
        canned = [{"id": c.id, "title": c.title, "body": fill_placeholders(c.body, values)}
                  for c in session.execute(select(CannedResponse).order_by(CannedResponse.title)).scalars()]
        appointments = [{
            "when": local_time(a.start, zone),
            "provider": a.provider.display_name,
            "type": a.appointment_type.name if access.may_see_visit_type(g.staff.role, a.appointment_type)
            else "a visit",
            "status": a.status.value,
            "patient": a.patient.full_name,
        } for a in _upcoming_appointments(session, ticket, at)]
        colleagues = [{"id": u.id, "name": f"{u.display_name} ({access.role_of(u)})"}
                      for u in staff.staff_for_queue(session, ticket.queue)]
        staff.audit(session, "view", at, staff_user_id=g.staff.user_id, ticket_id=ticket_id)
    return render_template("inbox/ticket.html", ticket=row, entries=entries, canned=canned,
                           appointments=appointments, colleagues=colleagues,
                           patients=[{"name": p.full_name, "dob": p.date_of_birth} for p in patients],
                           max_reply=MAX_REPLY)


@bp.get("/api/tickets/<int:ticket_id>/transcript")
def api_transcript(ticket_id: int):
    """Entries after ``after`` (a ref like ``in-12``), the delivery status of every text, the ticket's state."""
    _check_ticket_access(ticket_id)
    after = request.args.get("after", "")
    at = now()
    with db() as session:
        practice = get_practice(session)
        zone = practice_zone(practice)
        ticket = session.get(HandoffTicket, ticket_id)
        entries = handoff.transcript(session, ticket, role=g.staff.role)
        refs = [e.ref for e in entries]
        start = refs.index(after) + 1 if after in refs else 0
        g.queue_names = _queue_names(practice)
        row = _ticket_row(session, ticket, _names(session), zone, at)
    return jsonify(
        entries=[_entry_json(e, zone, at, ticket_id, g.queue_names) for e in entries[start:]],
        statuses={e.ref: e.status for e in entries if e.status is not None},
        ticket={k: row[k] for k in ("status", "status_label", "alert", "alert_text", "claimed_by", "urgency",
                                       "waiting", "due")},
    )


@bp.post("/tickets/<int:ticket_id>/claim")
def claim(ticket_id: int):
    _check_ticket_access(ticket_id)
    with db() as session:
        try:
            handoff.claim_ticket(session, ticket_id, g.staff.user_id, now())
        except ValueError as exc:
            flash(str(exc), "warning")
            return _back(ticket_id)
        staff.audit(session, "claim", now(), staff_user_id=g.staff.user_id, ticket_id=ticket_id)
    return _back(ticket_id)


@bp.post("/tickets/<int:ticket_id>/assign")
def assign(ticket_id: int):
    _check_ticket_access(ticket_id)
    try:
        target_id = int(request.form.get("staff_user_id", ""))
    except ValueError:
        abort(400)
    with db() as session:
        ticket = session.get(HandoffTicket, ticket_id)
        allowed = {u.id: u for u in staff.staff_for_queue(session, ticket.queue)}
        target = allowed.get(target_id)
        if target is None:
            flash("That colleague does not answer this queue.", "warning")
            return _back(ticket_id)
        try:
            handoff.claim_ticket(session, ticket_id, target.id, now())
        except ValueError as exc:
            flash(str(exc), "warning")
            return _back(ticket_id)
        staff.audit(session, "assign", now(), staff_user_id=g.staff.user_id, ticket_id=ticket_id,
                    detail=f"to {target.username}")
        flash(f"Assigned to {target.display_name}.")
    return _back(ticket_id)


@bp.post("/tickets/<int:ticket_id>/reply")
def reply(ticket_id: int):
    """Text the patient through the outbox; the first reply sets the first-response time."""
    _check_ticket_access(ticket_id)
    try:
        with db() as session:
            sent = replies.send_staff_reply(session, ticket_id, staff_user_id=g.staff.user_id,
                                            body=request.form.get("body", ""), now=now())
    except replies.ReplyRefused as refused:
        flash(REPLY_REFUSALS[refused.reason], "warning")
        return _back(ticket_id)
    if sent.blocked:
        flash("Not sent: this phone has opted out of texts. Call the patient instead.", "warning")
    return _back(ticket_id)


@bp.post("/tickets/<int:ticket_id>/note")
def note(ticket_id: int):
    _check_ticket_access(ticket_id)
    body = request.form.get("body", "").strip()
    if not body:
        flash("Write a note first.", "warning")
        return _back(ticket_id)
    with db() as session:
        handoff.add_note(session, ticket_id, g.staff.user_id, body[:4000], now())
        staff.audit(session, "note", now(), staff_user_id=g.staff.user_id, ticket_id=ticket_id)
    return _back(ticket_id)


def _hand_over_now(command_id: int) -> bool:
    """Best effort: tell Rasa at once; the outbox sender's loop retries whatever is left. True if Rasa confirmed."""
    return rasa_commands.deliver_conversation_commands(current_app.extensions["staff_engine"], settings(), now, only_ids=[command_id],
                                                       timeout=REQUEST_RASA_TIMEOUT) == 1


@bp.post("/tickets/<int:ticket_id>/resolve")
def resolve(ticket_id: int):
    """Close the ticket and hand the conversation back to the bot (unless another ticket holds it).

    The resume is stored with the resolve; if Rasa does not confirm it now, the
    ticket shows "handing back..." until it does, and comes back open if it never does.
    """
    _check_ticket_access(ticket_id)
    with db() as session:
        command = replies.resolve_conversation(session, ticket_id, staff_user_id=g.staff.user_id, now=now())
        command_id = command.id if command is not None else None
    if command_id is None:
        flash("Resolved. Another open ticket still holds this conversation, so the bot stays paused.")
        return redirect(url_for("inbox.queue"))
    if not _hand_over_now(command_id):
        flash("Resolved, but the assistant could not be reached yet: handing back… It is tried again in the "
              "background; if it keeps failing, the ticket comes back open here.", "warning")
        return _back(ticket_id)
    flash("Resolved; the assistant has the conversation again.")
    return redirect(url_for("inbox.queue"))


@bp.post("/tickets/<int:ticket_id>/reopen")
def reopen(ticket_id: int):
    """Take the conversation back from the bot: reopen the ticket and pause Rasa for the phone (stored, retried)."""
    _check_ticket_access(ticket_id)
    with db() as session:
        command_id = replies.reopen_conversation(session, ticket_id, staff_user_id=g.staff.user_id, now=now()).id
    if not _hand_over_now(command_id):
        flash("Reopened, but the assistant could not be reached yet to pause it: it is tried again in the "
              "background, and until then it may answer texts.", "warning")
    return _back(ticket_id)
