"""Roles per queue come from the practice file (deny by default), routing names only real queues,
and a queue's owner gets its new tickets while on shift."""
from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy.orm import Session

from bot.practice import PracticeFileError, get_practice, load_practice_file
from bot.settings import ROOT
from bot.staff import access, handoff, pointpeople
from bot.staff.accounts import create_staff_user

ZONE = ZoneInfo("America/Los_Angeles")
DEMO = load_practice_file(ROOT / "bot" / "demo_practice.yml")
MONDAY_MORNING = datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
MONDAY_NIGHT = datetime(2027, 3, 1, 22, 0, tzinfo=ZONE)
PHONE = "+15035550111"


def load_edited(tmp_path, edit) -> dict:
    data = copy.deepcopy(DEMO)
    edit(data)
    path = tmp_path / "practice.yml"
    path.write_text(yaml.safe_dump(data))
    return load_practice_file(path)


def set_queues(engine, **changes) -> None:
    """Change queue entries of the loaded practice (``billing={"owner": "rosa"}``)."""
    with Session(engine) as session, session.begin():
        practice = get_practice(session)
        queues = copy.deepcopy(practice.config["queues"])
        for name, fields in changes.items():
            queues[name] = {**queues.get(name, {}), **fields}
        practice.config = {**practice.config, "queues": queues}


def user(engine, username: str, role: str) -> int:
    with Session(engine) as session, session.begin():
        return create_staff_user(session, username, "a long enough password", role, None, MONDAY_MORNING).id


def test_the_demo_file_keeps_todays_roles_for_the_four_queues(engine):
    with Session(engine) as session:
        practice = get_practice(session)
        assert access.visible_queues("front_desk", practice) == ("front_desk", "urgent")
        assert access.visible_queues("billing", practice) == ("billing",)
        assert access.visible_queues("clinical", practice) == ("clinical", "urgent")
        assert access.visible_queues("admin", practice) == ("front_desk", "billing", "clinical", "urgent")
        assert access.visible_queues("janitor", practice) == ()


def test_a_queue_answered_by_the_roles_its_file_lists(engine):
    set_queues(engine, billing={"roles": ["billing", "front_desk"]}, urgent={"roles": ["clinical"]})
    with Session(engine) as session:
        practice = get_practice(session)
        assert access.may_see_queue("front_desk", "billing", practice)
        assert not access.may_see_queue("front_desk", "urgent", practice)
        assert not access.may_see_queue("admin", "urgent", practice)  # the file said clinical only
        assert access.may_see_queue("clinical", "urgent", practice)
        assert not access.may_see_queue("clinical", "nurse_line", practice)  # no such queue
        assert access.visible_queues("front_desk", practice) == ("front_desk", "billing")  # what the inbox lists


def test_a_new_queue_must_list_its_roles(tmp_path):
    def add_queue(data):
        data["queues"]["nurse_line"] = {"name": "Nurse line", "team": "our nurses", "goal_minutes": 30}
    with pytest.raises(PracticeFileError, match="queue nurse_line lists no roles"):
        load_edited(tmp_path, add_queue)

    def with_roles(data):
        add_queue(data)
        data["queues"]["nurse_line"]["roles"] = ["clinical", "nurse"]
    with pytest.raises(PracticeFileError, match=r"queue nurse_line names unknown roles \['nurse'\]"):
        load_edited(tmp_path, with_roles)


def test_routing_must_name_a_queue_of_the_file(tmp_path):
    def misroute(data):
        data["routing"]["billing_question"] = "accounts"
    with pytest.raises(PracticeFileError, match="routing billing_question names unknown queue 'accounts'"):
        load_edited(tmp_path, misroute)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["on_call"].update(queue="nurse_line"), "on_call queue 'nurse_line' is not a queue"),
    (lambda d: d["on_call"].update(number="503-555-0191"), "on_call number '503-555-0191' is not E.164"),
    (lambda d: (d["on_call"].pop("number"), d["on_call"].pop("rota")), "on_call needs a number"),
    (lambda d: d["on_call"]["escalation"].update(after_minutes=0), "after_minutes must be a positive"),
    (lambda d: d["on_call"]["rota"][0]["hours"].update(fri=["17:00"]), "on_call rota entry 1 fri"),
])
def test_a_wrong_on_call_section_is_refused_with_what_to_fix(tmp_path, edit, message):
    with pytest.raises(PracticeFileError, match=message):
        load_edited(tmp_path, edit)


def test_a_new_ticket_goes_to_the_owner_on_shift_and_counts_as_theirs_until_answered(engine):
    rosa = user(engine, "rosa", "billing")
    set_queues(engine, billing={"owner": "rosa", "members": ["sam"]})
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=MONDAY_MORNING)
        assert ticket.claimed_by == rosa and ticket.status.value == "open"  # assigned, not yet claimed
        assert pointpeople.unanswered_assigned_count(session, rosa) == 1
        assert pointpeople.queue_members(get_practice(session), "billing") == ["rosa", "sam"]
        handoff.record_staff_reply(session, ticket.id, MONDAY_MORNING)
        assert pointpeople.unanswered_assigned_count(session, rosa) == 0


def test_off_shift_the_owner_gets_nothing(engine):
    user(engine, "rosa", "billing")
    set_queues(engine, billing={"owner": "rosa"})
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=MONDAY_NIGHT)
        assert ticket.claimed_by is None


def test_the_owners_own_hours_decide_their_shift(engine):
    rosa = user(engine, "rosa", "billing")
    set_queues(engine, billing={"owner": "rosa", "owner_hours": {"mon": ["20:00", "23:00"]}})
    with Session(engine) as session, session.begin():
        night = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=MONDAY_NIGHT)
        day = handoff.open_ticket(session, phone="+15035550112", queue="billing", reason="bill", now=MONDAY_MORNING)
        assert (night.claimed_by, day.claimed_by) == (rosa, None)


def test_an_owner_whose_role_does_not_answer_the_queue_gets_nothing(engine):
    user(engine, "tom", "front_desk")
    set_queues(engine, billing={"owner": "tom"})
    with Session(engine) as session, session.begin():
        ticket = handoff.open_ticket(session, phone=PHONE, queue="billing", reason="bill", now=MONDAY_MORNING)
        assert ticket.claimed_by is None
