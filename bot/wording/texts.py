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
    "emergency_es": (  # a Spanish or bilingual emergency: both languages, GSM-7 (no "envíe")
        "If this is an emergency, call 911. For a mental health crisis, call or text 988. "
        "Si es una emergencia, llame al 911; para una crisis, llame o mande un mensaje al 988."
    ),
    "holding_reply": (
        "{practice_name}: we got your text. {team_capitalised} will reply {answer_time}. "
        "If it is urgent, call us at {practice_phone}; in an emergency call 911."
    ),
    "empty_text_reply": (
        "{practice_name}: your text came through empty. What can we help with? You can text things like "
        "\"confirm\", \"move my appt\", \"book a checkup\" or \"talk to a person\"."
    ),
}

# Example values for the fields some templates need besides the practice's name and phone
# (the length test fills every template with them).
EXAMPLE_FIELDS: dict[str, str] = {"team": "our billing team", "answer_time": "by 11:00 AM Wednesday"}


def render(name: str, *, practice_name: str, practice_phone: str, **fields: str) -> str:
    """The filled template ``name``; the phone is shown as (503) 555-0100.

    ``team`` ("our front desk") may start a sentence: ``{team_capitalised}`` is it with a capital.
    """
    if "team" in fields:
        fields["team_capitalised"] = fields["team"][:1].upper() + fields["team"][1:]
    return TEMPLATES[name].format(practice_name=practice_name, practice_phone=format_phone(practice_phone),
                                  **fields)


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
