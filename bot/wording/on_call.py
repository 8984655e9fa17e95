"""The on-call words, in one small place until they join the wording catalog.

``page`` goes to the on-call staff phone: no name, no phone number, no health
detail, only the link to the ticket (staff log in to read it). ``callback`` is
what a patient who texts an emergency outside office hours reads after the
911/988 line (domain.yml's ``utter_emergency_on_call`` and the channel's
emergency reply while staff have the chat both use it).
"""
from __future__ import annotations

ON_CALL_TEXTS: dict[str, str] = {
    "page": "Urgent patient message waiting: {link}",
    "callback": "{team_capitalised} will call you back within {minutes} minutes.",
}


def render_page(link: str) -> str:
    return ON_CALL_TEXTS["page"].format(link=link)


def render_callback(team: str, minutes: int) -> str:
    """'Our on-call nurse will call you back within 30 minutes.'"""
    return ON_CALL_TEXTS["callback"].format(team_capitalised=team[:1].upper() + team[1:], minutes=minutes)
