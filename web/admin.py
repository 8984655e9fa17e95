"""Admin only: staff accounts, the canned responses staff insert into replies, and the audit log."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.models import CannedResponse, StaffRole, StaffUser
from bot.practice import get_practice, practice_zone
from bot.staff import access
from bot.staff import accounts as staff
from web.auth import db, now, require_admin
from web.inbox import LANGUAGE_LABELS, local_time

bp = Blueprint("admin", __name__, url_prefix="/admin")

PLACEHOLDERS = ("{first_name}", "{practice_phone}", "{practice_name}")


@bp.before_request
def _admins_only():
    require_admin()


@bp.get("/")
def index():
    with db() as session:
        users = [{"id": u.id, "username": u.username, "display_name": u.display_name,
                  "role": access.role_of(u), "active": u.active} for u in staff.list_staff_users(session)]
        canned = [{"id": c.id, "title": c.title, "body": c.body, "language": c.language}
                  for c in session.execute(select(CannedResponse).order_by(CannedResponse.title)).scalars()]
    return render_template("admin/index.html", users=users, canned=canned, languages=LANGUAGE_LABELS,
                           roles=[r.value for r in StaffRole], placeholders=PLACEHOLDERS)


@bp.post("/users")
def add_user():
    form = request.form
    try:
        password = staff.new_password(form.get("password", ""))  # scrypt before, not inside, the transaction
    except staff.StaffError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("admin.index"))
    with db() as session:
        try:
            user = staff.create_staff_user(session, form.get("username", ""), password,
                                           form.get("role", ""), form.get("display_name") or None, now())
        except staff.StaffError as exc:
            flash(str(exc), "warning")
            return redirect(url_for("admin.index"))
        staff.audit(session, "user_add", now(), staff_user_id=g.staff.user_id,
                    detail=f"{user.username} ({access.role_of(user)})")
        flash(f"Added {user.username}.")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>")
def change_user(user_id: int):
    """Turn an account on or off, or set a new password."""
    action = request.form.get("action")
    try:  # scrypt before, not inside, the transaction
        password = staff.new_password(request.form.get("password", "")) if action == "password" else None
    except staff.StaffError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("admin.index"))
    with db() as session:
        user = session.get(StaffUser, user_id)
        if user is None:
            flash("No such user.", "warning")
            return redirect(url_for("admin.index"))
        try:
            if action == "deactivate":
                if user.id == g.staff.user_id:
                    raise staff.StaffError("you cannot turn off your own account")
                staff.set_active(session, user, False, now())
            elif action == "activate":
                staff.set_active(session, user, True, now())
            elif action == "password":
                staff.set_password(session, user, password)
            else:
                raise staff.StaffError("unknown change")
        except staff.StaffError as exc:
            flash(str(exc), "warning")
            return redirect(url_for("admin.index"))
        staff.audit(session, "user_change", now(), staff_user_id=g.staff.user_id,
                    detail=f"{action} {user.username}")
        flash(f"Changed {user.username}: {action}.")
    return redirect(url_for("admin.index"))


@bp.post("/canned")
def save_canned():
    """Add a canned response, or edit/delete one (``id`` given)."""
    form = request.form
    title, body = form.get("title", "").strip(), form.get("body", "").strip()
    language = form.get("language", "en")
    with db() as session:
        row = session.get(CannedResponse, int(form["id"])) if form.get("id", "").isdigit() else None
        if form.get("action") == "delete" and row is not None:
            session.delete(row)
            detail = f"deleted {row.title}"
        elif not title or not body:
            flash("A canned response needs a title and a text.", "warning")
            return redirect(url_for("admin.index"))
        elif language not in LANGUAGE_LABELS:
            flash(f"A canned response is in one of: {', '.join(LANGUAGE_LABELS.values())}.", "warning")
            return redirect(url_for("admin.index"))
        elif session.execute(select(CannedResponse.id).where(CannedResponse.title == title,
                                                             CannedResponse.id != (row.id if row else -1))).first():
            flash(f"There is already a canned response called {title!r}.", "warning")
            return redirect(url_for("admin.index"))
        else:
            row = row or CannedResponse()
            row.title, row.body, row.language = title[:120], body, language
            session.add(row)
            detail = f"saved {title[:120]} ({language})"
        staff.audit(session, "canned_change", now(), staff_user_id=g.staff.user_id, detail=detail)
    return redirect(url_for("admin.index"))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.get("/audit")
def audit_log():
    """Who viewed, answered or changed what, and every refusal: newest first, filterable, paged."""
    filters = {"username": request.args.get("user", "").strip() or None,
               "action": request.args.get("action", "").strip() or None,
               "ticket_id": _int_arg("ticket")}
    with db() as session:
        zone = practice_zone(get_practice(session))
        rows = staff.audit_log(session, before_id=_int_arg("before"), **filters)
        entries = [{"id": r.id, "time": local_time(r.at, zone), "username": r.username or "",
                    "action": r.action, "ticket_id": r.ticket_id, "detail": r.detail or ""} for r in rows]
    older = entries[-1]["id"] if len(entries) == staff.AUDIT_PAGE else None
    return render_template("admin/audit.html", entries=entries, older=older,
                           actions=sorted(staff.AUDIT_ACTIONS),
                           user=filters["username"] or "", action=filters["action"] or "",
                           ticket=filters["ticket_id"] or "")
