"""The words of each language the date parser reads, one module per language: English and Spanish.

A vocabulary is a module with the names of vocabulary/en.py (word tables and regex fragments, with the
same groups); claims.py, atoms.py and resolution.py spell no words of their own. A new language is a
sibling module and one entry in VOCABULARIES (tests/test_dates.py checks it has every name).
"""
from __future__ import annotations

from types import ModuleType

from bot.language.dates.vocabulary import en, es

VOCABULARIES: dict[str, ModuleType] = {en.CODE: en, es.CODE: es}


def vocabulary_for(language: str) -> ModuleType:
    """The vocabulary of ``language`` ("en", "en-US", "es", "es-MX"); English when the language has none yet."""
    return VOCABULARIES.get(language.split("-")[0].lower(), en)
