"""Who is texting: patients by phone, their upcoming visits, and new patients registered by text.

One phone may belong to several patients (a parent texting for children), so
lookups return lists and :func:`match_patient_by_name` picks one from what the
patient wrote ("for emma", "my son jack"); :func:`patient_meant` decides which
patient a text is about.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.models import ACTIVE_STATUSES, Appointment, Channel, Conversation, Patient

__all__ = ["normalize_phone", "patients_for_phone", "upcoming_appointments", "register_new_patient",
           "asks_about_someone_else", "match_patient_by_name", "patient_matches", "patient_meant", "phones_matching", "PatientInQuestion"]

NANP_REGIONS = {"US", "CA"}  # +1 numbers; other regions need the +country form
_PHONE_RUN = re.compile(r"\+?\d[\d\s().\-]{5,}\d")


def normalize_phone(text: str, default_region: str = "US") -> str | None:
    """The E.164 form of the phone number in ``text`` ("(503) 555-0101" -> "+15035550101"), or None.

    Numbers without a country code are read as North American (US/CA) numbers;
    numbers written with "+" keep their country code. No library: the
    practice's patients are North American, and a wrong guess is worse than None.
    """
    if not text:
        return None
    match = _PHONE_RUN.search(text)
    if match is None:
        return None
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+") and not digits.startswith("1"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if default_region.upper() not in NANP_REGIONS and not raw.startswith("+"):
        return None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return None
    return f"+1{digits}"


def _search_terms(text: str) -> tuple[list[str], str]:
    words = [w for w in text.lower().split() if not any(c.isdigit() for c in w)]
    digits = re.sub(r"\D", "", text)
    return words, digits if len(digits) >= 3 else ""


def patient_matches(text: str) -> ColumnElement:
    """A condition on :class:`Patient`: staff search by name or by phone.

    A name matches when every word is in the full name, any case ("dana rey"); a phone when
    it contains the digits typed, 3 or more, whatever the punctuation ("555-0123", "(503) 555").
    """
    words, digits = _search_terms(text)
    conditions = []
    if digits:
        conditions.append(Patient.phone.contains(digits, autoescape=True))
    if words:
        full_name = func.lower(Patient.first_name + " " + Patient.last_name)
        conditions.append(and_(*[full_name.contains(w, autoescape=True) for w in words]))
    return or_(*conditions) if conditions else false()


def phones_matching(text: str, phone_column) -> ColumnElement:
    """A condition on an E.164 ``phone_column``: the phone contains the digits typed, or a patient
    on it matches :func:`patient_matches` (so a number with no patient record is found by its digits)."""
    _, digits = _search_terms(text)
    on_phone = phone_column.in_(select(Patient.phone).where(patient_matches(text)))
    return or_(phone_column.contains(digits, autoescape=True), on_phone) if digits else on_phone


def patients_for_phone(session: Session, phone: str) -> list[Patient]:
    """Every patient who uses ``phone`` (any written form), oldest record first."""
    e164 = normalize_phone(phone)
    if e164 is None:
        return []
    return list(session.execute(
        select(Patient).where(Patient.phone == e164).order_by(Patient.id)
    ).scalars())


def language_for_phone(session: Session, phone: str) -> str | None:
    """The language texts to ``phone`` are written in, None if unknown: the one its SMS conversation settled on
    (the patient chose it, or it was detected), else its first patient's (several share a phone)."""
    chosen = session.execute(select(Conversation.language).where(
        Conversation.channel == Channel.SMS, Conversation.address == (normalize_phone(phone) or phone))).scalar()
    if chosen:
        return chosen
    patients = patients_for_phone(session, phone)
    return patients[0].language if patients else None


def upcoming_appointments(session: Session, patient_ids: Iterable[int], now: datetime) -> list[Appointment]:
    """The patients' active appointments that start after ``now``, soonest first."""
    ids = list(patient_ids)
    if not ids:
        return []
    return list(session.execute(
        select(Appointment).where(
            Appointment.patient_id.in_(ids),
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start > now,
        ).order_by(Appointment.start, Appointment.id)
    ).scalars())


def _tidy_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("a patient needs a first and a last name")
    return name.title() if name.islower() or name.isupper() else name


def register_new_patient(session: Session, *, phone: str, first_name: str, last_name: str,
                         date_of_birth: date | None, now: datetime) -> Patient:
    """A patient who registered by text; ``is_new`` until the practice has seen them."""
    e164 = normalize_phone(phone)
    if e164 is None:
        raise ValueError("not a phone number we can text")
    patient = Patient(phone=e164, first_name=_tidy_name(first_name), last_name=_tidy_name(last_name),
                      date_of_birth=date_of_birth, is_new=True, created_at=now)
    session.add(patient)
    session.flush()
    return patient


# Words that are never names, so "for" does not fuzzily become "Ford".
_NOT_NAMES = frozenset("""
a an and appointment appt are at book can cancel child daughter for from her him his i is it kid me
mine my of on our please reschedule son the this to visit want we with wife husband mom dad baby
""".split())
_WORD = re.compile(r"[a-zA-Z][a-zA-Z'\-]*")


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        word = word.removesuffix("'s").strip("'-")
        if word:
            words.append(word)
    return words


def match_patient_by_name(patients: Sequence[Patient], text: str) -> Patient | None:
    """The one patient ``text`` names by first name ("for emma", "Liam", "my son jack"), or None.

    Exact first-name matches win; otherwise a close spelling ("Emmma", "Jak")
    counts. When two patients fit equally (two Johns), the last name decides
    if given; else None, and the caller asks.
    """
    words = _words(text)
    if not words or not patients:
        return None

    def score(patient: Patient) -> float:
        first = patient.first_name.lower()
        if first in words:
            return 1.0
        best = 0.0
        for word in words:
            if word in _NOT_NAMES or len(word) < 3 or word[0] != first[0]:
                continue
            best = max(best, difflib.SequenceMatcher(None, word, first).ratio())
        return best if best >= 0.75 else 0.0

    scored = [(score(p), p) for p in patients]
    top = max(s for s, _ in scored)
    if top == 0.0:
        return None
    leaders = [p for s, p in scored if s == top]
    if len(leaders) > 1:
        leaders = [p for p in leaders if p.last_name.lower() in words] or leaders
    return leaders[0] if len(leaders) == 1 else None


# Whose visits a phone's texts may never be about: people who do not share a patient's phone. A name that is
# not on the phone ("Is Tom's cleaning still on?") counts too; family words do not (a parent texts for a child).
_OTHERS = (r"(?:neighbou?r|friend|co-?worker|colleague|room-?mate|boss|employee|boyfriend|girlfriend)")
_SOMEONE_ELSE = re.compile(
    rf"\b{_OTHERS}s?['’]s?(?= )|\b{_OTHERS}s (?:appointment|appt|visit|cleaning|check ?up|physical|exam)|\b(?:for|about) (?:my |our |a |the )?{_OTHERS}s?\b|"
    r"\b(?:someone|somebody) else['’]?s?\b|\b(?:another|a different) patient", re.IGNORECASE)
_POSSESSIVE_NAME = re.compile(
    r"(?<!Dr\. )(?<!Dr )(?<!Doctor )\b([A-Z][a-z]+)['’]s (?:appointment|appt|visit|cleaning|check ?up|checkup|physical|exam|time|booking)")
_NOT_NAMES = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today",
                        "tomorrow", "tonight", "yesterday", "next", "this", "last", "dr", "doctor", "mom", "dad",
                        "today's", "mommy", "daddy"})


def asks_about_someone_else(text: str) -> bool:
    """Does the text ask about a person who is not one of the phone's patients (checked by the caller)?"""
    if _SOMEONE_ELSE.search(text):
        return True
    return any(m.group(1).lower() not in _NOT_NAMES for m in _POSSESSIVE_NAME.finditer(text))


@dataclass(frozen=True)
class PatientInQuestion:
    """``patient`` when clear (``named``: the text named them); else ``choices``, the phone's patients to ask about."""

    patient: Patient | None = None
    choices: list[Patient] = field(default_factory=list)
    named: bool = False
    someone_else: bool = False  # the text asks about a person who is not a patient on this phone


def patient_meant(session: Session, phone: str, *, text: str, chosen_id: int | None, about_a_visit: bool,
                  now: datetime) -> PatientInQuestion:
    """Which of the patients who use ``phone`` a text is about.

    The only one; else the one the text names ("for emma"); else the one chosen
    earlier in the conversation (``chosen_id``); else, for a text about a visit
    (``about_a_visit``: confirm, cancel, move, check), the only one with an
    upcoming visit; else it is not clear. A text about a visit of someone not on this phone (a neighbour's,
    "Tom's cleaning") gets ``someone_else``. An unknown number gets no choices:
    what it may do depends on the conversation, so callers check it first.
    """
    patients = patients_for_phone(session, phone)
    if about_a_visit and patients and match_patient_by_name(patients, text) is None and asks_about_someone_else(text):
        return PatientInQuestion(someone_else=True)
    if len(patients) == 1:
        return PatientInQuestion(patients[0])
    named = match_patient_by_name(patients, text)
    if named:
        return PatientInQuestion(named, named=True)
    if chosen_id is not None:
        for patient in patients:
            if patient.id == int(chosen_id):
                return PatientInQuestion(patient)
    if about_a_visit:
        with_visits = [p for p in patients if upcoming_appointments(session, [p.id], now)]
        if len(with_visits) == 1:
            return PatientInQuestion(with_visits[0])
    return PatientInQuestion(choices=patients)
