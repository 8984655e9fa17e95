"""The staff's day in the inbox over HTTP: queue filters and search, the send guard, pictures through the
app, templates, starting a conversation, the urgent alerts' feed and the reports' CSV."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging import consent
from bot.messaging.inbound import store_inbound
from bot.models import AuditEntry, CannedResponse, HandoffTicket, OutboundMessage
from bot.staff import handoff
from tests.web_helpers import add_appointment, add_patient, add_user, audit_actions, login, make_app, open_ticket

PHONE = "+15035550123"
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/ACtest0000000000000000000000000000/Messages/MM1/Media/ME1"


def _patient(engine, first="Dana", last="Reyes", phone=PHONE) -> int:
    return add_patient(engine, first, last, phone)


def _outbound(engine) -> list[OutboundMessage]:
    with Session(engine) as session:
        return list(session.execute(select(OutboundMessage).order_by(OutboundMessage.id)).scalars())


def test_queue_pins_urgent_first_filters_and_searches(app, engine, now, clock):
    _patient(engine, "Sam", "Okafor", "+15035550111")
    old = open_ticket(engine, "+15035550111", "front_desk", now - timedelta(hours=1), texts=("Can I move my visit?",))
    urgent = open_ticket(engine, "+15035550177", "urgent", now, reason="chest pain")
    fran = add_user(engine, "fran", "front_desk", now, display_name="Fran")
    client = app.test_client()
    csrf = login(client, "fran")
    tickets = client.get("/api/queue").get_json()["tickets"]
    assert [(t["id"], t["pinned"]) for t in tickets] == [(urgent, True), (old, False)]
    assert tickets[1]["last_text"] == "Can I move my visit?" and tickets[1]["pulse"] == "waiting 1 h 00 min"
    page = client.get("/").get_data(as_text=True)
    assert re.search(rf'class="u-\w+ pinned" data-id="{urgent}"', page)
    assert re.search(rf'class="u-\w+" data-id="{old}"', page) and page.index("chest pain") < page.index("Can I move")

    assert [t["id"] for t in client.get("/api/queue?q=okafor").get_json()["tickets"]] == [old]
    assert [t["id"] for t in client.get("/api/queue?q=555-0177").get_json()["tickets"]] == [urgent]
    assert [t["id"] for t in client.get("/api/queue?queue=urgent").get_json()["tickets"]] == [urgent]
    assert [t["id"] for t in client.get("/api/queue?queue=billing").get_json()["tickets"]] == [urgent, old]  # not hers
    client.post(f"/tickets/{old}/claim", data={"csrf_token": csrf})
    assert [t["id"] for t in client.get("/api/queue?mine=1").get_json()["tickets"]] == [old]
    assert [t["id"] for t in client.get("/api/queue?unassigned=1").get_json()["tickets"]] == [urgent]

    clock.at = now + timedelta(minutes=2)
    client.post(f"/tickets/{old}/reply", data={"body": "Yes, which day suits you?", "csrf_token": csrf})
    clock.at = now + timedelta(minutes=5)
    assert [t["id"] for t in client.get("/api/queue?unanswered=1").get_json()["tickets"]] == [urgent]
    row = {t["id"]: t for t in client.get("/api/queue").get_json()["tickets"]}[old]
    assert (row["pulse"], row["last_text"], row["last_from"]) == ("answered 3 min ago", "Yes, which day suits you?",
                                                                  "staff")
    ticket_page = client.get(f"/tickets/{old}").get_data(as_text=True)
    assert '<span id="ticket-waiting">answered 3 min ago</span>' in ticket_page
    transcript = client.get(f"/api/tickets/{old}/transcript").get_json()
    assert transcript["ticket"]["pulse"] == "answered 3 min ago"
    assert fran


def test_a_reply_with_a_money_amount_comes_back_for_review_and_goes_only_when_confirmed(app, engine, now):
    ticket_id = open_ticket(engine, PHONE, "billing", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    csrf = login(client, "bea")
    response = client.post(f"/tickets/{ticket_id}/reply", data={"body": "Your balance is $250.", "csrf_token": csrf})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and _outbound(engine) == []
    assert ">Your balance is $250.</textarea>" in page  # the draft is kept for editing
    assert "<mark>$250</mark> (money amount)" in page and 'name="confirmed" value="1"' in page
    response = client.post(f"/tickets/{ticket_id}/reply",
                           data={"body": "Your balance is $250.", "confirmed": "1", "csrf_token": csrf})
    assert response.status_code == 302
    assert [m.body for m in _outbound(engine)] == ["Your balance is $250."]
    assert [a[3] for a in audit_actions(engine) if a[0] == "reply"] == [
        f"outbound {_outbound(engine)[0].id}; confirmed: money amount"]


def test_templates_fill_next_appointment_and_staff_first_name_and_an_unfilled_one_is_refused(app, engine, now):
    patient_id = _patient(engine)
    with Session(engine) as session, session.begin():
        add_appointment(session, patient_id, "patel", "follow_up", now + timedelta(days=2))
        session.add(CannedResponse(title="Visit", body="Hi {first_name}, it's {staff_first_name}: see you "
                                                       "{next_appointment}. Questions? {practice_phone}"))
    ticket_id = open_ticket(engine, PHONE, "front_desk", now, patient_id=patient_id)
    add_user(engine, "fran", "front_desk", now, display_name="Fran Miller")
    client = app.test_client()
    csrf = login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert ('data-body="Hi Dana, it&#39;s Fran: see you Wed, Mar 3 at 9:00 AM with Dr. Patel. '
            'Questions? (503) 555-0100"') in page
    response = client.post(f"/tickets/{ticket_id}/reply", data={"body": "See you {next_appointment}",
                                                                "confirmed": "1", "csrf_token": csrf})
    assert response.status_code == 422 and _outbound(engine) == []
    assert "fill in {next_appointment} first" in response.get_data(as_text=True)


def _picture_ticket(engine, now, phone=PHONE, queue="front_desk") -> tuple[int, int]:
    with Session(engine) as session, session.begin():
        message, _ = store_inbound(session, message_sid="SMpicture1", phone=phone, to_number="+15035550199", body="",
                                media=[{"url": MEDIA_URL, "content_type": "image/png"}], now=now)
        message_id = message.id
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=phone, queue=queue, now=now,
                                     reason=f"patient sent a picture with no text: {MEDIA_URL}")
        return ticket.id, message_id


def test_pictures_are_fetched_by_the_app_with_the_twilio_credentials_never_linked_raw(engine, now, clock,
                                                                                      twilio_stub):  # noqa: F811
    app = make_app(engine, clock, twilio_api_base=twilio_stub.base_url)
    ticket_id, message_id = _picture_ticket(engine, now)
    add_user(engine, "fran", "front_desk", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "fran")
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    queue = client.get("/").get_data(as_text=True) + client.get("/api/queue").get_data(as_text=True)
    assert "twilio.com" not in page and "twilio.com" not in queue
    src = f"/tickets/{ticket_id}/media/{message_id}/0"
    assert f'<img class="thumb" src="{src}"' in page
    picture = client.get(src)
    assert picture.status_code == 200 and picture.mimetype == "image/png" and picture.data.startswith(b"\x89PNG")
    assert ("media", ticket_id, f"inbound {message_id} picture 1") in [(a[0], a[2], a[3]) for a in audit_actions(engine)]
    assert client.get(f"/tickets/{ticket_id}/media/{message_id}/1").status_code == 404

    other = app.test_client()
    login(other, "bea")
    assert other.get(src).status_code == 403  # billing does not see the front desk's queue

    wrong = make_app(engine, clock, twilio_api_base=twilio_stub.base_url, twilio_auth_token="wrong").test_client()
    login(wrong, "fran")
    refused = wrong.get(src)
    assert refused.status_code == 502 and "Twilio answered 401" in refused.get_data(as_text=True)


def test_a_picture_is_served_only_for_a_text_the_viewers_transcript_shows(engine, now, clock, twilio_stub):  # noqa: F811
    app = make_app(engine, clock, twilio_api_base=twilio_stub.base_url)
    clinical_ticket, message_id = _picture_ticket(engine, now - timedelta(hours=2), queue="clinical")
    with Session(engine) as session, session.begin():
        handoff.resolve_ticket(session, clinical_ticket, None, now - timedelta(hours=1))
    front_desk = open_ticket(engine, PHONE, "front_desk", now)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    login(client, "fran")
    assert client.get(f"/tickets/{front_desk}/media/{message_id}/0").status_code == 404  # the clinical picture


def test_start_a_conversation_checks_consent_pauses_the_bot_and_is_audited(app, engine, now):
    dana = _patient(engine)
    sam = _patient(engine, "Sam", "Okafor", "+15035550111")
    with Session(engine) as session, session.begin():
        consent.record_opt_out(session, "+15035550111", "keyword", now)
    fran = add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    csrf = login(client, "fran")
    found = client.get("/conversations/new?q=reyes").get_data(as_text=True)
    assert f'href="?patient_id={dana}">Dana Reyes</a>' in found and "Okafor" not in found
    assert "opted out of texts" in client.get(f"/conversations/new?patient_id={sam}").get_data(as_text=True)

    refused = client.post("/conversations/new", data={"patient_id": sam, "queue": "front_desk", "body": "Hello",
                                                      "csrf_token": csrf})
    assert refused.status_code == 422 and _outbound(engine) == []
    assert ("start_refused", fran) in [(a[0], a[1]) for a in audit_actions(engine)]

    response = client.post("/conversations/new", data={"patient_id": dana, "queue": "front_desk",
                                                       "body": "Hi Dana, please call us.", "csrf_token": csrf})
    with Session(engine) as session:
        ticket = session.execute(select(HandoffTicket)).scalar_one()
        assert (ticket.phone, ticket.queue, ticket.claimed_by) == (PHONE, "front_desk", fran)
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.id}"
    assert [(m.phone, m.body, m.ticket_id) for m in _outbound(engine)] == [(PHONE, "Hi Dana, please call us.", ticket.id)]
    assert ("start", fran, ticket.id) in [(a[0], a[1], a[2]) for a in audit_actions(engine)]

    billing_queue = client.post("/conversations/new", data={"patient_id": dana, "queue": "billing", "body": "Hi",
                                                            "csrf_token": csrf})
    assert billing_queue.status_code == 403


def test_the_urgent_feed_gives_ids_and_links_only_to_roles_that_see_urgent(app, engine, now):
    urgent = open_ticket(engine, PHONE, "urgent", now, reason="chest pain", texts=("My father has chest pain",))
    open_ticket(engine, "+15035550111", "front_desk", now)
    add_user(engine, "fran", "front_desk", now)
    add_user(engine, "bea", "billing", now)
    client = app.test_client()
    login(client, "fran")
    assert client.get("/api/urgent").get_json() == {"tickets": [{"id": urgent, "url": f"/tickets/{urgent}"}]}
    assert 'data-urgent-poll="/api/urgent"' in client.get("/").get_data(as_text=True)
    billing = app.test_client()
    login(billing, "bea")
    assert billing.get("/api/urgent").status_code == 403
    assert "data-urgent-poll" not in billing.get("/").get_data(as_text=True)


def test_reports_csv_has_the_weekly_figures(app, engine, now, clock):
    from bot.staff import replies
    bea = add_user(engine, "bea", "billing", now)
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
        replies.send_staff_reply(session, ticket.id, staff_user_id=bea, body="Done.", now=now + timedelta(minutes=30))
    client = app.test_client()
    login(client, "bea")
    response = client.get("/reports/weekly.csv?weeks=4")
    assert response.mimetype == "text/csv"
    assert 'filename="response-times-4-weeks.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["queue"], r["week"], r["tickets"], r["answered"], r["first_response_median_min"],
             r["within_goal_share"]) for r in rows] == [("Billing", "2027-W09", "1", "1", "30.0", "1.000")]
    assert 'href="/reports/weekly.csv?weeks=8"' in client.get("/reports/").get_data(as_text=True)
    with Session(engine) as session:
        assert session.execute(select(AuditEntry)).first() is not None



def test_reports_show_the_goal_figures_and_download_them_as_csv(app, engine, now, clock):
    """First response 90 business minutes: over 1 business hour (goal missed), not over 1 business day."""
    bea = add_user(engine, "bea", "billing", now)
    add_user(engine, "fran", "front_desk", now)
    from bot.staff import replies
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
        replies.send_staff_reply(session, ticket.id, staff_user_id=bea, body="Done.", now=now + timedelta(minutes=90))
    client = app.test_client()
    login(client, "bea")
    response = client.get("/reports/figures.csv?weeks=4")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["queue"], r["tickets"], r["p50_first_response_min"], r["over_1_hour_pct"], r["over_1_hour_goal"],
             r["over_1_day_pct"], r["over_1_day_goal"]) for r in rows] == [
        ("Billing", "1", "90", "100.0", "missed (<= 5%)", "0.0", "met (none)")]
    page = client.get("/reports/").get_data(as_text=True)
    assert 'id="goal-figures"' in page and "missed (&lt;= 5%)" in page
    front_desk = app.test_client()
    login(front_desk, "fran")
    assert "Billing" not in front_desk.get("/reports/figures.csv?weeks=4").get_data(as_text=True)



def test_a_queue_owner_sees_the_tickets_assigned_to_them_and_how_many_are_unanswered(app, engine, now, clock):
    from bot.practice import get_practice
    from bot.staff import replies
    bea = add_user(engine, "bea", "billing", now, display_name="Bea")
    with Session(engine) as session, session.begin():
        practice = get_practice(session)
        queues = {**practice.config["queues"]}
        queues["billing"] = {**queues["billing"], "owner": "bea"}
        practice.config = {**practice.config, "queues": queues}
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=now)
        ticket_id = ticket.id
        assert ticket.claimed_by == bea  # assigned to the owner on shift (office hours)
    client = app.test_client()
    login(client, "bea")
    page = client.get("/").get_data(as_text=True)
    assert "1 unanswered assigned to you" in page
    with Session(engine) as session, session.begin():
        replies.send_staff_reply(session, ticket_id, staff_user_id=bea, body="On it.", now=now + timedelta(minutes=5))
    assert "unanswered assigned to you" not in client.get("/").get_data(as_text=True)


def test_the_urgent_feed_and_starting_a_conversation_follow_the_practice_files_roles(app, engine, now):
    """A practice whose urgent queue only clinical staff answer: the front desk gets neither."""
    from bot.practice import get_practice
    with Session(engine) as session, session.begin():
        practice = get_practice(session)
        queues = {**practice.config["queues"]}
        queues["urgent"] = {**queues["urgent"], "roles": ["clinical", "admin"]}
        practice.config = {**practice.config, "queues": queues}
    patient = _patient(engine)
    add_user(engine, "fran", "front_desk", now)
    client = app.test_client()
    csrf = login(client, "fran")
    assert client.get("/api/urgent").status_code == 403
    refused = client.post("/conversations/new", data={"csrf_token": csrf, "patient_id": patient, "queue": "urgent",
                                                      "body": "Hello"})
    assert refused.status_code == 403 and _outbound(engine) == []
