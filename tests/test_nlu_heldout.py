"""The trained model against the held-out texts (tests/nlu_heldout.yml), which are never trained on.

The gate of `make test`: intent accuracy at least 93 %, and every held-out
emergency understood as `emergency` (the model plus the keyword safety net in
config.yml's EmergencyOverride). If it fails, fix the training data in
data/nlu, never by copying held-out texts into it and never by lowering the bar;
`make evaluate` shows which intents are weak and why.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.settings import ROOT

pytestmark = pytest.mark.needs_model

HELDOUT = ROOT / "tests" / "nlu_heldout.yml"
MIN_ACCURACY = 0.93


def heldout_examples() -> list[tuple[str, str]]:
    """(text, intent) for every held-out example; the file holds no entity markup."""
    document = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    examples = []
    for block in document["nlu"]:
        for line in block["examples"].splitlines():
            if line.strip().startswith("- "):
                examples.append((line.strip()[2:].strip(), block["intent"]))
    return examples


def trained_model() -> Path:
    """models/practice.tar.gz (what `make train` writes), else the newest model in models/."""
    preferred = ROOT / "models" / "practice.tar.gz"
    if preferred.exists():
        return preferred
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does)")
    return models[-1]


async def _parse_all(model: Path, texts: list[str]) -> list[tuple[str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    predictions = []
    for text in texts:
        intent = (await agent.parse_message(text)).get("intent") or {}
        predictions.append((intent.get("name") or "", float(intent.get("confidence") or 0.0)))
    return predictions


@pytest.fixture(scope="module")
def heldout_results() -> list[tuple[str, str, str, float]]:
    """(text, expected, predicted, confidence) for every held-out text, parsed in-process."""
    model = trained_model()
    examples = heldout_examples()
    predictions = asyncio.run(_parse_all(model, [text for text, _ in examples]))
    results = [(text, expected, predicted, confidence)
               for (text, expected), (predicted, confidence) in zip(examples, predictions)]
    wrong = [r for r in results if r[1] != r[2]]
    print(f"\n{model.name}: {len(results) - len(wrong)}/{len(results)} held-out texts right; misclassified:")
    for text, expected, predicted, confidence in wrong:
        print(f"  {expected:>22} -> {predicted:<22} {confidence:4.2f}  {text!r}")
    return results


def _weak_intents(results) -> str:
    """Recall per intent for those below 100 %, weakest first, with what they were taken for."""
    totals = Counter(expected for _, expected, _, _ in results)
    misses: dict[str, Counter] = {}
    for _, expected, predicted, _ in results:
        if expected != predicted:
            misses.setdefault(expected, Counter())[predicted] += 1
    lines = []
    for intent in sorted(misses, key=lambda i: sum(misses[i].values()) / totals[i], reverse=True):
        missed = sum(misses[intent].values())
        taken_for = ", ".join(f"{name} x{n}" for name, n in misses[intent].most_common())
        lines.append(f"  {intent}: recall {1 - missed / totals[intent]:.0%} "
                     f"({missed}/{totals[intent]} missed; taken for {taken_for})")
    return "\n".join(lines)


def test_heldout_set_is_large_enough_to_mean_something():
    examples = heldout_examples()
    assert len(examples) >= 400
    assert sum(1 for _, intent in examples if intent == "emergency") >= 30


def assert_accuracy_at_least(results, minimum: float, label: str) -> None:
    """Fail, naming the weak intents, when fewer than `minimum` of the results are right."""
    right = sum(1 for _, expected, predicted, _ in results if expected == predicted)
    accuracy = right / len(results)
    assert accuracy >= minimum, (
        f"{label} intent accuracy {accuracy:.1%} < {minimum:.0%}; weak intents:\n{_weak_intents(results)}")


def assert_every_emergency_understood(results, label: str, show_texts: bool = True) -> None:
    """Fail, listing them, when an expected emergency was predicted as anything else."""
    missed = [(text if show_texts else "(text not shown)", predicted, confidence)
              for text, expected, predicted, confidence in results
              if expected == "emergency" and predicted != "emergency"]
    assert not missed, f"{len(missed)} {label} emergencies NOT classified emergency:\n" + "\n".join(
        f"  {text!r} -> {predicted} ({confidence:.2f})" for text, predicted, confidence in missed)


def test_model_understands_at_least_93_percent_of_heldout_texts(heldout_results):
    assert_accuracy_at_least(heldout_results, MIN_ACCURACY, "held-out")


def test_every_heldout_emergency_is_understood_as_an_emergency(heldout_results):
    assert_every_emergency_understood(heldout_results, "held-out")
