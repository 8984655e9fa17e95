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
from bot.messaging import consent, conversations
from bot.models import (
    Appointment,
    Channel,
    HandoffTicket,
    InboundMessage,
    Patient,
    StaffUser,
    TicketStatus,
)
from bot.practice import format_phone, get_practice, practice_zone
from bot.staff import access, handback, handoff, pointpeople, queue_view, replies, routing
from bot.staff import accounts as staff
from bot.staff.responsetimes import format_duration
from bot.wording import language_or_default
from channels import rasa_commands
from channels.sms_twilio import media as twilio_media
from web.auth import db, deny, now, settings

bp = Blueprint("inbox", __name__)

MAX_REPLY = replies.MAX_REPLY
REPLY_REFUSALS = {
    replies.EMPTY: "Write a reply first.",
    replies.TOO_LONG: f"A text can be at most {MAX_REPLY} characters.",
    replies.RESOLVED: "This conversation is resolved; reopen it to reply.",
    replies.UNFILLED: "Not sent: fill in {detail} first (a template's placeholder with nothing to put in it).",
    replies.NEEDS_CONFIRMATION: "Not sent yet: check the text below and confirm.",
    replies.OPTED_OUT: "Not sent: this phone has opted out of texts. Call the patient instead.",
}
GUARD_WORDS = ("Texts to patients carry dates, times, provider and place only: no amounts or balances, "
               "medications, diagnoses or results.")
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


CHANNEL_LABELS = {Channel.SMS: "SMS", Channel.WEB_CHAT: "Web chat"}  # how the inbox names each conversation's channel
LANGUAGE_LABELS = {"en": "English", "es": "Español"}  # how the inbox names a conversation's language


def pulse_words(pulse: queue_view.ConversationPulse, at: datetime) -> str:
    """'waiting 12 min' until a staff text answers the patient's newest, then 'answered 3 min ago'."""
    if pulse.answered_at is not None:
        return f"answered {waited(at - pulse.answered_at)} ago"
    return f"waiting {waited(at - (pulse.waiting_since or at))}"


def _language_label(language: str | None) -> str:
    """"Español" for a Spanish conversation; English (and unknown: read as English) shows as "English"."""
    code = language_or_default(language)
    return LANGUAGE_LABELS.get(code, code)


def _queue_row(session: Session, ticket: HandoffTicket, names: dict[int, str], zone: ZoneInfo,
               at: datetime, state: handback.HandBack | None = None,
               pulse: queue_view.ConversationPulse | None = None) -> dict[str, Any]:
    answered = ticket.first_response_at is not None
    if pulse is None:
        pulse = queue_view.conversation_pulses(session, [ticket])[ticket.id]
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
        "channel": CHANNEL_LABELS.get(ticket.conversation.channel, ticket.conversation.channel.value),
        "language": _language_label(conversations.conversation_language(session, ticket.conversation)),
        "phone": format_phone(ticket.phone) if ticket.phone else ticket.conversation.address,
        "reason": queue_view.reason_for_staff(ticket.reason),
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
        "pinned": ticket.queue == g.staff.urgent_queue and ticket.status != TicketStatus.RESOLVED,
        "last_text": pulse.last_text or ("(picture)" if pulse.pictures else ""),
        "last_from": pulse.last_from or "",
        "pulse": pulse_words(pulse, at),
        "replied": pulse.answered_at is not None,
    }


def _ticket_row(session: Session, ticket: HandoffTicket, names: dict[int, str], zone: ZoneInfo,
                at: datetime) -> dict[str, Any]:
    return _queue_row(session, ticket, names, zone, at, handback.hand_back_states(session, [ticket.id]).get(ticket.id))


QUEUE_FLAGS = ("mine", "unassigned", "unanswered", "over_goal")


def queue_filter(args) -> tuple[queue_view.QueueFilter, bool]:
    """The filter a queue URL asks for, and whether it asks for the resolved list (``show=resolved``).

    ``show=mine`` (the older tab) is the same as ``mine=1``.
    """
    show = args.get("show", "open")
    queue = args.get("queue") or None
    return queue_view.QueueFilter(
        queue=queue if queue in g.staff.queues else None,
        search=args.get("q", "")[:80],
        mine=show == "mine" or args.get("mine") == "1",
        **{flag: args.get(flag) == "1" for flag in QUEUE_FLAGS if flag != "mine"},
    ), show == "resolved"


def _queue_rows(session: Session, args) -> list[dict[str, Any]]:
    practice = get_practice(session)
    g.queue_names = routing.queue_names(practice)
    zone, at = practice_zone(practice), now()
    wanted, resolved = queue_filter(args)
    tickets = queue_view.queue_tickets(session, g.staff.queues, g.staff.user_id, at, wanted, resolved=resolved)
    names = _names(session)
    states = handback.hand_back_states(session, [t.id for t in tickets])
    pulses = queue_view.conversation_pulses(session, tickets)
    return [_queue_row(session, t, names, zone, at, states.get(t.id), pulses[t.id]) for t in tickets]


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
    if queue not in g.staff.queues:
        deny(f"{g.staff.role} may not open the {queue} queue", ticket_id=ticket_id)


def _back(ticket_id: int):
    return redirect(url_for("inbox.ticket", ticket_id=ticket_id))


# --- The queue ----------------------------------------------------------------------

@bp.get("/")
def queue():
    show = request.args.get("show", "open")
    with db() as session:
        rows = _queue_rows(session, request.args)
        queue_names = g.queue_names
        my_unanswered = pointpeople.unanswered_assigned_count(session, g.staff.user_id)
    wanted, _ = queue_filter(request.args)
    return render_template("inbox/queue.html", rows=rows, show=show, wanted=wanted, args=request.args.to_dict(),
                           queues=[(q, queue_names.get(q, q)) for q in g.staff.queues], my_unanswered=my_unanswered)


@bp.get("/api/queue")
def api_queue():
    with db() as session:
        rows = _queue_rows(session, request.args)
    return jsonify(tickets=rows)


@bp.get("/api/urgent")
def api_urgent():
    """The open urgent tickets (ids and links only: a browser notification carries no health detail)."""
    if not g.staff.sees_urgent:
        deny(f"{g.staff.role} may not open the urgent queue")
    with db() as session:
        tickets = queue_view.queue_tickets(session, (g.staff.urgent_queue,), g.staff.user_id, now())
        rows = [{"id": t.id, "url": url_for("inbox.ticket", ticket_id=t.id)}
                for t in tickets if t.status != TicketStatus.RESOLVED]
    return jsonify(tickets=rows)


# --- One conversation ---------------------------------------------------------------

def _media_links(session: Session, ticket_id: int, entries: list[dict[str, Any]]) -> None:
    """Give each patient text with pictures the inbox's own links to them (never the Twilio URL)."""
    ids = {int(e["ref"][3:]): e for e in entries if e["who"] == "patient" and e["ref"].startswith("in-")}
    if not ids:
        return
    for message_id, media in session.execute(
            select(InboundMessage.id, InboundMessage.media).where(InboundMessage.id.in_(ids))).all():
        ids[message_id]["media"] = [
            {"url": url_for("inbox.media", ticket_id=ticket_id, message_id=message_id, index=i),
             "image": twilio_media.is_image(item.get("content_type", ""))}
            for i, item in enumerate(media or [])]


CONSENT_PURPOSES = {"care": "Care (appointments, reminders, replies)", "billing": "Billing", "marketing": "Marketing"}
CONSENT_SOURCES = {"intake_form": "intake form", "verbal": "verbal", "text_reply": "text reply", "web_chat": "web chat",
                   "keyword": "texted a keyword", "nlu": "asked by text", "twilio_21610": "carrier opt-out",
                   "staff": "staff"}


def consent_row(state: consent.ConsentState, zone: ZoneInfo, at: datetime) -> dict[str, str]:
    """One purpose's consent as the conversation page shows it: purpose, status, source, when."""
    if state.status is None:
        status = "allowed (nothing recorded)" if state.allowed else "not asked"
    elif state.allowed:
        status = "agreed"
    else:
        status = "opted out" if state.status == "opted_out" else "not in writing"
    return {"key": state.purpose, "purpose": CONSENT_PURPOSES.get(state.purpose, state.purpose), "status": status,
            "source": CONSENT_SOURCES.get(state.source, state.source) if state.source else "—",
            "when": local_time(state.recorded_at, zone, at) if state.recorded_at else "—"}


def _render_ticket(ticket_id: int, *, draft: str = "", findings: tuple = (), status: int = 200):
    """The conversation page; after a refused reply it keeps the draft (and what the send guard found)."""
    at = now()
    with db() as session:
        practice = get_practice(session)
        zone = practice_zone(practice)
        ticket = session.get(HandoffTicket, ticket_id)
        names = _names(session)
        g.queue_names = routing.queue_names(practice)
        row = _ticket_row(session, ticket, names, zone, at)
        entries = [_entry_json(e, zone, at, ticket_id, g.queue_names)
                   for e in handoff.transcript(session, ticket, role=g.staff.role)]
        _media_links(session, ticket_id, entries)
        patients = [ticket.patient] if ticket.patient else list(
            session.execute(select(Patient).where(Patient.phone == ticket.phone)).scalars())
        language = language_or_default(conversations.conversation_language(session, ticket.conversation))
        canned = [{"id": c.id, "title": c.title, "body": c.body, "language": _language_label(c.language), "code": c.language}
                  for c in replies.templates_for(session, practice, patients, session.get(StaffUser, g.staff.user_id),
                                                 at, language)]
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
        consents = [consent_row(c, zone, at) for c in consent.consents_of(session, ticket.phone)] if ticket.phone else []
        staff.audit(session, "view", at, staff_user_id=g.staff.user_id, ticket_id=ticket_id)
    return render_template("inbox/ticket.html", ticket=row, entries=entries, canned=canned,
                           appointments=appointments, colleagues=colleagues, consents=consents,
                           patients=[{"name": p.full_name, "dob": p.date_of_birth} for p in patients],
                           max_reply=MAX_REPLY, draft=draft, findings=findings, guard_words=GUARD_WORDS), status


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    _check_ticket_access(ticket_id)
    return _render_ticket(ticket_id)


@bp.get("/tickets/<int:ticket_id>/media/<int:message_id>/<int:index>")
def media(ticket_id: int, message_id: int, index: int):
    """A patient's picture, fetched from Twilio with the account's credentials and passed on.

    Only a picture of a text this viewer's transcript shows (minimum necessary); the media URL never
    reaches the browser. Audited like a view.
    """
    _check_ticket_access(ticket_id)
    with db() as session:
        ticket = session.get(HandoffTicket, ticket_id)
        shown = {e.ref for e in handoff.transcript(session, ticket, role=g.staff.role)}
        message = session.get(InboundMessage, message_id)
        if f"in-{message_id}" not in shown or message is None or not 0 <= index < len(message.media or []):
            abort(404)
        item = message.media[index]
        staff.audit(session, "media", now(), staff_user_id=g.staff.user_id, ticket_id=ticket_id,
                    detail=f"inbound {message_id} picture {index + 1}")
    try:
        picture = twilio_media.fetch_media(item["url"], settings())
    except twilio_media.MediaUnavailable as exc:
        return render_template("error.html", status=502, message=f"The picture could not be fetched: {exc}"), 502
    return picture.content, 200, {"Content-Type": picture.content_type,
                                  "Content-Disposition": "inline" if picture.is_image else "attachment"}


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
        g.queue_names = routing.queue_names(practice)
        row = _ticket_row(session, ticket, _names(session), zone, at)
        newer = [_entry_json(e, zone, at, ticket_id, g.queue_names) for e in entries[start:]]
        _media_links(session, ticket_id, newer)
    return jsonify(
        entries=newer,
        statuses={e.ref: e.status for e in entries if e.status is not None},
        ticket={k: row[k] for k in ("status", "status_label", "alert", "alert_text", "claimed_by", "urgency",
                                       "waiting", "pulse", "due")},
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


def refusal_words(refused: replies.ReplyRefused) -> str:
    return REPLY_REFUSALS[refused.reason].format(detail=refused.detail)


@bp.post("/tickets/<int:ticket_id>/reply")
def reply(ticket_id: int):
    """Text the patient through the outbox; the first reply sets the first-response time.

    A text the send guard flags comes back for review with what it found; it goes only with
    ``confirmed=1`` (the "Send anyway" button), whatever the page's script does.
    """
    _check_ticket_access(ticket_id)
    body = request.form.get("body", "")
    try:
        with db() as session:
            sent = replies.send_staff_reply(session, ticket_id, staff_user_id=g.staff.user_id, body=body,
                                            now=now(), confirmed=request.form.get("confirmed") == "1")
    except replies.ReplyRefused as refused:
        flash(refusal_words(refused), "warning")
        if refused.reason in (replies.NEEDS_CONFIRMATION, replies.UNFILLED, replies.TOO_LONG):
            return _render_ticket(ticket_id, draft=body, findings=refused.findings, status=422)
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


# --- Staff start a conversation -------------------------------------------------------

def _render_start(*, query: str = "", patient_id: int | None = None, draft: str = "", queue: str = "",
                  findings: tuple = (), status: int = 200):
    with db() as session:
        found = [{"id": p.id, "name": p.full_name, "phone": format_phone(p.phone), "dob": p.date_of_birth}
                 for p in replies.find_patients(session, query)] if query.strip() else []
        chosen = session.get(Patient, patient_id) if patient_id else None
        picked = None
        if chosen is not None:
            picked = {"id": chosen.id, "name": chosen.full_name, "phone": format_phone(chosen.phone),
                      "opted_out": consent.is_opted_out(session, chosen.phone)}
        names = routing.queue_names(get_practice(session))
    queues = [(q, names.get(q, q)) for q in g.staff.queues]
    return render_template("inbox/start.html", query=query, found=found, picked=picked, queues=queues,
                           queue=queue or (queues[0][0] if queues else ""), draft=draft, findings=findings,
                           guard_words=GUARD_WORDS, max_reply=MAX_REPLY), status


@bp.get("/conversations/new")
def start():
    """Find a patient by name or phone, then write the first text."""
    return _render_start(query=request.args.get("q", "")[:80],
                         patient_id=request.args.get("patient_id", type=int))


@bp.post("/conversations/new")
def start_post():
    """Text a patient first (consent checked, audited); the conversation opens as a ticket of the chosen queue."""
    patient_id = request.form.get("patient_id", type=int)
    queue, body = request.form.get("queue", ""), request.form.get("body", "")
    if patient_id is None:
        abort(400)
    if queue not in g.staff.queues:  # the practice file's roles, like every other route
        deny(f"{g.staff.role} may not write from the {queue} queue")
    try:
        with db() as session:
            started = replies.start_conversation(session, patient_id, queue=queue, staff_user_id=g.staff.user_id,
                                                 role=g.staff.role, body=body, now=now(),
                                                 confirmed=request.form.get("confirmed") == "1")
            pause_id = started.pause.id if started.pause else None
    except LookupError:
        abort(404)
    except replies.ReplyRefused as refused:
        flash(refusal_words(refused), "warning")
        return _render_start(patient_id=patient_id, draft=body, queue=queue, findings=refused.findings, status=422)
    if started.opted_out:
        flash(REPLY_REFUSALS[replies.OPTED_OUT], "warning")
        return _render_start(patient_id=patient_id, draft=body, queue=queue, status=422)
    if not _hand_over_now(pause_id):
        flash("Sent. The assistant could not be reached yet to pause it: it is tried again in the background.",
              "warning")
    return _back(started.ticket_id)
