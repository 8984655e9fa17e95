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


# --- How long a text is, in SMS terms ------------------------------------------------

SMS_LIMIT = 320  # two GSM-7 segments
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")
_PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


def gsm7_length(text: str) -> int | None:
    """Length in GSM-7 septets (extended characters count 2), or None if not GSM-7."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def plain_text(text: str) -> str:
    """Typographic quotes and dashes from names and addresses, as GSM-7 equivalents."""
    return text.translate(_PLAIN)
