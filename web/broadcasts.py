"""Broadcasts page: pick a day (optionally a provider), a canned text or your own, preview, send, watch the
progress and cancel what is not sent yet. Admin and front desk only (``bot.messaging.broadcasts.ROLES``); the
view only turns HTTP into calls on :mod:`bot.messaging.broadcasts` (which audits) and renders the facts."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import wording
from bot.messaging import broadcasts
from bot.models import Broadcast, Provider
from bot.practice import get_practice, practice_zone
from web.auth import db, deny, now, settings

bp = Blueprint("broadcasts", __name__)

REASONS = {broadcasts.OPTED_OUT: "opted out (STOP)", broadcasts.NO_CARE_CONSENT: "no consent to care texts",
           broadcasts.WRONG_NUMBER: "reported wrong number", broadcasts.NO_PHONE: "no phone on file"}


@bp.before_request
def _roles():
    if not broadcasts.may_broadcast(g.staff.role):
        deny("broadcasts: admin and front desk only")


def _form() -> dict:
    form = request.form
    provider = form.get("provider_id") or ""
    return {"day": form.get("day", ""), "provider_id": int(provider) if provider.isdigit() else None,
            "template": form.get("template") or None, "text": form.get("text") or None,
            "cancel_appointments": form.get("cancel_appointments") == "1"}


def _confirmed() -> bool:
    return request.form.get("confirmed") == "1"


def _options(chosen: dict) -> dict:
    return {**chosen, "day": date.fromisoformat(chosen["day"]), "text": None if chosen["template"] else chosen["text"]}


def _choices(session) -> dict:
    return {"providers": session.execute(select(Provider).where(Provider.active).order_by(Provider.name)).scalars().all(),
            "templates": [(name, wording.catalog("en")[name]) for name in broadcasts.TEMPLATES],
            "placeholders": ["{" + p + "}" for p in broadcasts.PLACEHOLDERS]}


@bp.get("/broadcasts")
def index():
    with db() as session:
        tomorrow = (now().astimezone(practice_zone(get_practice(session))) + timedelta(days=1)).date()
        recent = [(b, broadcasts.progress(session, b.id)) for b in broadcasts.recent(session)]
        return render_template("broadcasts/index.html", chosen={"day": tomorrow.isoformat()}, recent=recent,
                               **_choices(session))


@bp.post("/broadcasts/preview")
def preview():
    chosen = _form()
    with db() as session:
        try:
            facts = broadcasts.preview(session, **_options(chosen))
        except (ValueError, broadcasts.EmptyText) as exc:
            flash(f"Nothing to preview: {exc}", "warning")
            return redirect(url_for("broadcasts.index"))
        texts = list(dict.fromkeys(r.body for r in facts.recipients))
        return render_template("broadcasts/preview.html", chosen=chosen, preview=facts, texts=texts[:3],
                               reasons=REASONS)


@bp.post("/broadcasts")
def send():
    chosen = _form()
    with db() as session:
        try:
            broadcast = broadcasts.start(session, staff_user_id=g.staff.user_id, role=g.staff.role, now=now(),
                                         send_rate=settings().sms_send_rate, confirmed=_confirmed(),
                                         **_options(chosen))
        except broadcasts.NeedsConfirmation as exc:
            flash(f"Not sent: the text mentions {exc}; confirm it on the preview.", "warning")
            return redirect(url_for("broadcasts.index"))
        except (ValueError, broadcasts.EmptyText) as exc:
            flash(f"Not sent: {exc}", "warning")
            return redirect(url_for("broadcasts.index"))
        broadcast_id = broadcast.id
    flash("Broadcast queued: the texts go out at the sender's pace.")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast_id))


@bp.get("/broadcasts/<int:broadcast_id>")
def show(broadcast_id: int):
    with db() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None:
            deny("no such broadcast", status=404)
        return render_template("broadcasts/show.html", broadcast=broadcast,
                               progress=broadcasts.progress(session, broadcast_id))


@bp.get("/api/broadcasts/<int:broadcast_id>")
def api_progress(broadcast_id: int):
    with db() as session:
        if session.get(Broadcast, broadcast_id) is None:
            deny("no such broadcast", status=404)
        progress = broadcasts.progress(session, broadcast_id)
    return jsonify(counts=progress.counts, cancelled=progress.cancelled, done=progress.done)


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def cancel(broadcast_id: int):
    with db() as session:
        if session.get(Broadcast, broadcast_id) is None:
            deny("no such broadcast", status=404)
        stopped = broadcasts.cancel(session, broadcast_id, staff_user_id=g.staff.user_id, role=g.staff.role,
                                    now=now())
    flash(f"Broadcast cancelled: {stopped} texts not sent.")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast_id))
