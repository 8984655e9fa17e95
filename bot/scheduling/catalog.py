"""The practice's providers and visit types, found by key or by the words a patient uses for them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.language.answers import match_by_words
from bot.models import AppointmentType, Practice, Provider


def provider_named(session: Session, text: str) -> Provider | None:
    """The active provider the text names ("Dr. Patel", "patel", "dr patel"), if exactly one."""
    providers = session.execute(select(Provider).where(Provider.active.is_(True))).scalars().all()
    words = {
        p.key: [p.key, p.name, p.display_name, p.name.split()[-1], f"dr {p.name.split()[-1]}"] for p in providers
    }
    key = match_by_words(text, words)
    return next((p for p in providers if p.key == key), None)


def provider_by_key(session: Session, key: str | None) -> Provider | None:
    if not key:
        return None
    return session.execute(select(Provider).where(Provider.key == key)).scalar_one_or_none()


def appointment_type_named(session: Session, practice: Practice, text: str) -> AppointmentType | None:
    """The visit type the text names, by its name or the practice's everyday words for it ("physical")."""
    types = session.execute(select(AppointmentType)).scalars().all()
    configured = practice.config.get("type_words") or {}
    words = {t.key: [t.name, *configured.get(t.key, [])] for t in types}
    key = match_by_words(text, words)
    return next((t for t in types if t.key == key), None)


def appointment_type_by_key(session: Session, key: str | None) -> AppointmentType | None:
    if not key:
        return None
    return session.execute(select(AppointmentType).where(AppointmentType.key == key)).scalar_one_or_none()
