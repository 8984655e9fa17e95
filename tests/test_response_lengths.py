"""Every text the bot can send fits in two SMS segments, filled with realistic worst-case values."""
import re

import pytest
import yaml

from bot.settings import ROOT
from bot.wording.texts import gsm7_length

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
SLOT = "Wed, Sep 29 at 12:45 PM with Maria Lopez, NP"
REALISTIC = {
    "practice_name": "Northwest Family Medicine & Pediatrics",
    "practice_phone": "(503) 555-0100",
    "fax": "(503) 555-0101",
    "address": "1200 River Road, Suite 300, Portland, OR 97201",
    "parking": "Free parking in the garage under the building; bring your ticket to the front desk.",
    "hours": "Mon-Wed 8 AM-5 PM, Thu 8 AM-7 PM, Fri 8 AM-4 PM, Sat 9 AM-12 PM, closed Sun",
    "holidays": "Thanksgiving (Thu, Nov 26), Christmas Day (Fri, Dec 25), New Year's Day (Fri, Jan 1), "
                "Memorial Day (Mon, May 31)",
    "appointment": SLOT,
    "appointments": "; ".join(f"{name}: {SLOT}" for name in ("Alexandria", "Sebastian", "Emma")),
    "choices": "".join(f"\n{i}. {SLOT}" for i in (1, 2, 3)),
    "preference": "on Wed, Sep 29",
    "first_name": "Alexandria",
    "team": "our clinical team",
    "answer_time": "by 12:45 PM Wed, Sep 29",
    "late_policy": "If you will be more than 15 minutes late we may need to rebook.",
}
UCS2_TWO_SEGMENTS = 134  # 2 x 67 characters once a text needs UCS-2


def responses():
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            yield name, variant["text"]


@pytest.mark.parametrize("name, template", list(responses()))
def test_response_fits_two_segments_when_filled(name, template):
    placeholders = set(re.findall(r"{(\w+)}", template))
    assert placeholders <= REALISTIC.keys(), f"no realistic value for {placeholders - REALISTIC.keys()}"
    text = template.format(**REALISTIC)
    septets = gsm7_length(text)
    if septets is None:
        assert len(text) <= UCS2_TWO_SEGMENTS, f"{name} needs UCS-2 and is {len(text)} characters"
    else:
        assert septets <= 320, f"{name} is {septets} GSM-7 characters: {text!r}"


@pytest.mark.parametrize("name, template", list(responses()))
def test_no_response_asks_a_patient_to_reply_cancel(name, template):
    assert not re.search(r"\b(reply|text|send)\s+[\"']?cancel\b", template, re.I), name


def test_no_response_uses_buttons_or_markdown():
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            assert "buttons" not in variant, name
            assert not re.search(r"\*\*|__|\[[^\]]+\]\(", variant["text"]), name


def test_the_channel_and_the_assistant_give_the_same_emergency_advice():
    """The channel answers an emergency itself while staff have the conversation (Rasa is paused);
    the patient must get the same 911/988 advice either way."""
    from bot.wording.texts import TEMPLATES

    [assistant] = [variant["text"] for variant in DOMAIN["responses"]["utter_emergency"]]
    assert assistant.startswith(TEMPLATES["emergency"])
