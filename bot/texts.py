"""The texts the SMS channel itself sends, in one place.

The bot's conversational answers live in the Rasa domain (``domain.yml``);
these few are sent by the channel before or instead of Rasa (consent keywords,
a picture it cannot read, an emergency while staff have the conversation).
Each fills to at most 320 GSM-7 characters (two segments) and none asks the
patient to reply CANCEL, which is an opt-out keyword.
"""
from __future__ import annotations

from bot.practice import format_phone

TEMPLATES: dict[str, str] = {
    "help": (
        "{practice_name}: for help call us at {practice_phone}. "
        "Msg & data rates may apply. Reply STOP to stop texts, START to get them again."
    ),
    "opt_out_confirmation": (
        "{practice_name}: you will get no more texts from us. "
        "Reply START to get texts again, or call {practice_phone}."
    ),
    "opt_in_confirmation": (
        "{practice_name}: you will get texts from us again. "
        "Reply STOP to stop, HELP for help."
    ),
    "picture_reply": (
        "Sorry, pictures can't be handled by text. Our front desk will look at it "
        "and get back to you. You can also call us at {practice_phone}."
    ),
    "emergency": (
        "If this is an emergency, call 911. For a mental health crisis, call or text 988."
    ),
}


def render(name: str, *, practice_name: str, practice_phone: str) -> str:
    """The filled template ``name``; the phone is shown as (503) 555-0100."""
    return TEMPLATES[name].format(practice_name=practice_name, practice_phone=format_phone(practice_phone))
