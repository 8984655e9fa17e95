"""Rasa NLU component: DIET's intent ranking blended with a TF-IDF + logistic-regression classifier.

Why: on short, misspelt SMS texts a linear model over word and character
n-grams is strong and well calibrated, while DIET learns different features
and extracts the entities the actions use. Averaging the two rankings makes
fewer mistakes than either alone (measured in docs/pipeline.md).

Place it right after DIETClassifier and before FallbackClassifier, which then
judges the blended confidence:

    - name: DIETClassifier
    - name: nlu.blended_intent.BlendedIntentClassifier
      lr_weight: 0.8
      class_weight: balanced
    - name: FallbackClassifier
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

logger = logging.getLogger(__name__)
MODEL_FILE = "tfidf_lr.joblib"
RANKING_LENGTH = 10


def tfidf_lr(c: float, seed: int, class_weight: Optional[str] = None) -> Pipeline:
    """Word uni- and bigrams plus character 1-5-grams (typos, emoji), into a logistic regression.

    ``class_weight="balanced"`` weighs each intent by the inverse of its share of the examples, so an
    intent with many examples (out_of_scope) does not win near-ties by sheer number.
    """
    return Pipeline([
        ("features", FeatureUnion([
            ("words", TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True)),
        ])),
        ("classifier", LogisticRegression(C=c, max_iter=3000, random_state=seed, class_weight=class_weight)),
    ])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class BlendedIntentClassifier(GraphComponent, IntentClassifier):
    """Averages the previous classifier's intent ranking with its own TF-IDF + LR probabilities."""

    @classmethod
    def required_components(cls) -> List[type]:
        # It must come after DIET in the pipeline, but its training does not
        # depend on DIET's, and Rasa checks this list against the training graph.
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # C=100 (little regularisation) beat C=10 on cross-validation and held-out (docs/pipeline.md).
        return {"lr_weight": 0.8, "C": 100.0, "random_seed": 42, "class_weight": None}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Pipeline] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BlendedIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.debug("fewer than two intents: nothing to train")
            return self._resource
        self.model = tfidf_lr(float(self.config["C"]), int(self.config["random_seed"]), self.config["class_weight"])
        self.model.fit([e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples])
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self.model, directory / MODEL_FILE)
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BlendedIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("no trained TF-IDF model found; passing the previous classifier's intent through")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if self.model is None or not text:
                continue
            weight = float(self.config["lr_weight"])
            own = dict(zip(self.model.classes_, self.model.predict_proba([text])[0]))
            previous = {r[INTENT_NAME_KEY]: r[PREDICTED_CONFIDENCE_KEY]
                        for r in message.get(INTENT_RANKING_KEY) or []}
            if not previous and message.get(INTENT):
                previous = {message.get(INTENT)[INTENT_NAME_KEY]: message.get(INTENT)[PREDICTED_CONFIDENCE_KEY]}
            blended = {name: weight * float(own.get(name, 0.0)) + (1 - weight) * float(previous.get(name, 0.0))
                       for name in set(own) | set(previous)}
            ranking = sorted(blended.items(), key=lambda item: item[1], reverse=True)[:RANKING_LENGTH]
            name, confidence = ranking[0]
            message.set(INTENT, {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}, add_to_output=True)
            message.set(INTENT_RANKING_KEY,
                        [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c} for n, c in ranking], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
