"""Staff logins under attack: scrypt runs with no database transaction open, wrong passwords lock one
username from one address only, and a flood from many addresses trips a global limit."""
from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import StaffUser
from bot.settings import Settings
from bot.staff import accounts as staff
from tests.web_helpers import PASSWORD, add_user, csrf_of, login, make_app, try_login


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def hashing_checks(monkeypatch, engine):
    """Every scrypt the app runs first proves no one holds the SQLite write lock (no write transaction open)."""
    path = engine.url.database
    real = hashlib.scrypt
    checks = []

    def scrypt(*args, **kwargs):
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails at once with "database is locked" inside a transaction
            probe.execute("ROLLBACK")
            checks.append("free")
        except sqlite3.OperationalError as exc:
            checks.append(str(exc))
        finally:
            probe.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", scrypt)
    return checks


def test_passwords_are_hashed_outside_any_database_transaction(app, engine, now, hashing_checks):
    add_user(engine, "ada", "admin", now)
    hashing_checks.clear()
    assert try_login(app.test_client(), "ada", "wrong password").status_code == 401
    assert try_login(app.test_client(), "nobody", "some password").status_code == 401  # the dummy hash
    client = app.test_client()
    csrf = login(client, "ada")
    client.post("/admin/users", data={"username": "bea", "password": "long enough", "role": "billing",
                                      "csrf_token": csrf})
    with Session(engine) as session:
        bea = session.execute(select(StaffUser.id).where(StaffUser.username == "bea")).scalar_one()
    client.post(f"/admin/users/{bea}", data={"action": "password", "password": "another long one",
                                                "csrf_token": csrf})
    assert hashing_checks == ["free"] * 5  # two wrong logins, one right one, a new user, a new password


def test_the_probe_sees_a_transaction_held_during_hashing(engine, now, hashing_checks):
    """The check above can fail: hashing inside a write transaction (the old way) is caught."""
    add_user(engine, "ada", "admin", now)
    hashing_checks.clear()
    with Session(engine) as session, session.begin():
        staff.authenticate(session, "ada", PASSWORD)  # hashes inside the caller's transaction
    assert hashing_checks == ["database is locked"]


def test_wrong_passwords_lock_a_username_only_from_that_address(app, engine, now, clock):
    add_user(engine, "bea", "billing", now)
    guesser = _client(app, "203.0.113.9")
    for minute in range(staff.FAILED_LOGINS_ALLOWED):
        clock.at = now + timedelta(minutes=minute)
        assert try_login(guesser, "bea", f"guess{minute}").status_code == 401
    clock.at = now + timedelta(minutes=5)
    refused = try_login(guesser, "bea", PASSWORD)
    assert refused.status_code == 429 and "Too many wrong passwords for this username" in refused.get_data(True)
    # Bea at her own desk is not locked out by whoever typed her name elsewhere.
    assert try_login(_client(app, "192.168.1.20"), "bea", PASSWORD).status_code == 302


def test_a_flood_from_many_addresses_trips_the_global_limit(app, engine, now, clock):
    add_user(engine, "bea", "billing", now)
    add_user(engine, "carl", "front_desk", now)
    for n in range(staff.GLOBAL_FAILED_LOGINS_ALLOWED):
        clock.at = now + timedelta(seconds=n)
        assert try_login(_client(app, f"198.51.100.{n}"), "bea", f"guess{n}").status_code == 401  # never 5 per address
    clock.at = now + timedelta(minutes=1)
    refused = try_login(_client(app, "192.168.1.21"), "carl", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins at the moment. Try again in 4 minutes." in refused.get_data(as_text=True)
    clock.at = now + timedelta(minutes=5, seconds=30)  # half the flood has left the five-minute window
    assert try_login(_client(app, "192.168.1.21"), "carl", PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_locked(engine, now, clock):
    app = make_app(engine, clock, staff_trusted_proxies=1)
    add_user(engine, "bea", "billing", now)
    guesser = _client(app, "127.0.0.1")
    guesser.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    for _ in range(staff.FAILED_LOGINS_ALLOWED):
        assert try_login(guesser, "bea", "guess").status_code == 401
    assert try_login(guesser, "bea", PASSWORD).status_code == 429
    colleague = _client(app, "127.0.0.1")  # the same proxy, another desk
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "192.168.1.20"
    assert try_login(colleague, "bea", PASSWORD).status_code == 302


@pytest.mark.parametrize("env, secure", [
    ({}, False),
    ({"PUBLIC_BASE_URL": "http://127.0.0.1:5005"}, False),
    ({"PUBLIC_BASE_URL": "https://sms.practice.example"}, True),
    ({"PUBLIC_BASE_URL": "https://sms.practice.example", "STAFF_COOKIE_SECURE": "false"}, False),
    ({"STAFF_COOKIE_SECURE": "true"}, True),
])
def test_secure_cookies_follow_public_base_url_unless_set(env, secure):
    assert Settings.from_env(env).staff_cookie_secure is secure


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_with_secure_cookies_every_inbox_cookie_is_https_only(engine, now, clock):
    app = make_app(engine, clock, staff_cookie_secure=True)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    form = client.get("/login")
    assert "Secure" in _set_cookies(form)["staff_login_csrf"]
    logged_in = try_login(client, "bea")
    assert logged_in.status_code == 302
    assert "Secure" in _set_cookies(logged_in)["staff_session"]
    csrf = csrf_of(client)
    logged_out = client.post("/logout", data={"csrf_token": csrf})  # flashes "You are logged out."
    assert "Secure" in _set_cookies(logged_out)["session"]  # Flask's own cookie, carrying flashed messages
    plain = try_login(make_app(engine, clock).test_client(), "bea")
    assert "Secure" not in _set_cookies(plain)["staff_session"]
