"""Consent to texts, by purpose: who may get care texts, billing texts, marketing texts; and the keywords.

Purposes (:class:`~bot.models.ConsentPurpose`): ``care`` (appointments, reminders, recall, waitlist
offers, replies), ``billing`` (bill-ready notices) and ``marketing``. For each purpose the newest
:class:`ConsentRecord` of that purpose, or of ``all``, is in force:

- care: allowed unless opted out (a patient who gave the practice a phone expects appointment texts);
- billing: only after an opt-in is recorded (billing texts fall outside the TCPA healthcare exemption);
- marketing: only after an opt-in from a written source (the signed intake form).

STOP records an opt-out of ``all``; START an opt-in to ``care`` only, so billing and marketing stay off
until the patient agrees to them again. :mod:`bot.messaging.outbox` asks here before every send.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus

# Twilio's default keywords (Advanced Opt-Out off or on, they behave alike).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Spanish keywords, as the English one they mean. The FCC counts any reasonable way of saying stop, and a
# Spanish speaker's is PARAR, ALTO or BAJA. SI, like YES, opts back in only a phone that opted out.
# CANCELAR is not one: Twilio does not treat it as an opt-out, and a patient who texts it means the visit
# (the assistant asks which one), so it goes to the NLU like "cancelar mi cita".
# The few two- or three-word ways of saying BAJA count as it, written whole (nothing before or after them).
SPANISH_KEYWORDS = {"PARAR": "STOP", "ALTO": "STOP", "BAJA": "STOP", "DETENER": "STOP",
                    "CANCELAR SUSCRIPCION": "STOP", "DAR DE BAJA": "STOP", "DARME DE BAJA": "STOP",
                    "DARSE DE BAJA": "STOP",
                    "INICIAR": "START", "REANUDAR": "START", "AYUDA": "HELP", "SI": "YES"}

CARE, BILLING, MARKETING, ALL = (ConsentPurpose.CARE, ConsentPurpose.BILLING, ConsentPurpose.MARKETING,
                                 ConsentPurpose.ALL)
# Allowed when no record says otherwise.
_ALLOWED_BY_DEFAULT = {CARE: True, BILLING: False, MARKETING: False}
WRITTEN_SOURCES = frozenset({ConsentSource.INTAKE_FORM.value})


class ConsentRefused(ValueError):
    """The consent cannot be recorded so (marketing consent that is not written)."""


def keyword_of(text: str) -> str | None:
    """The consent keyword a text consists of, if it is a single keyword (a Spanish one as its English
    meaning: "Parar" is STOP, "sí" is YES); case and accents do not matter."""
    word = _spelled(text)
    word = SPANISH_KEYWORDS.get(word, word)
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS | {"YES"}:
        return word
    return None


def is_spanish_keyword(text: str) -> bool:
    """Is the text one of :data:`SPANISH_KEYWORDS`? (Its answer is then in Spanish.)"""
    return _spelled(text) in SPANISH_KEYWORDS


def _spelled(text: str) -> str:
    """" Cancelar  suscripción! " as "CANCELAR SUSCRIPCION": upper case, no accents, single spaces."""
    word = " ".join(text.strip().strip(".!¡").upper().split())
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def _newest(session: Session, phone: str, purpose: ConsentPurpose) -> ConsentRecord | None:
    return session.execute(
        select(ConsentRecord).where(ConsentRecord.phone == phone,
                                    ConsentRecord.purpose.in_((ConsentPurpose(purpose).value, ALL.value)))
        .order_by(ConsentRecord.id.desc()).limit(1)
    ).scalar_one_or_none()


def current_status(session: Session, phone: str, purpose: ConsentPurpose = CARE) -> ConsentStatus | None:
    """The status in force for ``purpose`` (None: nothing recorded)."""
    record = _newest(session, phone, purpose)
    return record.status if record is not None else None


def allows(session: Session, phone: str, purpose: ConsentPurpose | str) -> bool:
    """May a text of ``purpose`` go to ``phone``? (The rules are in the module docstring.)"""
    purpose = ConsentPurpose(purpose)
    record = _newest(session, phone, purpose)
    if record is None:
        return _ALLOWED_BY_DEFAULT[purpose]
    if record.status == ConsentStatus.OPTED_OUT:
        return False
    return purpose != MARKETING or record.source in WRITTEN_SOURCES


def is_opted_out(session: Session, phone: str) -> bool:
    """Opted out of care texts (and so of everything): what STOP does."""
    return not allows(session, phone, CARE)


def record_consent(session: Session, phone: str, purpose: ConsentPurpose | str, status: ConsentStatus,
                   source: ConsentSource | str, now: datetime, detail: str | None = None) -> ConsentRecord:
    """Store a change of consent; marketing opt-ins only from a written source (else :class:`ConsentRefused`)."""
    purpose, source = ConsentPurpose(purpose), ConsentSource(source).value
    if purpose == MARKETING and status == ConsentStatus.OPTED_IN and source not in WRITTEN_SOURCES:
        raise ConsentRefused("marketing texts need written consent (the intake form)")
    record = ConsentRecord(phone=phone, status=status, purpose=purpose.value, source=source, detail=detail,
                           created_at=now)
    session.add(record)
    session.flush()
    return record


def record_opt_out(session: Session, phone: str, source: str, now: datetime, detail: str | None = None) -> ConsentRecord:
    """STOP: no more texts of any purpose."""
    return record_consent(session, phone, ALL, ConsentStatus.OPTED_OUT, source, now, detail)


def record_opt_in(session: Session, phone: str, source: str, now: datetime, detail: str | None = None) -> ConsentRecord:
    """START: care texts again (billing and marketing need their own consent again)."""
    return record_consent(session, phone, CARE, ConsentStatus.OPTED_IN, source, now, detail)


@dataclass(frozen=True)
class ConsentState:
    """One purpose's consent for a phone, as staff see it."""

    purpose: str
    allowed: bool
    status: str | None        # the record in force: opted_in / opted_out; None: nothing recorded (the default)
    source: str | None
    recorded_at: datetime | None


def consents_of(session: Session, phone: str) -> list[ConsentState]:
    """Each purpose's consent for ``phone`` (care, billing, marketing), for the inbox."""
    states = []
    for purpose in (CARE, BILLING, MARKETING):
        record = _newest(session, phone, purpose)
        states.append(ConsentState(
            purpose=purpose.value, allowed=allows(session, phone, purpose),
            status=record.status.value if record else None, source=record.source if record else None,
            recorded_at=record.created_at if record else None))
    return states
