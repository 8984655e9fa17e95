"""Rasa NLU component that forces the `emergency` intent when the safety net fires.

Place it in config.yml AFTER the intent classifier and AFTER FallbackClassifier,
so that a low-confidence `nlu_fallback` for "cant breath" still becomes
`emergency`:

    pipeline:
      ...
      - name: DIETClassifier
      - name: FallbackClassifier
        threshold: 0.4
      - name: nlu.emergency_override.EmergencyOverride

When `bot.language.safety.emergency_reason(text)` finds something, the message's intent
becomes `{"name": "emergency", "confidence": 1.0}`, `emergency` moves to the top
of `intent_ranking`, and the category is put in the parse result as
`emergency_reason` (actions read it from `tracker.latest_message`), with
`emergency_language` ("es" for a Spanish or bilingual text, else "en"), and what the
classifier had said as `classifier_intent` (so `make evaluate` can count the
classifier's own emergencies apart from the net's). Messages the safety net does
not match are left exactly as the classifier produced them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    METADATA,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language.safety import emergency_language, emergency_reason
from bot.messaging.inbound import WHOLE_TEXT_KEY

EMERGENCY_INTENT = "emergency"
EMERGENCY_REASON_KEY = "emergency_reason"
CLASSIFIER_INTENT_KEY = "classifier_intent"
EMERGENCY_LANGUAGE_KEY = "emergency_language"  # "es": actions.handoff gives the advice in Spanish too
PARSED_INTENT_KEY = "parsed_intent"  # channels.sms_twilio.rasa_channel reads it


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class EmergencyOverride(GraphComponent, IntentClassifier):
    """Overrides the predicted intent with `emergency` when the keyword safety net fires."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Needs an intent classifier before it in the pipeline."""
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """No settings: the patterns live in bot/language/safety.py."""
        return {}

    def __init__(self, config: Optional[Dict[Text, Any]] = None) -> None:
        self.component_config = config or {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyOverride:
        """Creates the component (see parent class for full docstring)."""
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets intent `emergency` on every message whose text the safety net matches.

        The SMS channel cuts long texts for the classifier but puts the whole
        text in the message metadata (`whole_text`); the safety net reads that,
        so an emergency after the 500th character is caught too.
        """
        for message in messages:
            reason = emergency_reason(self._whole_text(message))
            if reason is None:
                self._leave_for_channel(message)
                continue
            emergency = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(CLASSIFIER_INTENT_KEY, dict(message.get(INTENT) or {}), add_to_output=True)
            ranking = [
                ranked
                for ranked in message.get(INTENT_RANKING_KEY) or []
                if ranked.get(INTENT_NAME_KEY) != EMERGENCY_INTENT
            ]
            message.set(INTENT, dict(emergency), add_to_output=True)
            message.set(INTENT_RANKING_KEY, [dict(emergency)] + ranking, add_to_output=True)
            message.set(EMERGENCY_REASON_KEY, reason, add_to_output=True)
            message.set(EMERGENCY_LANGUAGE_KEY, emergency_language(self._whole_text(message)), add_to_output=True)
            self._leave_for_channel(message)
        return messages

    @staticmethod
    def _leave_for_channel(message: Message) -> None:
        """The final intent, in the message metadata: the SMS channel stores it with the text
        without reading Rasa's whole tracker back after the turn."""
        metadata = message.get(METADATA)
        if isinstance(metadata, dict):
            intent = message.get(INTENT) or {}
            metadata[PARSED_INTENT_KEY] = {"name": intent.get(INTENT_NAME_KEY),
                                           "confidence": intent.get(PREDICTED_CONFIDENCE_KEY)}

    @staticmethod
    def _whole_text(message: Message) -> str:
        text = message.get(TEXT) or ""
        metadata = message.get(METADATA) or {}
        whole = metadata.get(WHOLE_TEXT_KEY) if isinstance(metadata, dict) else None
        return whole if isinstance(whole, str) and len(whole) > len(text) else text

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to do at training time: training labels are never overridden."""
        return training_data
