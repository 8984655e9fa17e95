"""The inbox refuses what it must, and writes an audit entry for every refusal."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import AuditEntry, OutboundMessage, StaffSession
from tests.web_helpers import PASSWORD, add_user, audit_actions, csrf_of, login, open_ticket, try_login

PHONE = "+15035550123"


@pytest.fixture
def billing_ticket(engine, now):
    return open_ticket(engine, PHONE, "billing", now, reason="question about a bill")


def _denials(engine):
    return [a for a in audit_actions(engine) if a[0] == "denied"]


def test_page_without_login_redirects_to_login_and_is_audited(app, engine, billing_ticket):
    response = app.test_client().get(f"/tickets/{billing_ticket}")
    assert response.status_code == 302
    assert response.location == f"/login?next=/tickets/{billing_ticket}"  # no stray "?" when there is no query
    assert _denials(engine)[-1][3] == f"GET /tickets/{billing_ticket}: no login"


@pytest.mark.parametrize("path", ["/api/queue", "/api/tickets/1/transcript"])
def test_api_without_login_answers_401_json_and_is_audited(app, engine, billing_ticket, path):
    response = app.test_client().get(path)
    assert response.status_code == 401
    assert response.get_json() == {"error": "no login"}
    assert _denials(engine)[-1][3] == f"GET {path}: no login"


def test_post_without_login_is_refused(app, engine, billing_ticket):
    response = app.test_client().post(f"/tickets/{billing_ticket}/reply", data={"body": "hi"})
    assert response.status_code == 401
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
    assert len(_denials(engine)) == 1


def test_wrong_role_gets_403_for_another_queues_ticket_and_is_audited(app, engine, now, billing_ticket):
    clinician = add_user(engine, "cleo", "clinical", now)
    client = app.test_client()
    csrf = login(client, "cleo")
    assert client.get(f"/tickets/{billing_ticket}").status_code == 403
    assert client.get(f"/api/tickets/{billing_ticket}/transcript").status_code == 403
    assert client.post(f"/tickets/{billing_ticket}/claim", data={"csrf_token": csrf}).status_code == 403
    denials = _denials(engine)
    assert len(denials) == 3
    assert all(d[1] == clinician and d[2] == billing_ticket for d in denials)
    assert "clinical may not open the billing queue" in denials[0][3]
    assert "question about a bill" not in client.get("/").get_data(as_text=True)  # not in their queue


def test_a_refusal_says_why_on_the_page_and_is_audited_at_the_inbox_clock(app, engine, now, clock, billing_ticket):
    add_user(engine, "cleo", "clinical", now, display_name="Cleo R.")
    client = app.test_client()
    login(client, "cleo")
    clock.at = now + timedelta(minutes=7)
    page = client.get(f"/tickets/{billing_ticket}")
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "<title>403" in html and "Not allowed" in html
    assert "clinical may not open the billing queue" in html  # the reason, not only a code
    assert "Cleo R. · clinical" in html  # who is logged in, so a shared desk sees whose login refused
    with Session(engine) as session:
        refusal = session.execute(select(AuditEntry).where(AuditEntry.action == "denied")).scalar_one()
    assert refusal.at == now + timedelta(minutes=7)


def test_front_desk_may_not_open_the_admin_pages(app, engine, now):
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    assert client.get("/admin/").status_code == 403
    assert _denials(engine)[-1][3] == "GET /admin/: admin only"


def test_post_without_csrf_token_is_refused_and_audited(app, engine, now, billing_ticket):
    user = add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    response = client.post(f"/tickets/{billing_ticket}/reply", data={"body": "Your bill is fine"})
    assert response.status_code == 403
    with Session(engine) as session:
        assert session.execute(select(OutboundMessage)).first() is None
    assert _denials(engine)[-1][:2] == ("denied", user)
    assert _denials(engine)[-1][3] == f"POST /tickets/{billing_ticket}/reply: missing or wrong CSRF token"


def test_csrf_token_of_another_users_login_is_refused(app, engine, now, billing_ticket):
    add_user(engine, "bea", "billing", now)
    add_user(engine, "bill", "billing", now)
    bea, bill = app.test_client(), app.test_client()
    login(bea, "bea")
    bills_token = login(bill, "bill")
    response = bea.post(f"/tickets/{billing_ticket}/note", data={"body": "x", "csrf_token": bills_token},
                        headers={"X-CSRF-Token": bills_token})
    assert response.status_code == 403
    assert "CSRF" in _denials(engine)[-1][3]


def test_csrf_token_in_header_is_accepted(app, engine, now, billing_ticket):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    response = client.post(f"/tickets/{billing_ticket}/note", data={"body": "called back"},
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 302


def test_cookie_of_a_logged_out_session_is_refused(app, engine, now, billing_ticket):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    cookie = client.get_cookie("staff_session").value
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("staff_session", cookie)
    assert replay.get("/api/queue").status_code == 401
    assert replay.get("/").status_code == 302
    assert [a[0] for a in audit_actions(engine)][-4:] == ["login", "logout", "denied", "denied"]
    assert "login ended or unknown" in _denials(engine)[-1][3]


def test_expired_session_is_refused(app, engine, now, clock):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    clock.at = now + timedelta(hours=10, seconds=1)  # staff_session_hours defaults to 10
    assert client.get("/api/queue").status_code == 401


def test_forged_cookie_is_refused(app, engine):
    client = app.test_client()
    client.set_cookie("staff_session", "not-a-real-token")
    assert client.get("/api/queue").status_code == 401
    assert _denials(engine)[-1][3] == "GET /api/queue: login ended or unknown"


def test_wrong_password_is_refused_and_audited(app, engine, now):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    response = try_login(client, "bea", "wrong")
    assert response.status_code == 401
    assert client.get_cookie("staff_session") is None
    assert _denials(engine)[-1][3] == "login failed for 'bea' from 127.0.0.1"
    with Session(engine) as session:
        assert session.execute(select(StaffSession)).first() is None


def test_login_form_without_its_token_is_refused(app, engine, now):
    add_user(engine, "bea", "billing", now)
    response = app.test_client().post("/login", data={"username": "bea", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in _denials(engine)[-1][3]


def test_session_cookie_is_httponly_and_samesite_lax(app, engine, now):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    response = try_login(client, "bea")
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("staff_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with Session(engine) as session:
        stored = session.execute(select(StaffSession.token_hash)).scalar_one()
    assert cookie.split(";")[0].split("=", 1)[1] != stored
    assert csrf_of(client)


def test_password_guessing_locks_the_username_for_a_while(app, engine, now, clock):
    """Five wrong passwords in 15 minutes from one address: even the right one is refused from there until the
    window has passed (tests/test_staff_logins.py: other addresses, and the global limit)."""
    add_user(engine, "bea", "billing", now)
    add_user(engine, "carl", "front_desk", now)
    client = app.test_client()
    for minute in range(5):
        clock.at = now + timedelta(minutes=minute)
        assert try_login(client, "bea", f"guess{minute}").status_code == 401

    clock.at = now + timedelta(minutes=5)
    refused = try_login(client, "bea", PASSWORD)
    assert refused.status_code == 429
    assert "Try again in 10 minutes" in refused.get_data(as_text=True)
    assert client.get_cookie("staff_session") is None
    assert _denials(engine)[-1][3] == "login refused for 'bea' from 127.0.0.1: too many wrong passwords"
    assert try_login(app.test_client(), "carl", PASSWORD).status_code == 302  # others are not locked out

    clock.at = now + timedelta(minutes=15, seconds=1)  # the first wrong password has left the window
    assert try_login(client, "bea", PASSWORD).status_code == 302


def test_a_few_wrong_passwords_do_not_lock_anyone_out(app, engine, now, clock):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    for _ in range(4):
        assert try_login(client, "bea", "typo").status_code == 401
    assert try_login(client, "bea", PASSWORD).status_code == 302


# --- every ticket route, every role that may not see the ticket's queue ------------------------

# Written out here, not read from bot.staff.accounts: who may NOT see which queue (admin sees all).
WRONG_ROLES = [
    ("billing", "front_desk"), ("billing", "clinical"),
    ("clinical", "front_desk"), ("clinical", "billing"),
    ("front_desk", "billing"), ("front_desk", "clinical"),
    ("urgent", "billing"),
]
TICKET_ROUTES = [
    ("GET", "/tickets/{id}", {}),
    ("GET", "/api/tickets/{id}/transcript", {}),
    ("POST", "/tickets/{id}/claim", {}),
    ("POST", "/tickets/{id}/assign", {"staff_user_id": "{self}"}),
    ("POST", "/tickets/{id}/reply", {"body": "Your results are fine, see you soon"}),
    ("POST", "/tickets/{id}/note", {"body": "called, no answer"}),
    ("POST", "/tickets/{id}/resolve", {}),
    ("POST", "/tickets/{id}/reopen", {}),
]


def _ticket_state(engine, ticket_id):
    from bot.models import HandoffTicket, TicketNote

    with Session(engine) as session:
        t = session.get(HandoffTicket, ticket_id)
        notes = session.execute(select(TicketNote).where(TicketNote.ticket_id == ticket_id)).scalars().all()
        outbound = session.execute(select(OutboundMessage)).scalars().all()
        return ((t.status, t.claimed_by, t.claimed_at, t.first_response_at, t.resolved_at, t.resolved_by,
                 t.last_activity_at), len(notes), len(outbound))


@pytest.mark.parametrize("queue, role", WRONG_ROLES)
@pytest.mark.parametrize("method, path, form", TICKET_ROUTES, ids=[f"{m} {p}" for m, p, _ in TICKET_ROUTES])
def test_every_ticket_route_refuses_a_role_outside_its_queue(app, engine, now, queue, role, method, path, form):
    ticket_id = open_ticket(engine, PHONE, queue, now, reason=f"a {queue} question")
    if path.endswith("/reopen"):  # reopen acts on a resolved ticket: resolve it first, as staff of that queue would
        from bot.staff import handoff
        with Session(engine) as session, session.begin():
            handoff.resolve_ticket(session, ticket_id, None, now)
    user = add_user(engine, "wrong", role, now)
    client = app.test_client()
    csrf = login(client, "wrong")
    before = _ticket_state(engine, ticket_id)
    denials_before = len(_denials(engine))

    url = path.format(id=ticket_id)
    if method == "GET":
        response = client.get(url)
    else:
        data = {k: v.format(self=user) for k, v in form.items()}
        response = client.post(url, data={**data, "csrf_token": csrf})

    assert response.status_code == 403
    denials = _denials(engine)
    assert len(denials) == denials_before + 1
    assert denials[-1][1:3] == (user, ticket_id)
    assert f"{role} may not open the {queue} queue" in denials[-1][3]
    assert _ticket_state(engine, ticket_id) == before  # no claim, note, text, resolve or reopen


def test_every_audit_entry_is_stamped_with_the_inbox_clock(app, engine, now, clock, billing_ticket):
    """A refusal without a login, a login, a refused login: each entry at the moment it happened."""
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    clock.at = now + timedelta(minutes=1)
    assert client.get(f"/tickets/{billing_ticket}").status_code == 302  # no login
    clock.at = now + timedelta(minutes=2)
    login(client, "bea")
    for minute in range(3, 8):
        clock.at = now + timedelta(minutes=minute)
        assert try_login(app.test_client(), "bea", f"guess{minute}").status_code == 401
    clock.at = now + timedelta(minutes=9)
    assert try_login(app.test_client(), "bea", PASSWORD).status_code == 429  # locked: a refused login
    with Session(engine) as session:
        entries = [(e.action, e.at, e.detail or "") for e in
                   session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert (entries[0][0], entries[0][1]) == ("denied", now + timedelta(minutes=1))
    assert ("login", now + timedelta(minutes=2)) in [(a, at) for a, at, _ in entries]
    refused = [at for a, at, detail in entries if a == "denied" and detail.startswith("login refused")]
    assert refused == [now + timedelta(minutes=9)]
