"""Staff accounts, password hashing, logins and roles (bot.staff.accounts)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bot.models import AuditEntry
from bot.settings import Settings, get_settings
from bot.staff import access
from bot.staff import accounts as staff


@pytest.fixture
def production_settings(monkeypatch):
    """The settings of a deployment that sets nothing (the tests lower scrypt's cost: tests/conftest.py)."""
    monkeypatch.delenv("STAFF_PASSWORD_SCRYPT_N", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_production_hashes_staff_passwords_with_scrypt_at_n_16384(production_settings):
    assert production_settings.staff_password_scrypt_n == 16384 == Settings().staff_password_scrypt_n
    assert Settings.from_env({"STAFF_PASSWORD_SCRYPT_N": ""}).staff_password_scrypt_n == 16384


def test_password_hash_is_self_describing_salted_scrypt(production_settings):
    first, second = staff.hash_password("s3cret-pass"), staff.hash_password("s3cret-pass")
    assert first.startswith("scrypt$16384$8$1$")
    assert first != second  # a random salt each time
    assert staff.verify_password("s3cret-pass", first)
    assert not staff.verify_password("s3cret-pasS", first)


def test_malformed_stored_hash_never_verifies():
    assert not staff.verify_password("anything", "")
    assert not staff.verify_password("anything", "md5$abc")
    assert not staff.verify_password("anything", "scrypt$x$8$1$AAAA$AAAA")


def test_create_user_refuses_taken_username_unknown_role_and_short_password(engine, now):
    with Session(engine) as session, session.begin():
        user = staff.create_staff_user(session, "maria", "long enough", "billing", "Maria G.", now)
        assert user.display_name == "Maria G." and access.role_of(user) == "billing"
        with pytest.raises(staff.StaffError, match="taken"):
            staff.create_staff_user(session, "maria", "long enough", "billing", None, now)
        with pytest.raises(staff.StaffError, match="unknown role"):
            staff.create_staff_user(session, "joe", "long enough", "janitor", None, now)
        with pytest.raises(staff.StaffError, match="at least 8"):
            staff.create_staff_user(session, "joe", "short", "admin", None, now)


def test_authenticate_needs_right_password_and_active_account(engine, now):
    with Session(engine) as session, session.begin():
        user = staff.create_staff_user(session, "ann", "password-1", "front_desk", None, now)
        assert staff.authenticate(session, "ann", "password-1").id == user.id
        assert staff.authenticate(session, "ann", "password-2") is None
        assert staff.authenticate(session, "nobody", "password-1") is None
        staff.set_active(session, user, False, now)
        assert staff.authenticate(session, "ann", "password-1") is None


def test_login_token_is_stored_only_as_hash_and_expires(engine, now):
    with Session(engine) as session, session.begin():
        user = staff.create_staff_user(session, "ann", "password-1", "front_desk", None, now)
        login = staff.start_session(session, user, now, hours=10)
        assert login.token not in login.staff_session.token_hash
        assert staff.session_for_token(session, login.token, now + timedelta(hours=9, minutes=59)) is not None
        assert staff.session_for_token(session, login.token, now + timedelta(hours=10)) is None
        assert staff.session_for_token(session, login.token + "x", now) is None
        assert staff.session_for_token(session, None, now) is None


def test_ended_login_and_turned_off_account_are_refused(engine, now):
    with Session(engine) as session, session.begin():
        ann = staff.create_staff_user(session, "ann", "password-1", "front_desk", None, now)
        bob = staff.create_staff_user(session, "bob", "password-1", "billing", None, now)
        ann_login = staff.start_session(session, ann, now, hours=10)
        bob_login = staff.start_session(session, bob, now, hours=10)
        staff.end_session(session, ann_login.staff_session, now)
        assert staff.session_for_token(session, ann_login.token, now) is None
        staff.set_active(session, bob, False, now)
        assert staff.session_for_token(session, bob_login.token, now) is None


def test_roles_see_only_their_queues():
    assert access.visible_queues("front_desk") == ("front_desk", "urgent")
    assert access.visible_queues("billing") == ("billing",)
    assert access.visible_queues("clinical") == ("clinical", "urgent")
    assert set(access.visible_queues("admin")) == {"front_desk", "billing", "clinical", "urgent"}
    assert not access.may_see_queue("billing", "urgent")
    assert not access.may_see_queue("front_desk", "clinical")


def test_staff_for_queue_lists_only_active_matching_roles(engine, now):
    with Session(engine) as session, session.begin():
        for name, role in [("fd", "front_desk"), ("bi", "billing"), ("cl", "clinical"), ("ad", "admin")]:
            staff.create_staff_user(session, name, "password-1", role, None, now)
        off = staff.create_staff_user(session, "cl2", "password-1", "clinical", None, now)
        staff.set_active(session, off, False, now)
        assert [u.username for u in staff.staff_for_queue(session, "urgent")] == ["ad", "cl", "fd"]
        assert [u.username for u in staff.staff_for_queue(session, "billing")] == ["ad", "bi"]


def test_audit_records_entry_and_refuses_unknown_action(engine, now):
    with Session(engine) as session, session.begin():
        staff.audit(session, "denied", now, detail="x" * 400)
        entry = session.query(AuditEntry).one()
        assert entry.action == "denied" and len(entry.detail) == 300 and entry.at == now
        with pytest.raises(ValueError):
            staff.audit(session, "peeked", now)
