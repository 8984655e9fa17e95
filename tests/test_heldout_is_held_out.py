"""The held-out NLU texts (tests/nlu_heldout.yml) share no text with the training data (data/nlu).

The accuracy gate in test_nlu_heldout.py means something only if the model
never saw the texts it is graded on. Texts count as the same when they match
after lower-casing, collapsing whitespace and stripping surrounding punctuation,
so "Yes!" in one file and "yes" in the other is an overlap.
"""
from __future__ import annotations

import re
import string

import yaml

from bot.settings import ROOT

HELDOUT = ROOT / "tests" / "nlu_heldout.yml"
TRAINING = sorted((ROOT / "data" / "nlu").glob("*.yml"))
MIN_HELDOUT_TEXTS = 300
MIN_HELDOUT_EMERGENCIES = 30

# [Dr. Patel](provider) and [cleaning]{"entity": "appointment_type"} -> the bracketed text.
_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_SURROUNDING = string.punctuation + string.whitespace


def normalise(text: str) -> str:
    """The form two texts are compared in: no entity markup, lower case, single spaces, no outer punctuation."""
    plain = _ENTITY.sub(r"\1", text)
    return " ".join(plain.lower().split()).strip(_SURROUNDING)


def intent_examples(path) -> list[tuple[str, str]]:
    """(text, intent) for every example of every `intent` block in a Rasa NLU YAML file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples = []
    for block in document.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in (block.get("examples") or "").splitlines():
            if line.strip().startswith("- "):
                examples.append((line.strip()[2:].strip(), block["intent"]))
    return examples


def test_normalise_ignores_case_spacing_markup_and_outer_punctuation():
    assert normalise("  Confirm my [cleaning](appointment_type)  for   FRIDAY!! ") == "confirm my cleaning for friday"
    assert normalise('see [Dr. Lopez]{"entity": "provider"}?') == "see dr. lopez"
    assert normalise("can't") == "can't"


def test_training_data_is_found():
    assert TRAINING, "no data/nlu/*.yml"
    assert sum(len(intent_examples(path)) for path in TRAINING) > 1000


def test_no_heldout_text_is_also_a_training_text():
    training = {}
    for path in TRAINING:
        for text, intent in intent_examples(path):
            training.setdefault(normalise(text), f"{path.name} ({intent}): {text}")
    overlaps = [
        f"  held-out ({intent}): {text!r}  ==  {training[normalise(text)]!r}"
        for text, intent in intent_examples(HELDOUT)
        if normalise(text) in training
    ]
    assert not overlaps, f"{len(overlaps)} held-out texts are also training texts:\n" + "\n".join(overlaps)


def test_heldout_texts_are_distinct():
    seen: dict[str, str] = {}
    duplicates = []
    for text, intent in intent_examples(HELDOUT):
        key = normalise(text)
        if key in seen:
            duplicates.append(f"  {text!r} ({intent}) repeats {seen[key]!r}")
        seen.setdefault(key, f"{text} ({intent})")
    assert not duplicates, "held-out texts repeat:\n" + "\n".join(duplicates)


def test_heldout_set_is_large_enough_to_grade():
    examples = intent_examples(HELDOUT)
    emergencies = [text for text, intent in examples if intent == "emergency"]
    assert len(examples) >= MIN_HELDOUT_TEXTS
    assert len(emergencies) >= MIN_HELDOUT_EMERGENCIES


INDEPENDENT = ROOT / "tests" / "nlu_heldout_independent.yml"
OUT_OF_DOMAIN = ROOT / "tests" / "nlu_out_of_domain.yml"
OUT_OF_SCOPE_TRAINING = ROOT / "data" / "nlu" / "out_of_scope.yml"


def out_of_domain_texts(path) -> list[str]:
    """Every text of an out-of-domain file (``categories: {name: [text, ...]}``)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [str(text) for texts in (document.get("categories") or {}).values() for text in texts or []]


def test_the_out_of_scope_training_texts_are_in_neither_independent_set():
    """data/nlu/out_of_scope.yml is graded by tests/nlu_out_of_domain.yml: the two must not share a text
    (nor may it share one with the independent held-out set), or the grade measures memory."""
    graded = {normalise(text): "nlu_out_of_domain.yml" for text in out_of_domain_texts(OUT_OF_DOMAIN)}
    graded.update({normalise(text): "nlu_heldout_independent.yml" for text, _ in intent_examples(INDEPENDENT)})
    training = intent_examples(OUT_OF_SCOPE_TRAINING)
    assert len(training) >= 500
    shared = [f"  {text!r} is also in {graded[normalise(text)]}" for text, _ in training if normalise(text) in graded]
    assert not shared, f"{len(shared)} out_of_scope training texts are graded texts:\n" + "\n".join(shared)


HELDOUT_ES = ROOT / "tests" / "nlu_heldout_es.yml"
TRAINING_ES = sorted((ROOT / "data" / "nlu" / "es").glob("*.yml"))


def test_no_spanish_heldout_text_is_also_a_spanish_training_text():
    """The Spanish gate (test_nlu_heldout_es.py) grades data/nlu/es on texts it never saw.

    Only the training texts are named on failure: take them out of data/nlu/es (the
    held-out file is not to be read by whoever writes the Spanish training data).
    A few one-word answers ("hola", "no", "ok") are in the English data too; those
    stay, as they were there first.
    """
    graded = {normalise(text) for text, _ in intent_examples(HELDOUT_ES)}
    assert TRAINING_ES, "no data/nlu/es/*.yml"
    shared = [f"  {path.relative_to(ROOT)} ({intent}): {text!r}"
              for path in TRAINING_ES for text, intent in intent_examples(path) if normalise(text) in graded]
    assert not shared, f"{len(shared)} Spanish training texts are also held-out texts:\n" + "\n".join(shared)


def test_spanish_heldout_texts_are_distinct():
    keys = [normalise(text) for text, _ in intent_examples(HELDOUT_ES)]
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} Spanish held-out texts repeat"
