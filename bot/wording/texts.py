"""The texts the SMS channel itself sends, and how long a text is in SMS terms.

The channel sends a few texts before or instead of Rasa (consent keywords, a
picture it cannot read, an emergency while staff have the conversation); their
words are in the catalog (``bot/wording/catalog/<language>.yml``) under the
names in :data:`CHANNEL_TEXTS`. Each fills to at most 320 GSM-7 characters (two
segments) and none asks the patient to reply CANCEL, which is an opt-out keyword.
"""
from __future__ import annotations

from bot import wording
from bot.practice import format_phone

CHANNEL_TEXTS = ("help", "opt_out_confirmation", "opt_in_confirmation", "picture_reply", "emergency",
                 "emergency_es", "holding_reply", "empty_text_reply", "language_switched")
TEMPLATES: dict[str, str] = {name: wording.catalog("en")[name] for name in CHANNEL_TEXTS}  # the English words

# Example values for the fields some templates need besides the practice's name and phone
# (the length test fills every template with them).
EXAMPLE_FIELDS: dict[str, str] = {"team": "our billing team", "answer_time": "by 11:00 AM Wednesday"}


def render(name: str, *, practice_name: str, practice_phone: str, language: str | None = None, **fields: str) -> str:
    """The filled text ``name`` in ``language`` (English by default); the phone is shown as (503) 555-0100.

    ``team`` ("our front desk") may start a sentence: ``{team_capitalised}`` is it with a capital.
    """
    if "team" in fields:
        fields["team_capitalised"] = wording.words(language).capitalised(fields["team"])
    return wording.render(name, language, practice_name=practice_name, practice_phone=format_phone(practice_phone),
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


def segments(text: str) -> tuple[str, int]:
    """The encoding and the number of SMS segments: GSM-7 160 in one, 153 each beyond; UCS-2 70, then 67."""
    septets = gsm7_length(text)
    if septets is not None:
        return "GSM-7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


def plain_text(text: str) -> str:
    """Typographic quotes and dashes from names and addresses, as GSM-7 equivalents."""
    return text.translate(_PLAIN)
