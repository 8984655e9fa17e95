"""Every word a patient reads, per language: one catalog and one formatting file for each.

``catalog/<code>.yml`` holds every text by name with ``{placeholders}``; ``formatting/<code>.py`` turns facts
(datetimes, names, office hours) into the phrases those placeholders take. Domain code hands over facts
and calls :func:`render` (or :func:`words` for a phrase); nothing else builds a sentence.

A new language is ``catalog/<code>.yml`` (the same keys and placeholders as ``en.yml``), its formatting
file, and one line in :data:`LANGUAGES`. A language without a catalog (a patient's record may say "fr")
reads English.
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import yaml

from bot.language.detect import reply_language
from bot.wording.formatting import en, es

DEFAULT_LANGUAGE = "en"
LANGUAGES: dict[str, ModuleType] = {  # language code -> its formatting module; catalog/<code>.yml beside it
    "en": en,
    "es": es,
}
CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
PLACEHOLDER = re.compile(r"{(\w+)}")


def language_or_default(language: str | None) -> str:
    """``language`` if it has a catalog ('en-US' reads as 'en'), else English."""
    code = (language or "").strip().lower().replace("_", "-")
    if code in LANGUAGES:
        return code
    base = code.split("-")[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def catalog(language: str | None) -> Mapping[str, str]:
    """Every text of ``language`` (English when it has none), by name."""
    code = language_or_default(language)
    return yaml.safe_load((CATALOG_DIR / f"{code}.yml").read_text(encoding="utf-8"))


def words(language: str | None) -> ModuleType:
    """The formatting module of ``language`` (English when it has none): ``words(lang).slot(start, name)``."""
    return LANGUAGES[language_or_default(language)]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render(name: str, language: str | None, /, **facts: Any) -> str:
    """The text ``name`` in ``language``, its placeholders filled from ``facts`` (extra facts are ignored).

    A placeholder without a fact raises KeyError: a text never goes out with a ``{`` in it.
    """
    return catalog(language)[name].format_map(_Strict(facts))


def has_text(name: str) -> bool:
    return name in catalog(DEFAULT_LANGUAGE)


def render_response(name: str, slots: Mapping[str, Any], values: Mapping[str, Any], text: str = "") -> str | None:
    """An assistant reply as Rasa's NLG fills it: slot values, then the action's values; None when the catalog has
    no such text.

    The language is the action's (``values["language"]``: actions decide it for the turn), else the one the
    patient's ``text`` asks for or is written in, else the ``language`` slot (the conversation's).
    """
    if not has_text(name):
        return None
    facts = {**{k: v for k, v in slots.items() if v is not None}, **{k: v for k, v in values.items() if v is not None}}
    language = values.get("language") or reply_language(slots.get("language"), text)
    return render(name, language, **facts)


def describe_slot(item: Any, zone: tzinfo | str, language: str | None = None) -> str:
    """A slot or an appointment as a patient reads it: 'Thu, Mar 4 at 9:30 AM with Dr. Patel' (never the visit type)."""
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    provider = getattr(item, "provider_name", None) or item.provider.display_name
    return words(language).slot(item.start.astimezone(zone), provider)


def answer_time_phrase(due_at: datetime, now: datetime, zone: tzinfo, language: str | None = None) -> str:
    """When staff will have answered, from today in the practice's zone: 'by 11:00 AM tomorrow'."""
    return words(language).answer_by(due_at.astimezone(zone), now.astimezone(zone).date())


class _Strict(dict):
    def __missing__(self, key: str) -> Any:
        raise KeyError(f"no value for {{{key}}}")
