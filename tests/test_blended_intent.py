"""The blended intent classifier: trains, persists, loads and blends rankings."""
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.blended_intent import BlendedIntentClassifier

EXAMPLES = {
    "billing_question": ["question about my bill", "why was i charged twice", "do you take my insurance",
                         "how much is a copay", "can i set up a payment plan for my balance"],
    "office_info": ["what are your hours", "where are you located", "is there parking",
                    "are you open saturday", "whats your fax number"],
}


def training_data() -> TrainingData:
    return TrainingData([Message(data={"text": text, "intent": intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


def test_it_trains_persists_loads_and_blends_with_the_previous_ranking(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("blended")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = BlendedIntentClassifier.create({"lr_weight": 0.5}, storage, resource, context)
    trained.train(training_data())

    loaded = BlendedIntentClassifier.load({"lr_weight": 0.5}, storage, resource, context)
    message = Message(data={"text": "when do you open on saturday"})
    # The previous classifier (DIET) was unsure and slightly wrong.
    message.set("intent", {"name": "billing_question", "confidence": 0.55})
    message.set("intent_ranking", [{"name": "billing_question", "confidence": 0.55},
                                   {"name": "office_info", "confidence": 0.45}])
    [result] = loaded.process([message])

    own = dict(zip(loaded.model.classes_, loaded.model.predict_proba(["when do you open on saturday"])[0]))
    expected = 0.5 * own["office_info"] + 0.5 * 0.45
    assert result.get("intent")["name"] == "office_info"
    assert abs(result.get("intent")["confidence"] - expected) < 1e-9
    ranking = result.get("intent_ranking")
    assert [r["name"] for r in ranking] == ["office_info", "billing_question"]
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-9


def test_weight_zero_keeps_the_previous_classifier(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("blended")
    context = ExecutionContext(GraphSchema({}), "test")
    component = BlendedIntentClassifier.create({"lr_weight": 0.0}, storage, resource, context)
    component.train(training_data())
    message = Message(data={"text": "what are your hours"})
    message.set("intent", {"name": "billing_question", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "billing_question", "confidence": 0.9}])
    [result] = component.process([message])
    assert result.get("intent") == {"name": "billing_question", "confidence": 0.9}


def test_balanced_class_weight_keeps_a_crowded_intent_from_winning_by_numbers(tmp_path):
    """One intent with many examples pulls an unseen text its way; balanced weights undo the pull."""
    crowded = {**EXAMPLES, "out_of_scope": [f"play song number {n} on the speaker" for n in range(40)]}
    data = TrainingData([Message(data={"text": text, "intent": intent})
                         for intent, texts in crowded.items() for text in texts])
    context = ExecutionContext(GraphSchema({}), "test")
    shares = {}
    for weight in (None, "balanced"):
        (tmp_path / str(weight)).mkdir()
        component = BlendedIntentClassifier.create({"class_weight": weight}, LocalModelStorage(tmp_path / str(weight)),
                                                   Resource("blended"), context)
        component.train(data)
        assert component.model.named_steps["classifier"].class_weight == weight
        own = dict(zip(component.model.classes_, component.model.predict_proba(["ok"])[0]))
        shares[weight] = own["out_of_scope"]
    assert shares["balanced"] < shares[None]
