"""Staff accounts, logins and the audit log (who may see what: :mod:`bot.staff.access`).

The web inbox is an adapter over this module: it never hashes a password,
stores a session or decides a permission itself. Passwords are hashed with
scrypt (slow on purpose); a login's random token lives only in the browser's
cookie, the database keeps its SHA-256, so a copy of the database opens no
session. Every function takes a ``session`` and does not commit.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import AuditEntry, LoginFailure, StaffRole, StaffSession, StaffUser
from bot.settings import get_settings
from bot.staff.access import may_see_queue, role_of

MIN_PASSWORD_LENGTH = 8
_SCRYPT_R, _SCRYPT_P = 8, 1  # N, the cost, is a setting (STAFF_PASSWORD_SCRYPT_N): 2**14 unless a test lowers it


class StaffError(ValueError):
    """A staff account request that cannot be carried out; the message says why."""


# --- Passwords -------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): the parameters travel with the hash."""
    n = get_settings().staff_password_scrypt_n
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; the comparison takes constant time."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        expected_bytes = base64.b64decode(expected)
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected_bytes), maxmem=128 * int(n) * int(r) * 2 + 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected_bytes)


@dataclass(frozen=True)
class NewPassword:
    """A password checked and hashed before any transaction opens: scrypt is slow on purpose, and on
    SQLite every transaction holds the write lock, so hashing inside one would stall every writer."""

    hash: str


def new_password(password: str) -> NewPassword:
    """Check the length and hash; call it before ``with ... session.begin()``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    return NewPassword(hash_password(password))


def _hash_of(password: str | NewPassword) -> str:
    return password.hash if isinstance(password, NewPassword) else new_password(password).hash


# A hash to check against when the username is unknown, so a wrong username takes as long as a wrong
# password (made at import with the configured cost, never inside a login's transaction).
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# --- Accounts --------------------------------------------------------------------

def create_staff_user(
    session: Session, username: str, password: str | NewPassword, role: str, display_name: str | None,
    now: datetime,
) -> StaffUser:
    """A new active staff account; refuses a taken username, an unknown role or a short password.

    Pass a :func:`new_password` made before the transaction (a plain string is hashed here, inside it).
    """
    username = username.strip()
    if not username:
        raise StaffError("a username is required")
    try:
        role_enum = StaffRole(role)
    except ValueError:
        raise StaffError(f"unknown role {role!r}; choose one of {', '.join(r.value for r in StaffRole)}") from None
    if isinstance(password, str) and len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.execute(select(StaffUser.id).where(StaffUser.username == username)).first():
        raise StaffError(f"the username {username!r} is taken")
    user = StaffUser(
        username=username,
        display_name=(display_name or username).strip(),
        password_hash=_hash_of(password),
        role=role_enum,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: StaffUser, password: str | NewPassword) -> None:
    """A new password (best a :func:`new_password` made before the transaction)."""
    user.password_hash = _hash_of(password)


def set_active(session: Session, user: StaffUser, active: bool, now: datetime) -> None:
    """Turn an account on or off; turning it off ends its open logins at once."""
    user.active = active
    if not active:
        for login in session.execute(
            select(StaffSession).where(StaffSession.staff_user_id == user.id, StaffSession.ended_at.is_(None))
        ).scalars():
            login.ended_at = now


def list_staff_users(session: Session) -> list[StaffUser]:
    return list(session.execute(select(StaffUser).order_by(StaffUser.username)).scalars())


def staff_for_queue(session: Session, queue: str) -> list[StaffUser]:
    """Active staff whose role answers ``queue``: who a ticket there may be assigned to."""
    from bot.practice import get_practice

    practice = get_practice(session)
    return [u for u in list_staff_users(session) if u.active and may_see_queue(role_of(u), queue, practice)]


# --- Logins ----------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoginCandidate:
    """What a login attempt checks the password against, read in a short transaction and then let go."""

    user_id: int | None     # None: no such active user (the password is checked against a dummy hash)
    password_hash: str


def login_candidate(session: Session, username: str) -> LoginCandidate:
    user = session.execute(select(StaffUser).where(StaffUser.username == username.strip())).scalar_one_or_none()
    if user is None or not user.active:
        return LoginCandidate(None, _DUMMY_HASH)
    return LoginCandidate(user.id, user.password_hash)


def check_password(candidate: LoginCandidate, password: str) -> bool:
    """The slow part of a login (scrypt), run with no transaction open; the same work for an unknown user."""
    return verify_password(password, candidate.password_hash) and candidate.user_id is not None


def confirm_login(session: Session, candidate: LoginCandidate) -> StaffUser | None:
    """The user of a checked password, if still active with that same password (it may have changed meanwhile)."""
    user = session.get(StaffUser, candidate.user_id) if candidate.user_id is not None else None
    if user is None or not user.active or user.password_hash != candidate.password_hash:
        return None
    return user


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The active user with this username and password, or None (same work either way).

    It hashes inside the caller's session: fine for a script; the inbox's
    login uses :func:`login_candidate`, :func:`check_password` and
    :func:`confirm_login` so that no transaction is open while it hashes.
    """
    candidate = login_candidate(session, username)
    return confirm_login(session, candidate) if check_password(candidate, password) else None


# Password guessing. After FAILED_LOGINS_ALLOWED wrong passwords for one username from one client
# address within the window, that username is refused from that address (even with the right
# password) until the window has passed; the same username from another address still works, so
# nobody can lock a colleague out by typing their name. Many addresses guessing at once trip the
# global limit instead: then every login is refused for a while (open logins keep working).
# Counted in the database (login_failure), so every inbox process sees the same counts.
FAILED_LOGINS_ALLOWED = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
GLOBAL_FAILED_LOGINS_ALLOWED = 50
GLOBAL_FAILED_LOGIN_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class LoginLock:
    until: datetime
    everyone: bool  # True: the global limit (all logins); False: this username from this address


def _username_key(username: str) -> str:
    return username.strip()[:80]


def record_failed_login(session: Session, username: str, address: str, now: datetime) -> None:
    session.add(LoginFailure(at=now, username=_username_key(username), client_address=address[:64]))
    audit(session, "denied", now, detail=f"login failed for {_username_key(username)!r} from {address[:64]}")


def record_refused_login(session: Session, username: str, address: str, lock: LoginLock, now: datetime) -> None:
    why = "too many failed logins" if lock.everyone else "too many wrong passwords"
    audit(session, "denied", now, detail=f"login refused for {_username_key(username)!r} from {address[:64]}: {why}")


def _locked_until(session: Session, query, allowed: int, window: timedelta, now: datetime) -> datetime | None:
    recent = session.execute(
        query.where(LoginFailure.at > now - window).order_by(LoginFailure.at.desc()).limit(allowed)
    ).scalars().all()
    if len(recent) < allowed:
        return None
    return recent[-1] + window  # the oldest of the last few failures leaves the window then


def login_locked(session: Session, username: str, address: str, now: datetime) -> LoginLock | None:
    """Whether a login for this username from this address is refused now, and until when."""
    everyone = _locked_until(session, select(LoginFailure.at), GLOBAL_FAILED_LOGINS_ALLOWED,
                             GLOBAL_FAILED_LOGIN_WINDOW, now)
    if everyone is not None:
        return LoginLock(everyone, everyone=True)
    pair = _locked_until(
        session,
        select(LoginFailure.at).where(LoginFailure.username == _username_key(username),
                                      LoginFailure.client_address == address[:64]),
        FAILED_LOGINS_ALLOWED, FAILED_LOGIN_WINDOW, now)
    return LoginLock(pair, everyone=False) if pair is not None else None


@dataclass(frozen=True)
class Login:
    """A started login: ``token`` goes into the cookie and is never stored."""

    token: str
    staff_session: StaffSession


def start_session(session: Session, user: StaffUser, now: datetime, hours: float) -> Login:
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=_token_hash(token),
        staff_user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return Login(token, row)


def session_for_token(session: Session, token: str | None, now: datetime) -> StaffSession | None:
    """The live login for a cookie's token: not ended, not expired, its user still active."""
    if not token:
        return None
    row = session.execute(
        select(StaffSession).where(StaffSession.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.ended_at is not None or row.expires_at <= now or not row.staff_user.active:
        return None
    return row


def end_session(session: Session, staff_session: StaffSession, now: datetime) -> None:
    if staff_session.ended_at is None:
        staff_session.ended_at = now


# --- Audit -----------------------------------------------------------------------

AUDIT_ACTIONS = frozenset({
    "login", "logout", "view", "reply", "note", "claim", "assign", "resolve", "reopen", "denied",
    "user_add", "user_change", "canned_change",
    "bills_import",  # a statement import over POST /api/bills (web/bills_api.py)
    "broadcast", "broadcast_cancel",  # staff texted a day's patients, or stopped it (bot/messaging/broadcasts.py)
    "start", "start_refused", "media",  # staff texted a patient first (or were refused: opted out); a picture shown
})


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    username: str | None
    action: str
    ticket_id: int | None
    detail: str | None


AUDIT_PAGE = 100


def audit_log(session: Session, *, username: str | None = None, action: str | None = None,
              ticket_id: int | None = None, before_id: int | None = None,
              limit: int = AUDIT_PAGE) -> list[AuditRow]:
    """The audit log, newest first, optionally for one user, action or conversation.

    ``before_id`` pages back: pass the last row's id to get the next (older) page.
    """
    query = (select(AuditEntry, StaffUser.username)
             .outerjoin(StaffUser, AuditEntry.staff_user_id == StaffUser.id)
             .order_by(AuditEntry.id.desc()).limit(limit))
    if username:
        query = query.where(StaffUser.username == username.strip())
    if action:
        query = query.where(AuditEntry.action == action)
    if ticket_id is not None:
        query = query.where(AuditEntry.ticket_id == ticket_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return [AuditRow(e.id, e.at, name, e.action, e.ticket_id, e.detail) for e, name in session.execute(query)]


def audit(
    session: Session,
    action: str,
    now: datetime,
    *,
    staff_user_id: int | None = None,
    ticket_id: int | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Record who did (or was refused) what on which conversation."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(at=now, staff_user_id=staff_user_id, action=action, ticket_id=ticket_id,
                       detail=(detail or None) and detail[:300])
    session.add(entry)
    session.flush()
    return entry
