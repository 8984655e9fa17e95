"""The send guard: a staff text with a money amount, a medication or a diagnosis needs a second look."""
from __future__ import annotations

import pytest

from bot.staff.send_guard import DIAGNOSIS, MEDICATION, MONEY, sensitive_findings


@pytest.mark.parametrize("text, found", [
    ("Your balance is $250.", [(MONEY, "balance"), (MONEY, "$250")]),
    ("That is 250 dollars", [(MONEY, "250 dollars")]),
    ("It comes to $1,200.50 in total", [(MONEY, "$1,200.50")]),
    ("40 USD please", [(MONEY, "40 USD")]),
    ("Keep taking the Amoxicillin", [(MEDICATION, "Amoxicillin")]),
    ("Two TYLENOL and rest", [(MEDICATION, "TYLENOL")]),
    ("No antibiotics needed", [(MEDICATION, "antibiotics")]),
    ("Your results are normal", [(DIAGNOSIS, "results")]),
    ("The biopsy showed no cancer", [(DIAGNOSIS, "biopsy"), (DIAGNOSIS, "cancer")]),
    ("Two cavities to fill", [(DIAGNOSIS, "cavities")]),
    ("your diabetes check", [(DIAGNOSIS, "diabetes")]),
])
def test_money_medications_and_diagnoses_are_found_in_order(text, found):
    assert [(f.kind, f.text) for f in sensitive_findings(text)] == found


@pytest.mark.parametrize("text", [
    "See you Thu, Mar 4 at 9:30 AM with Dr. Patel at 12 Main St.",
    "Call us at (503) 555-0100, room 250.",
    "Your visit at 2:30 moved to 3:15.",
    "Please bring your insurance card.",
    "We have 3 openings next week.",
])
def test_plain_appointment_texts_pass(text):
    assert sensitive_findings(text) == []


def test_words_match_whole_not_inside_other_words():
    assert sensitive_findings("resulting in a new time; cancellation is free") == []
