"""The admin's audit log page: who did what, filterable by user, action and conversation, paged."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.staff import accounts as staff
from tests.web_helpers import add_user, login, open_ticket

PHONE = "+15035550123"


def _rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_admin_sees_who_did_what_newest_first_and_can_filter(app, engine, now, clock):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    add_user(engine, "ada", "admin", now)
    bea = app.test_client()
    login(bea, "bea")
    clock.at = now + timedelta(minutes=5)
    bea.get(f"/tickets/{ticket_id}")
    admin = app.test_client()
    login(admin, "ada")

    rows = _rows(admin.get("/admin/audit").get_data(as_text=True))
    assert [r[1:3] for r in rows] == [["ada", "login"], ["bea", "view"], ["bea", "login"]]
    assert rows[1][3] == f"#{ticket_id}"

    only_bea = _rows(admin.get("/admin/audit?user=bea").get_data(as_text=True))
    assert [r[2] for r in only_bea] == ["view", "login"]
    views = _rows(admin.get("/admin/audit?action=view").get_data(as_text=True))
    assert [r[1] for r in views] == ["bea"]
    about_ticket = _rows(admin.get(f"/admin/audit?ticket={ticket_id}").get_data(as_text=True))
    assert len(about_ticket) == 1 and about_ticket[0][2] == "view"


def test_the_log_pages_back_through_older_entries(app, engine, now):
    add_user(engine, "ada", "admin", now)
    with Session(engine) as session, session.begin():
        for n in range(staff.AUDIT_PAGE + 20):
            staff.audit(session, "denied", now - timedelta(hours=1), detail=f"refusal {n}")
    admin = app.test_client()
    login(admin, "ada")

    first = admin.get("/admin/audit?action=denied").get_data(as_text=True)
    assert len(_rows(first)) == staff.AUDIT_PAGE and _rows(first)[0][4] == f"refusal {staff.AUDIT_PAGE + 19}"
    older = re.search(r'href="([^"]*before=\d+[^"]*)">Older entries', first).group(1).replace("&amp;", "&")
    second = admin.get(older).get_data(as_text=True)
    assert [r[4] for r in _rows(second)] == [f"refusal {n}" for n in range(19, -1, -1)]
    assert "Older entries" not in second


def test_only_admins_see_the_audit_log(app, engine, now):
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "bea")
    assert client.get("/admin/audit").status_code == 403
