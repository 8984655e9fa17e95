"""The inbox's access rules on their own: where a login may send you, what a switched-off account keeps."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import StaffSession, StaffUser
from bot.staff import access
from bot.staff import accounts as staff
from tests.web_helpers import add_user, try_login


@pytest.mark.parametrize("target, lands_on", [
    ("/tickets/3", "/tickets/3"),
    ("/admin/audit?user=2", "/admin/audit?user=2"),
    ("//evil.example/phish", "/"),            # protocol-relative: another site
    ("https://evil.example/", "/"),
    ("evil.example", "/"),                    # not a path on this site
    ("/\\evil.example", "/"),                 # browsers read the backslash as a slash: another site
    ("/%0d%0aLocation:%20http://evil.example", "/"),
    ("", "/"),
])
def test_after_login_you_only_ever_land_on_a_page_of_the_inbox(app, engine, now, target, lands_on):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    page = client.get(f"/login?next={target}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(f"/login?next={target}", data={"username": "bea", "password": "correct horse 1",
                                                           "csrf_token": token})
    assert response.status_code == 302
    assert response.location == lands_on


def test_switching_an_account_off_ends_its_logins_at_once_and_only_its_own(app, engine, now):
    bea, carl = add_user(engine, "bea", "billing", now), add_user(engine, "carl", "front_desk", now)
    bea_client, carl_client = app.test_client(), app.test_client()
    assert try_login(bea_client, "bea").status_code == 302
    assert try_login(carl_client, "carl").status_code == 302
    with Session(engine) as session, session.begin():
        staff.set_active(session, session.get(StaffUser, bea), False, now)
    with Session(engine) as session:
        ended = {s.staff_user_id: s.ended_at for s in session.execute(select(StaffSession)).scalars()}
    assert ended[bea] == now and ended[carl] is None
    assert bea_client.get("/api/queue").status_code == 401
    assert carl_client.get("/api/queue").status_code == 200
    with Session(engine) as session, session.begin():
        staff.set_active(session, session.get(StaffUser, bea), True, now)  # on again: no login is revived
    assert bea_client.get("/api/queue").status_code == 401


@pytest.mark.parametrize("role", ["receptionist", "", "ADMIN"])
def test_an_unknown_role_sees_no_queue(role):
    assert access.visible_queues(role) == ()
    assert not any(access.may_see_queue(role, q) for q in ("front_desk", "billing", "clinical", "urgent"))
