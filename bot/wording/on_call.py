"""The on-call texts, filled from the catalog (``on_call_page``, ``on_call_callback``).

``page`` goes to the on-call staff phone: no name, no phone number, no health
detail, only the link to the ticket (staff log in to read it). ``callback`` is
what a patient who texts an emergency outside office hours reads after the
911/988 line (the reply ``utter_emergency_on_call`` and the channel's
emergency reply while staff have the chat both use it).
"""
from __future__ import annotations

from bot import wording


def render_page(link: str) -> str:
    """The page is for staff, who read the practice's own language: English."""
    return wording.render("on_call_page", None, link=link)


def render_callback(team: str, minutes: int, language: str | None = None) -> str:
    """'Our on-call nurse will call you back within 30 minutes.'"""
    return wording.render("on_call_callback", language, team_capitalised=wording.words(language).capitalised(team),
                          minutes=minutes)
