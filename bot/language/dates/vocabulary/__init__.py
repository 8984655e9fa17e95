"""The words of each language the date parser reads, one module per language (English today).

A vocabulary is a module with the names of vocabulary/en.py (word tables and regex fragments). The
claim patterns in claims.py still spell some English phrases inline ("next week", "day after"): a
second language moves those into its vocabulary too.
"""
from __future__ import annotations

from types import ModuleType

from bot.language.dates.vocabulary import en

VOCABULARIES: dict[str, ModuleType] = {en.CODE: en}


def vocabulary_for(language: str) -> ModuleType:
    """The vocabulary of ``language`` ("en", "en-US"); English when the language has none yet."""
    return VOCABULARIES.get(language.split("-")[0].lower(), en)
