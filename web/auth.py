"""Logins, the login check on every request, CSRF, and refusals (each one audited).

The cookie holds a random token; the database holds its hash (see
:mod:`bot.staff.accounts`). Pages without a login redirect to /login, ``/api/...``
answers 401 JSON. A POST without the login's CSRF token is refused with 403.
"""
from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import ContextManager, NoReturn
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.messaging import outbox
from bot.practice import get_practice
from bot.settings import Settings
from bot.staff import access, routing
from bot.staff import accounts as staff

bp = Blueprint("auth", __name__)

COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "staff_login_csrf"
PUBLIC_ENDPOINTS = {"auth.login", "auth.health", "auth.favicon", "static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class StaffContext:
    """Who is logged in for this request (plain data; no database object outlives its session)."""

    session_id: int
    user_id: int
    display_name: str
    role: str
    csrf_token: str
    queues: tuple[str, ...] = ()  # the queues the role answers, from the practice file's queues.<name>.roles
    urgent_queue: str = ""  # where the practice routes emergencies (routing.urgent_queue)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_urgent(self) -> bool:
        """Whose pages raise a browser notification for a new urgent ticket: who answers the urgent queue."""
        return self.urgent_queue in self.queues


def db() -> ContextManager[Session]:
    """``with db() as session:`` around one use case: :func:`bot.db.transaction` on the inbox's database."""
    return transaction(current_app.extensions["staff_engine"])


def now() -> datetime:
    return current_app.config["STAFF_CLOCK"]()


def settings() -> Settings:
    return current_app.config["STAFF_SETTINGS"]


def wants_json() -> bool:
    return request.path.startswith("/api/")


def deny(detail: str, *, status: int = 403, ticket_id: int | None = None) -> NoReturn:
    """Refuse the request and write a "denied" audit entry in its own transaction."""
    user = g.get("staff")
    with db() as session:
        staff.audit(session, "denied", now(), staff_user_id=user.user_id if user else None,
                    ticket_id=ticket_id, detail=f"{request.method} {request.path}: {detail}")
    if wants_json():
        abort(make_response(jsonify(error=detail), status))
    abort(make_response(render_template("error.html", status=status, message=detail), status))


def require_admin() -> None:
    if not g.staff.is_admin:
        deny("admin only")


def _load_staff() -> None:
    g.staff = None
    token = request.cookies.get(COOKIE)
    if not token:
        return
    with db() as session:
        login = staff.session_for_token(session, token, now())
        if login is not None:
            user = login.staff_user
            role = access.role_of(user)
            practice = get_practice(session)
            g.staff = StaffContext(login.id, user.id, user.display_name, role, login.csrf_token,
                                   access.visible_queues(role, practice), routing.urgent_queue(practice))


def _check_request():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    _load_staff()
    if g.staff is None:
        reason = "no login" if not request.cookies.get(COOKIE) else "login ended or unknown"
        if wants_json() or request.method not in SAFE_METHODS:
            deny(reason, status=401)
        with db() as session:
            staff.audit(session, "denied", now(), detail=f"{request.method} {request.path}: {reason}")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.method not in SAFE_METHODS:
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(sent.encode(), g.staff.csrf_token.encode()):
            deny("missing or wrong CSRF token")
    return None


# Only the inbox's own files run or style a page: no inline script or style, no other origin, never framed.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")


def _security_headers(response):
    """On every response (pages, the API, static files, errors): patient data is neither cached nor framed."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_check_request)
    app.after_request(_security_headers)

    @app.context_processor
    def _staff_globals():
        return {"staff_user": g.get("staff"), "csrf_token": g.staff.csrf_token if g.get("staff") else ""}


def _safe_next(target: str | None) -> str:
    """Where to go after login: only a path of this site. Browsers read a backslash as a slash,
    so "/\\evil.example" would leave the site like "//evil.example"; both are refused."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 32 for c in target) or urlsplit(target).netloc):
        return url_for("inbox.queue")
    return target


@bp.get("/healthz")
def health():
    """For the operator's monitoring: the inbox answers, and whether texts are stuck on the way out."""
    with db() as session:
        report = outbox.outbox_health(session, now()).as_dict()
    return jsonify(ok=report["status"] == "ok", outbox=report), 200 if report["status"] == "ok" else 503


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page; answering keeps it out of the login flow and the audit log."""
    return "", 204


def _secure_cookies() -> bool:
    """Secure cookies (HTTPS only): STAFF_COOKIE_SECURE, on by default when PUBLIC_BASE_URL is https."""
    return settings().staff_cookie_secure or request.is_secure


def _log_in(username: str, password: str, address: str) -> tuple[staff.Login | None, staff.LoginLock | None]:
    """A started login, or why not: (None, the lock) when refused untried, (None, None) for a wrong password.

    Three short transactions, and the password is hashed between them with none
    open: scrypt is slow on purpose, and a login flood must not hold up every writer.
    """
    with db() as session:
        lock = staff.login_locked(session, username, address, now())
        if lock is not None:
            staff.record_refused_login(session, username, address, lock, now())
            return None, lock
        candidate = staff.login_candidate(session, username)
    matches = staff.check_password(candidate, password)
    with db() as session:
        user = staff.confirm_login(session, candidate) if matches else None
        if user is None:
            staff.record_failed_login(session, username, address, now())
            return None, None
        started = staff.start_session(session, user, now(), settings().staff_session_hours)
        staff.audit(session, "login", now(), staff_user_id=user.id)
    return started, None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Login form; its own double-submit token stands in for CSRF until there is a login."""
    error, status = None, 200
    if request.method == "POST":
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        sent = request.form.get("csrf_token", "")
        username = request.form.get("username", "")
        if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
            with db() as session:
                staff.audit(session, "denied", now(), detail="POST /login: missing or wrong CSRF token")
            abort(make_response(render_template("error.html", status=403,
                                                message="The login form expired; reload the page."), 403))
        started, lock = _log_in(username, request.form.get("password", ""), request.remote_addr or "unknown")
        if started is not None:
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(COOKIE, started.token, httponly=True, samesite="Lax", secure=_secure_cookies(),
                                path="/", max_age=int(settings().staff_session_hours * 3600))
            response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
            return response
        error, status = "Wrong username or password.", 401
        if lock is not None:
            minutes = max(1, math.ceil((lock.until - now()).total_seconds() / 60))
            error = (f"Too many failed logins at the moment. Try again in {minutes} minutes." if lock.everyone else
                     f"Too many wrong passwords for this username. Try again in {minutes} minutes, "
                     "or ask an admin to set a new password.")
            status = 429
    # Reuse the form token: a second tab (or the browser's favicon fetch) must not void the first form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = make_response(render_template("login.html", login_csrf=token, error=error), status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=_secure_cookies(), path="/login")
    return response


@bp.post("/logout")
def logout():
    with db() as session:
        login = session.get(staff.StaffSession, g.staff.session_id)
        staff.end_session(session, login, now())
        staff.audit(session, "logout", now(), staff_user_id=g.staff.user_id)
    flash("You are logged out.")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(COOKIE, path="/")
    return response
