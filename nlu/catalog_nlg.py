"""Rasa's responses, rendered from the wording catalog in the conversation's language.

``endpoints.yml`` names this class (``nlg: type: nlu.catalog_nlg.CatalogNaturalLanguageGenerator``), so
every ``utter_*`` Rasa speaks (a rule's ``utter_greet``, or an action's ``utter_message(response=...)``)
is filled like Rasa's own TemplatedNaturalLanguageGenerator fills a domain response (slot values, then the
action's values) but from ``bot/wording/catalog/<language>.yml``, the language being the tracker's
``language`` slot (English when that language has no catalog), unless the action passed the turn's
``language`` or the patient's latest text is written in the other language. domain.yml declares the names only.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.trackers import DialogueStateTracker

from bot.wording import render_response


class CatalogNaturalLanguageGenerator(NaturalLanguageGenerator):
    def __init__(self, endpoint_config: Any = None, domain: Any = None) -> None:
        self.domain = domain

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                       **kwargs: Any) -> Optional[Dict[Text, Any]]:
        """``{"text": ...}`` for a name the catalog has; None (Rasa logs it) for one it has not."""
        values = {k: v for k, v in kwargs.items() if k != "domain_responses"}
        said = (tracker.latest_message.text if tracker.latest_message else None) or ""
        text = render_response(utter_action, tracker.current_slot_values(), values, said)
        return None if text is None else {"text": text}
