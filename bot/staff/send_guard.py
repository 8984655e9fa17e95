"""The check before a staff text leaves: does it carry a money amount, a medication or a diagnosis?

Texts to patients carry dates, times, provider and place only. A staff member
may still have a good reason ("your $20 copay card arrived" is the patient's
own request), so this is a second look, not a ban: :func:`sensitive_findings`
lists what it found and the reply is sent only once staff confirm
(:func:`bot.staff.replies.send_staff_reply` with ``confirmed=True``).

The lexicon is small on purpose: the words a front desk is most likely to type.
Matching is on whole words, any case, with a plural ``s``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MONEY, MEDICATION, DIAGNOSIS = "money amount", "medication", "diagnosis or result"

_AMOUNT = re.compile(
    r"(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?"                      # $250, $ 1,200.50
    r"|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars?|usd|bucks)\b"   # 250 dollars, 40 USD
    r"|\b(?:balance|amount owed|past due amount)\b)",
    re.IGNORECASE)

MEDICATIONS = frozenset("""
    acetaminophen adderall advil albuterol alprazolam amlodipine amoxicillin antibiotic atorvastatin azithromycin
    cephalexin ciprofloxacin clindamycin codeine doxycycline fluoxetine gabapentin hydrocodone ibuprofen insulin
    levothyroxine lisinopril losartan metformin metoprolol motrin naproxen omeprazole oxycodone penicillin
    prednisone prozac sertraline tramadol tylenol valium warfarin xanax zoloft
""".split())

DIAGNOSES = frozenset("""
    abscess asthma biopsy cancer carcinoma cavity cavities chlamydia covid dementia depression diabetes diagnosis
    diagnosed fracture gingivitis gonorrhea hepatitis herpes hiv hypertension infection lymphoma malignant
    periodontitis pregnancy pregnant result std sti syphilis tumor
""".split())

_WORD = re.compile(r"[a-z]+", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One thing the guard noticed: its kind (MONEY, MEDICATION, DIAGNOSIS) and the words as written."""

    kind: str
    text: str


def _in(lexicon: frozenset[str], word: str) -> bool:
    word = word.lower()
    return word in lexicon or (word.endswith("s") and word[:-1] in lexicon)


def sensitive_findings(text: str) -> list[Finding]:
    """What in ``text`` needs a second look, in the order it appears; empty when the text is plain."""
    found = [(m.start(), Finding(MONEY, m.group(0).strip())) for m in _AMOUNT.finditer(text)]
    for match in _WORD.finditer(text):
        word = match.group(0)
        if _in(MEDICATIONS, word):
            found.append((match.start(), Finding(MEDICATION, word)))
        elif _in(DIAGNOSES, word):
            found.append((match.start(), Finding(DIAGNOSIS, word)))
    return [finding for _, finding in sorted(found, key=lambda pair: pair[0])]
