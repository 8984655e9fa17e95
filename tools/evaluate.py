"""`python -m tools.evaluate`: how well does the assistant understand patients?

A trainer's tool, not part of the running assistant (so it may import Rasa;
it does so inside functions). It compares, on the SAME stratified folds of
data/nlu and on three sets never trained on: the project's held-out set
tests/nlu_heldout.yml, the independent one tests/nlu_heldout_independent.yml
(written from the intent definitions alone) and the out-of-domain texts
tests/nlu_out_of_domain.yml (requests not meant for a practice, scored by how
often they would act: booking-changing intents, emergencies with and without
the keyword net, opt-outs);
and it reports each system on the Spanish held-out set tests/nlu_heldout_es.yml (written by
someone who never read data/nlu/es; per intent figures only, never its texts):

* ``project``  - config.yml, what patients are served by;
* ``default``  - configs/default.yml, Rasa's default pipeline (`rasa init`);
* ``tfidf_lr`` - a TF-IDF (word + char n-grams) + logistic-regression baseline;
* any ``--extra CONFIG`` (e.g. configs/previous_blend.yml).

Rasa's own ``rasa test nlu --cross-validation`` draws unseeded folds, so the
folds are drawn here (seeded) and each Rasa fold model is trained and parsed
in-process; Rasa's evaluate_intents then writes the usual files per system
under ``reports/<system>/{cv,heldout,independent}/``: intent_report.json,
intent_errors.json, intent_confusion_matrix.png, intent_histogram.png.

A prediction of ``nlu_fallback`` counts as wrong: that is what the patient
gets. Trained models are cached in reports/.cache keyed by config and training
data (predictions also by the safety net, which acts at parse time), so a re-run
after changing one config retrains only that config. Training times printed
here may be short because Rasa's own .rasa/cache reuses components;
bench/bench_nlu.py times a cold training. Rasa's default pipeline (two
transformer layers, 100 epochs) is by far the slowest to train: --no-default.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import statistics
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from bot.settings import ROOT

NLU_DATA = ROOT / "data" / "nlu"
HELDOUT = ROOT / "tests" / "nlu_heldout.yml"
INDEPENDENT = ROOT / "tests" / "nlu_heldout_independent.yml"
OUT_OF_DOMAIN = ROOT / "tests" / "nlu_out_of_domain.yml"
HELDOUT_ES = ROOT / "tests" / "nlu_heldout_es.yml"
REPORTS = ROOT / "reports"
CACHE = REPORTS / ".cache"
PROJECT_CONFIG = ROOT / "config.yml"
DEFAULT_CONFIG = ROOT / "configs" / "default.yml"
CLASSIFIER_INTENT = "classifier_intent"  # nlu.emergency_override.CLASSIFIER_INTENT_KEY
SAFETY_SOURCES = (ROOT / "bot" / "language" / "safety.py", ROOT / "nlu" / "emergency_override.py")
EMERGENCY = "emergency"
FALLBACK = "nlu_fallback"
OPT_OUT = "opt_out"
OUT_OF_SCOPE = "out_of_scope"
BOOKING_CHANGING = ("confirm_appointment", "cancel_appointment", "reschedule_appointment", "book_appointment")
# The out-of-domain goals (issue 14): the most of those texts that may act so.
OOD_GOALS = {"booking_changing": 0.03, "classifier_emergency": 0.005, "opt_out": 0.001}
SEED = 42

Example = tuple[str, str]  # (text, intent)
Prediction = tuple[str, float]  # (intent, confidence)


@dataclass
class RunResult:
    """Predictions for one test set, plus what training and parsing cost."""

    predictions: list[Prediction]
    train_seconds: float
    parse_ms: list[float] = field(default_factory=list)
    # The classifier's intent before the keyword safety net (EmergencyOverride) changed it;
    # the same as the prediction where the net did not fire or the system has no net.
    before_net: list[str] | None = None


@dataclass
class SystemResult:
    name: str
    cv: dict | None = None
    heldout: dict | None = None
    independent: dict | None = None
    out_of_domain: dict | None = None
    spanish: dict | None = None
    cv_by_language: dict | None = None  # {"en": {n, accuracy, emergency_recall}, "es": {...}}: CV split by language
    cv_train_seconds: float = 0.0
    full_train_seconds: float = 0.0
    parse_ms: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- data

def load_examples(path: Path) -> tuple[list[Example], object]:
    """(text, intent) pairs of a Rasa NLU file or folder, and the TrainingData itself."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = [(m.get("text"), m.get("intent")) for m in data.intent_examples]
    return examples, data


def load_out_of_domain(path: Path) -> list[tuple[str, str]]:
    """(text, category) of every text in an out-of-domain file: ``categories: {name: [text, ...]}``."""
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [(str(text), category) for category, texts in (document.get("categories") or {}).items()
            for text in texts or []]


def stratified_folds(examples: Sequence[Example], folds: int) -> list[tuple[list[int], list[int]]]:
    """Seeded stratified folds: every system is scored on exactly the same splits."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    labels = [intent for _, intent in examples]
    return [(list(train), list(test)) for train, test in splitter.split(list(range(len(examples))), labels)]


def _subset_yaml(data, indices: Sequence[int]) -> str:
    """The NLU YAML of some intent examples, keeping synonyms, regexes and lookup tables."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = data.intent_examples
    subset = TrainingData(
        training_examples=[examples[i] for i in indices],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
    )
    return subset.nlu_as_yaml()


# --------------------------------------------------------------------------- systems

def _cache_key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def train_rasa_nlu(config: Path, training_yaml: str, out_dir: Path) -> tuple[Path, float]:
    """Train an NLU-only Rasa model in-process; returns (model path, seconds)."""
    from rasa.model_training import train_nlu

    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = out_dir / "nlu.yml"
    data_file.write_text(training_yaml)
    started = time.perf_counter()
    model = train_nlu(str(config), str(data_file), str(out_dir), fixed_model_name="nlu")
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError(f"rasa train nlu produced no model for {config}")
    return Path(model), seconds


async def _parse_all(model: Path, texts: Sequence[str],
                     warmup: int) -> tuple[list[Prediction], list[float], list[str]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    for text in texts[:warmup]:  # the first calls build TensorFlow's graphs: not a patient's wait
        await agent.parse_message(text)
    predictions, timings, before_net = [], [], []
    for text in texts:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        timings.append((time.perf_counter() - started) * 1000)
        intent = parsed.get("intent") or {}
        predictions.append((intent.get("name") or "", float(intent.get("confidence") or 0.0)))
        before_net.append((parsed.get(CLASSIFIER_INTENT) or intent).get("name") or "")
    return predictions, timings, before_net


def parse_with_model(model: Path, texts: Sequence[str],
                     warmup: int = 3) -> tuple[list[Prediction], list[float], list[str]]:
    """Parse each text with a trained model: predictions, per-message milliseconds, and the
    classifier's intent before the safety net (EmergencyOverride's ``classifier_intent``)."""
    return asyncio.run(_parse_all(model, texts, warmup))


def rasa_runner(config: Path, cache: Path = CACHE) -> Callable[[str, Sequence[str], str], RunResult]:
    """A runner that trains `config` on some YAML and predicts some texts (cached with its model)."""
    config_text = config.read_text()
    safety = "".join(p.read_text() for p in SAFETY_SOURCES)

    def run(training_yaml: str, texts: Sequence[str], label: str) -> RunResult:
        model_key = _cache_key(config_text, training_yaml)  # the safety net acts at parse time only
        key = _cache_key(model_key, safety, "\n".join(texts))
        cached = cache / f"{key}.json"
        stored = json.loads(cached.read_text()) if cached.exists() else {}
        if "before_net" in stored:
            return RunResult([tuple(p) for p in stored["predictions"]], stored["train_seconds"],
                             stored.get("parse_ms", []), stored["before_net"])
        model = cache / f"{model_key}.tar.gz"
        seconds_file = cache / f"{model_key}.seconds"
        if model.exists() and seconds_file.exists():
            seconds = float(seconds_file.read_text())
        else:
            print(f"  training {config.name} ({label}) ...", flush=True)
            with tempfile.TemporaryDirectory(prefix="nlu-eval-") as tmp:
                trained, seconds = train_rasa_nlu(config, training_yaml, Path(tmp))
                cache.mkdir(parents=True, exist_ok=True)
                trained.replace(model)
            seconds_file.write_text(str(seconds))
        predictions, timings, before_net = parse_with_model(model, texts)
        result = RunResult(predictions, seconds, timings, before_net)
        cached.write_text(json.dumps({"predictions": predictions, "train_seconds": seconds,
                                      "parse_ms": timings, "before_net": before_net}))
        return result

    return run


def tfidf_lr_runner() -> Callable[[Sequence[Example], Sequence[str]], RunResult]:
    """TF-IDF over word 1-2-grams and char_wb 2-5-grams, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    def run(train: Sequence[Example], texts: Sequence[str]) -> RunResult:
        model = make_pipeline(
            FeatureUnion([
                ("words", TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True)),
                ("chars", TfidfVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(2, 5),
                                          sublinear_tf=True)),
            ]),
            LogisticRegression(C=10.0, max_iter=3000),
        )
        started = time.perf_counter()
        model.fit([t for t, _ in train], [i for _, i in train])
        seconds = time.perf_counter() - started
        probabilities = model.predict_proba(list(texts))
        classes = model.classes_
        predictions = [(str(classes[row.argmax()]), float(row.max())) for row in probabilities]
        return RunResult(predictions, seconds, before_net=[intent for intent, _ in predictions])

    return run


# --------------------------------------------------------------------------- scoring

def brief_figures(examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict:
    """Accuracy and emergency recall of some predictions (a part of a scored set: no reports written)."""
    emergencies = [p for (_, g), (p, _) in zip(examples, predictions) if g == EMERGENCY]
    return {"n": len(examples),
            "accuracy": sum(g == p for (_, g), (p, _) in zip(examples, predictions)) / len(examples) if examples else None,
            "emergency_recall": sum(p == EMERGENCY for p in emergencies) / len(emergencies) if emergencies else None}


def score(examples: Sequence[Example], predictions: Sequence[Prediction], out_dir: Path,
          plots: bool = True) -> dict:
    """Rasa's intent evaluation (report, errors, confusion matrix PNG) plus our summary figures."""
    from rasa.nlu.test import IntentEvaluationResult, evaluate_intents
    from sklearn.metrics import f1_score

    out_dir.mkdir(parents=True, exist_ok=True)
    results = [IntentEvaluationResult(intent, predicted, text, confidence)
               for (text, intent), (predicted, confidence) in zip(examples, predictions)]
    evaluation = evaluate_intents(results, str(out_dir), successes=False, errors=True,
                                  disable_plotting=not plots, report_as_dict=True)
    gold = [intent for _, intent in examples]
    predicted = [p for p, _ in predictions]
    labels = sorted(set(gold))
    emergencies = [p for g, p in zip(gold, predicted) if g == EMERGENCY]
    per_intent = dict(zip(labels, f1_score(gold, predicted, labels=labels, average=None, zero_division=0)))
    return {
        "n": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
        "macro_f1": f1_score(gold, predicted, labels=labels, average="macro", zero_division=0),
        "weighted_f1": f1_score(gold, predicted, labels=labels, average="weighted", zero_division=0),
        "fallback_rate": sum(p == FALLBACK for p in predicted) / len(predicted),
        "emergency_recall": (sum(p == EMERGENCY for p in emergencies) / len(emergencies)) if emergencies else None,
        "emergency_missed": [t for (t, g), (p, _) in zip(examples, predictions) if g == EMERGENCY and p != EMERGENCY],
        "per_intent_f1": per_intent,
        "errors": evaluation["errors"],
    }


def evaluate_system(name: str, examples: list[Example], data, heldout: list[Example],
                    folds: list[tuple[list[int], list[int]]], rasa_config: Path | None,
                    reports: Path = REPORTS, independent: Sequence[Example] = (),
                    out_of_domain: Sequence[tuple[str, str]] = (), plots: bool = True,
                    spanish_examples: frozenset[str] = frozenset()) -> SystemResult:
    """Cross-validate one system on `folds`, then train on all of data/nlu and test it on the
    held-out set, the independent held-out set and the out-of-domain texts (one parse of all three)."""
    cv_predictions: list[Prediction | None] = [None] * len(examples) if folds else []
    run_rasa = rasa_runner(rasa_config, reports / ".cache") if rasa_config else None
    run_tfidf = None if rasa_config else tfidf_lr_runner()
    cv_train_seconds = 0.0
    for number, (train, test) in enumerate(folds, 1):
        texts = [examples[i][0] for i in test]
        if run_rasa:
            run = run_rasa(_subset_yaml(data, train), texts, f"fold {number}/{len(folds)}")
        else:
            run = run_tfidf([examples[i] for i in train], texts)
        cv_train_seconds += run.train_seconds
        for position, i in enumerate(test):
            cv_predictions[i] = run.predictions[position]

    texts = [t for t, _ in heldout] + [t for t, _ in independent] + [t for t, _ in out_of_domain]
    if run_rasa:
        run = run_rasa(_subset_yaml(data, range(len(examples))), texts, "all data -> held-out")
    else:
        run = run_tfidf(examples, texts)
    first, second = len(heldout), len(heldout) + len(independent)
    result = scored_system(name, examples, heldout, cv_predictions, run.predictions[:first], reports, plots)
    if independent:
        result.independent = score_heldout(examples, independent, run.predictions[first:second],
                                           reports / name / "independent", plots)
    if out_of_domain:
        result.out_of_domain = score_out_of_domain(out_of_domain, run.predictions[second:],
                                                   (run.before_net or [p for p, _ in run.predictions])[second:])
    (reports / name / "summary.json").write_text(json.dumps(
        {which: _public(getattr(result, which) or {}) for which in ("cv", "heldout", "independent", "out_of_domain")
         if getattr(result, which) is not None}, indent=1))
    if cv_predictions and spanish_examples:
        spanish_at = [_normalised(t) in spanish_examples for t, _ in examples]
        result.cv_by_language = {
            language: brief_figures([e for e, s in zip(examples, spanish_at) if s == wanted],
                                    [p for p, s in zip(cv_predictions, spanish_at) if s == wanted])
            for language, wanted in (("en", False), ("es", True))}
    result.cv_train_seconds, result.full_train_seconds, result.parse_ms = (
        cv_train_seconds, run.train_seconds, run.parse_ms[:first])
    return result


def score_spanish(result: SystemResult, examples: list[Example], data, spanish: list[Example],
                  rasa_config: Path | None, reports: Path = REPORTS, plots: bool = True) -> None:
    """Score the model trained on all of data/nlu (cached by evaluate_system) on the Spanish held-out set."""
    texts = [t for t, _ in spanish]
    if rasa_config:
        run = rasa_runner(rasa_config, reports / ".cache")(
            _subset_yaml(data, range(len(examples))), texts, "all data -> Spanish held-out")
    else:
        run = tfidf_lr_runner()(examples, texts)
    result.spanish = score(spanish, run.predictions, reports / result.name / "heldout_es", plots)
    # Its texts are not for trainers' eyes (they would write training data from them): figures only.
    result.spanish["errors"] = []
    (reports / result.name / "heldout_es" / "intent_errors.json").unlink(missing_ok=True)


def scored_system(name: str, examples: list[Example], heldout: list[Example],
                  cv_predictions: Sequence[Prediction], heldout_predictions: Sequence[Prediction],
                  reports: Path = REPORTS, plots: bool = True) -> SystemResult:
    """Score cross-validated and held-out predictions; writes reports/<name>/."""
    result = SystemResult(name)
    result.cv = score(examples, cv_predictions, reports / name / "cv", plots) if cv_predictions else None
    result.heldout = score_heldout(examples, heldout, heldout_predictions, reports / name / "heldout", plots)
    (reports / name / "summary.json").write_text(json.dumps(
        {"cv": result.cv and _public(result.cv), "heldout": _public(result.heldout)}, indent=1))
    return result


def score_heldout(examples: Sequence[Example], heldout: Sequence[Example], predictions: Sequence[Prediction],
                  out_dir: Path, plots: bool = True) -> dict:
    """`score`, plus accuracy on the texts not also in the training data and on the intents it knows.

    A held-out set may name intents the training data does not have yet (written for intents
    still to come); those texts count as wrong in the accuracy, and ``known_accuracy`` leaves them out.
    """
    figures = score(heldout, predictions, out_dir, plots)
    seen = {_normalised(t) for t, _ in examples}
    unseen = [(g, p) for (t, g), (p, _) in zip(heldout, predictions) if _normalised(t) not in seen]
    figures["unseen_n"] = len(unseen)
    figures["unseen_accuracy"] = sum(g == p for g, p in unseen) / len(unseen) if unseen else None
    trained = {intent for _, intent in examples}
    known = [(g, p) for (_, g), (p, _) in zip(heldout, predictions) if g in trained]
    figures["unknown_intents"] = sorted({g for _, g in heldout} - trained)
    figures["known_n"] = len(known)
    figures["known_accuracy"] = sum(g == p for g, p in known) / len(known) if known else None
    return figures


def score_out_of_domain(texts: Sequence[tuple[str, str]], predictions: Sequence[Prediction],
                        before_net: Sequence[str]) -> dict:
    """How often texts not meant for a practice would act, overall and per category.

    ``classifier_emergency`` counts the classifier's own emergencies (before the keyword net);
    ``emergency_with_net`` adds the texts the net (bot.language.safety) matches, for every
    system alike, so a system without the net is shown as it would be with it.
    """
    from bot.language.safety import emergency_reason

    rows = []
    for (text, category), (predicted, _), classifier in zip(texts, predictions, before_net):
        net = emergency_reason(text) is not None
        rows.append({
            "category": category,
            "booking_changing": predicted in BOOKING_CHANGING,
            "classifier_emergency": classifier == EMERGENCY,
            "emergency_with_net": predicted == EMERGENCY or net,
            "net_emergency": net,
            "opt_out": predicted == OPT_OUT,
            "out_of_scope_or_fallback": predicted in (OUT_OF_SCOPE, FALLBACK),
        })
    measures = [k for k in rows[0] if k != "category"] if rows else []

    def rates(selected: list[dict]) -> dict:
        return {"n": len(selected), **{m: sum(r[m] for r in selected) / len(selected) for m in measures}}

    figures = rates(rows)
    figures["by_category"] = {c: rates([r for r in rows if r["category"] == c])
                              for c in dict.fromkeys(r["category"] for r in rows)}
    figures["acted_on"] = Counter(p for p, _ in predictions
                                  if p not in (OUT_OF_SCOPE, FALLBACK)).most_common()
    return figures


def _normalised(text: str) -> str:
    """Case- and space-insensitive form, to spot held-out texts that also occur in training data."""
    return " ".join(text.lower().split())


def _public(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "errors"}


# --------------------------------------------------------------------------- printing

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:6.1f}"


def comparison_table(systems: Sequence[SystemResult], folds: int) -> str:
    """One Markdown table: cross-validated and held-out figures per system (percent)."""
    lines = [
        "| system | CV acc | CV fallback | CV wrong intent | CV macro F1 | CV weighted F1 | CV emergency recall "
        "| held-out acc | held-out acc, unseen texts | held-out fallback | held-out macro F1 "
        "| held-out emergency recall |",
        "|---|" + "---:|" * 11,
    ]
    no_cv = {"accuracy": None, "fallback_rate": None, "macro_f1": None, "weighted_f1": None,
             "emergency_recall": None, "n": 0}
    for s in systems:
        cv = s.cv or no_cv
        wrong = None if s.cv is None else 1 - cv["accuracy"] - cv["fallback_rate"]
        lines.append(
            f"| {s.name} | {_pct(cv['accuracy'])} | {_pct(cv['fallback_rate'])} "
            f"| {_pct(wrong)} | {_pct(cv['macro_f1'])} "
            f"| {_pct(cv['weighted_f1'])} "
            f"| {_pct(cv['emergency_recall'])} | {_pct(s.heldout['accuracy'])} | {_pct(s.heldout['unseen_accuracy'])} "
            f"| {_pct(s.heldout['fallback_rate'])} | {_pct(s.heldout['macro_f1'])} "
            f"| {_pct(s.heldout['emergency_recall'])} |")
    n_cv, n_held = (systems[0].cv or no_cv)["n"], systems[0].heldout["n"]
    cv_said = f"{folds}-fold CV over {n_cv} examples of data/nlu (seed {SEED})" if folds else "no CV (--folds 0)"
    lines.append(f"\n{cv_said}; "
                 f"held-out: {n_held} texts of tests/nlu_heldout.yml, "
                 f"{systems[0].heldout['unseen_n']} of them not (case/space-insensitively) in data/nlu.\n"
                 "A fallback (nlu_fallback: the patient is asked again or handed to staff) counts as wrong;\n"
                 "'wrong intent' is the rest of the errors: texts the assistant would act on as something else.")
    return "\n".join(lines)


HEADLINE_FIGURES = (("cv", "accuracy", "CV accuracy"), ("cv", "macro_f1", "CV macro F1"),
                    ("cv", "emergency_recall", "CV emergency recall"),
                    ("heldout", "accuracy", "held-out accuracy"), ("heldout", "macro_f1", "held-out macro F1"),
                    ("heldout", "emergency_recall", "held-out emergency recall"),
                    ("independent", "accuracy", "independent accuracy"),
                    ("independent", "known_accuracy", "independent accuracy, known intents"),
                    ("independent", "emergency_recall", "independent emergency recall"))


def standings(systems: Sequence[SystemResult]) -> str:
    """Each headline figure with the systems ranked, then where the first system leads or trails.

    The table answers "which pipeline should patients get?"; this says it in words,
    so that a trainer sees at once whether a change put the project behind a baseline.
    """
    lines, ahead, level, behind = [], [], [], []
    project, others = systems[0], systems[1:]
    for which, key, label in HEADLINE_FIGURES:
        if any(getattr(s, which) is None for s in systems):
            continue
        values = [(s.name, getattr(s, which)[key]) for s in systems if getattr(s, which)[key] is not None]
        ranked = sorted(values, key=lambda item: item[1], reverse=True)
        shown = f"{ranked[0][0]} {ranked[0][1] * 100:.1f}" if ranked else "n/a"
        for (_, before), (name, value) in zip(ranked, ranked[1:]):
            shown += f" {'=' if value == before else '>'} {name} {value * 100:.1f}"
        lines.append(f"{label}: {shown}")
        mine = getattr(project, which)[key]
        theirs = [getattr(s, which)[key] for s in others if getattr(s, which)[key] is not None]
        if mine is None or not theirs:
            continue
        if mine > max(theirs):
            ahead.append(label)
        elif mine < max(theirs):
            behind.append(label)
        else:
            level.append(label)
    if others:
        names = ", ".join(s.name for s in others)
        lines.append(f"\n{project.name} is ahead of {names} on: {', '.join(ahead) or 'nothing'}; "
                     f"level on: {', '.join(level) or 'nothing'}; behind on: {', '.join(behind) or 'nothing'}.")
    return "\n".join(lines)


def independent_table(systems: Sequence[SystemResult]) -> str:
    """The independent held-out set per system (percent), and the intents it names that data/nlu lacks."""
    lines = ["| system | accuracy | accuracy, known intents | accuracy, unseen texts | fallback | wrong intent "
             "| macro F1 | emergency recall |", "|---|" + "---:|" * 7]
    for s in systems:
        f = s.independent
        lines.append(f"| {s.name} | {_pct(f['accuracy'])} | {_pct(f['known_accuracy'])} | {_pct(f['unseen_accuracy'])} "
                     f"| {_pct(f['fallback_rate'])} "
                     f"| {_pct(1 - f['accuracy'] - f['fallback_rate'])} | {_pct(f['macro_f1'])} "
                     f"| {_pct(f['emergency_recall'])} |")
    first = systems[0].independent
    lines.append(f"\n{first['n']} texts of tests/nlu_heldout_independent.yml, written from the intent definitions "
                 f"alone (never trained on, never copied from); {first['n'] - first['unseen_n']} of them happen to "
                 "be (case/space-insensitively) in data/nlu too, short ones mostly, left out of 'unseen texts'.")
    if first["unknown_intents"]:
        lines.append(f"{first['n'] - first['known_n']} of them are of intents data/nlu does not have yet "
                     f"({', '.join(first['unknown_intents'])}): wrong in 'accuracy', left out of 'known intents'.")
    return "\n".join(lines)


OOD_COLUMNS = (("booking_changing", "booking-changing (confirm/cancel/reschedule/book)"),
               ("classifier_emergency", "emergency, classifier"),
               ("emergency_with_net", "emergency, with the keyword net"),
               ("opt_out", "opt-out"),
               ("out_of_scope_or_fallback", "out of scope or fallback"))


def _goal_cell(value: float, goal: float | None) -> str:
    """A rate beside its goal, in percent; two decimals where the goal is under 1 % (0.52 is not 0.5)."""
    if goal is None:
        return _pct(value).strip()
    places = 2 if goal < 0.01 else 1
    verdict = "met" if value <= goal else f"short by {(value - goal) * 100:.{places}f}"
    return f"{value * 100:.{places}f} (goal <= {goal * 100:g}: {verdict})"


def confusions(figures: dict, limit: int = 25) -> str:
    """Which intents were taken for which, with counts and no texts: the independent set is graded,
    never read to write training data (README "Teaching the assistant")."""
    counted = Counter((e["intent"], (e.get("intent_prediction") or {}).get("name")) for e in figures["errors"])
    return ", ".join(f"{gold} -> {predicted} x{n}" for (gold, predicted), n in counted.most_common(limit)) or "none"


def out_of_domain_table(systems: Sequence[SystemResult]) -> str:
    """How often the out-of-domain texts would act, per system, each rate beside its goal (percent)."""
    lines = ["| system | " + " | ".join(label for _, label in OOD_COLUMNS) + " |",
             "|---|" + "---:|" * len(OOD_COLUMNS)]
    for s in systems:
        cells = " | ".join(_goal_cell(s.out_of_domain[key], OOD_GOALS.get(key)) for key, _ in OOD_COLUMNS)
        lines.append(f"| {s.name} | {cells} |")
    first = systems[0].out_of_domain
    net = first["net_emergency"]
    lines.append(f"\n{first['n']} texts of tests/nlu_out_of_domain.yml, none meant for a practice. The keyword net "
                 f"alone matches {net * 100:.1f} % ({round(net * first['n'])}); the TF-IDF baseline has no net "
                 "of its own, its 'with the keyword net' column adds it.")
    return "\n".join(lines)


def out_of_domain_by_category(system: SystemResult) -> str:
    """One system's out-of-domain rates per category (percent), the worst for booking first."""
    by = system.out_of_domain["by_category"]
    lines = ["| category | n | " + " | ".join(label for _, label in OOD_COLUMNS) + " |",
             "|---|---:|" + "---:|" * len(OOD_COLUMNS)]
    for category in sorted(by, key=lambda c: by[c]["booking_changing"], reverse=True):
        cells = " | ".join(_pct(by[category][key]) for key, _ in OOD_COLUMNS)
        lines.append(f"| {category} | {by[category]['n']} | {cells} |")
    acted = ", ".join(f"{intent} {n}" for intent, n in system.out_of_domain["acted_on"])
    lines.append(f"\nTaken for: {acted or 'nothing'}.")
    return "\n".join(lines)


def per_intent_table(systems: Sequence[SystemResult], which: str) -> str:
    """F1 per intent (percent) for each system, weakest first by the first system."""
    first = getattr(systems[0], which)["per_intent_f1"]
    header = "| intent | " + " | ".join(s.name for s in systems) + " |"
    lines = [header, "|---|" + "---:|" * len(systems)]
    for intent in sorted(first, key=lambda i: first[i]):
        cells = " | ".join(_pct(getattr(s, which)["per_intent_f1"].get(intent)) for s in systems)
        lines.append(f"| {intent} | {cells} |")
    return "\n".join(lines)


def languages_table(systems: Sequence[SystemResult]) -> str:
    """English and Spanish side by side (percent): CV split by the language of each training text, the
    English and the Spanish held-out sets, and emergency recall on each."""
    lines = ["| system | CV acc, English | CV acc, Spanish | held-out acc, English | held-out acc, Spanish "
             "| emergency recall held-out, English | emergency recall held-out, Spanish |", "|---|" + "---:|" * 6]
    for s in systems:
        by = s.cv_by_language or {"en": {"accuracy": None}, "es": {"accuracy": None}}
        lines.append(f"| {s.name} | {_pct(by['en']['accuracy'])} | {_pct(by['es']['accuracy'])} "
                     f"| {_pct(s.heldout['accuracy'])} | {_pct(s.spanish['accuracy'])} "
                     f"| {_pct(s.heldout['emergency_recall'])} | {_pct(s.spanish['emergency_recall'])} |")
    by = systems[0].cv_by_language
    said = (f"CV: {by['en']['n']} English and {by['es']['n']} Spanish training texts (data/nlu/es is Spanish)"
            if by else "CV split by language: n/a (no CV, or no data/nlu/es folder)")
    lines.append(f"\n{said}; held-out: tests/nlu_heldout.yml and tests/nlu_heldout_es.yml.")
    return "\n".join(lines)


def spanish_table(systems: Sequence[SystemResult]) -> str:
    """Accuracy, fallback, macro F1 and emergency recall (percent) on the Spanish held-out set."""
    lines = ["| system | Spanish held-out acc | fallback | macro F1 | emergency recall |", "|---|" + "---:|" * 4]
    for s in systems:
        lines.append(f"| {s.name} | {_pct(s.spanish['accuracy'])} | {_pct(s.spanish['fallback_rate'])} "
                     f"| {_pct(s.spanish['macro_f1'])} | {_pct(s.spanish['emergency_recall'])} |")
    lines.append(f"\n{systems[0].spanish['n']} texts of tests/nlu_heldout_es.yml; every system trained on all of "
                 "data/nlu (English and data/nlu/es).")
    return "\n".join(lines)


def top_errors(errors: Sequence[dict], limit: int = 20) -> str:
    """The most confident mistakes first (those are the ones to fix in the data), fallbacks last."""
    def confidence(error: dict) -> float:
        predicted = error.get("intent_prediction", {})
        return -1.0 if predicted.get("name") == "nlu_fallback" else (predicted.get("confidence") or 0.0)

    ordered = sorted(errors, key=confidence, reverse=True)
    lines = []
    for error in ordered[:limit]:
        predicted = error.get("intent_prediction", {})
        lines.append(f"  {error['intent']:>22} -> {predicted.get('name')!s:<22} "
                     f"{predicted.get('confidence') or 0:4.2f}  {error['text']!r}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=3,
                        help="cross-validation folds (default 3; 0: none, one training per system)")
    parser.add_argument("--quick", action="store_true", help="config.yml only, no baselines")
    parser.add_argument("--no-default", action="store_true",
                        help="skip Rasa's default pipeline (2 transformer layers: its trainings are the slow ones)")
    parser.add_argument("--config", default=str(PROJECT_CONFIG), help="the project's config (default config.yml)")
    parser.add_argument("--nlu", default=str(NLU_DATA), help="training data (default data/nlu)")
    parser.add_argument("--heldout", default=str(HELDOUT), help="held-out texts (default tests/nlu_heldout.yml)")
    parser.add_argument("--independent", default=str(INDEPENDENT),
                        help="the independent held-out texts (default tests/nlu_heldout_independent.yml; '' skips)")
    parser.add_argument("--out-of-domain", default=str(OUT_OF_DOMAIN),
                        help="texts not meant for a practice (default tests/nlu_out_of_domain.yml; '' skips)")
    parser.add_argument("--heldout-es", default=str(HELDOUT_ES),
                        help="Spanish held-out texts (default tests/nlu_heldout_es.yml; '' to skip)")
    parser.add_argument("--reports", default=str(REPORTS), help="where reports and cached models go (default reports/)")
    parser.add_argument("--no-plots", action="store_true",
                        help="skip Rasa's confusion-matrix and confidence PNGs (the figures and JSON reports stay)")
    parser.add_argument("--extra", action="append", default=[], metavar="CONFIG",
                        help="another Rasa config to compare (repeatable), e.g. configs/previous_blend.yml")
    args = parser.parse_args(argv)
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.simplefilter("ignore", category)  # TensorFlow's, matplotlib's and Rasa's, not ours

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else every parsed text is printed at debug level

    examples, data = load_examples(Path(args.nlu))
    heldout, _ = load_examples(Path(args.heldout))
    independent = load_examples(Path(args.independent))[0] if args.independent else []
    out_of_domain = load_out_of_domain(Path(args.out_of_domain)) if args.out_of_domain else []
    spanish = load_examples(Path(args.heldout_es))[0] if args.heldout_es else []
    folds = stratified_folds(examples, args.folds) if args.folds else []
    spanish_folder = Path(args.nlu) / "es"
    spanish_training = frozenset(_normalised(t) for t, _ in load_examples(spanish_folder)[0]) if (
        spanish_folder.is_dir()) else frozenset()
    overlap = {_normalised(t) for t, _ in examples} & {_normalised(t) for t, _ in heldout}
    if overlap:
        longest = sorted(overlap, key=len, reverse=True)[:5]
        print(f"NOTE: {len(overlap)} held-out texts also occur in data/nlu (longest: {longest}); "
              "the table shows held-out accuracy on the unseen ones too.")

    plan: list[tuple[str, Path | None]] = [("project", Path(args.config))]
    if not args.quick and not args.no_default:
        plan.append(("default", DEFAULT_CONFIG))
    if not args.quick:
        plan.append(("tfidf_lr", None))
    plan += [(Path(extra).stem, ROOT / extra if not Path(extra).is_absolute() else Path(extra))
             for extra in args.extra]

    systems = []
    for name, config in plan:
        print(f"{name}: {args.folds}-fold cross-validation and held-out test", flush=True)
        systems.append(evaluate_system(name, examples, data, heldout, folds, config, Path(args.reports),
                                       independent, out_of_domain, plots=not args.no_plots,
                                       spanish_examples=spanish_training))
        if spanish:
            score_spanish(systems[-1], examples, data, spanish, config, Path(args.reports), plots=not args.no_plots)

    project = systems[0]
    print("\n## Intent classification (percent)\n")
    print(comparison_table(systems, args.folds))
    print("\n" + standings(systems))
    if folds:
        print("\n## F1 per intent, cross-validated (weakest first)\n")
        print(per_intent_table(systems, "cv"))
    print("\n## F1 per intent, held-out\n")
    print(per_intent_table(systems, "heldout"))
    if independent:
        print("\n## The independent held-out set (percent)\n")
        print(independent_table(systems))
        print("\n## F1 per intent, independent held-out set\n")
        print(per_intent_table(systems, "independent"))
        print(f"\n{project.name}'s confusions on it (gold -> predicted): {confusions(project.independent)}")
    if out_of_domain:
        print("\n## Out of domain: how often a text not meant for a practice would act (percent)\n")
        print(out_of_domain_table(systems))
        print(f"\n### {project.name}, per category\n")
        print(out_of_domain_by_category(project))

    if spanish:
        print("\n## English and Spanish side by side (percent)\n")
        print(languages_table(systems))
        print("\n## Spanish held-out set (percent)\n")
        print(spanish_table(systems))
        print("\n## F1 per intent, Spanish held-out\n")
        print(per_intent_table(systems, "spanish"))

    print("\n## project: training and parsing on this machine\n")
    print(f"{args.folds} fold trainings: {project.cv_train_seconds:.1f} s; training on all of data/nlu: "
          f"{project.full_train_seconds:.1f} s (less when Rasa's .rasa/cache already holds the components; "
          "bench/bench_nlu.py times a cold training)")
    if project.parse_ms:
        print(f"parse latency per message over {len(project.parse_ms)} held-out texts: "
              f"median {statistics.median(project.parse_ms):.1f} ms, p95 {percentile(project.parse_ms, 95):.1f} ms")
    for which in ("cv", "heldout", "independent"):
        if getattr(project, which) is None:
            continue
        missed = getattr(project, which)["emergency_missed"]
        if missed and which == "independent":  # its texts stay unread by trainers: the count only
            print(f"EMERGENCIES MISSED (independent): {len(missed)} (texts in reports/{project.name}/independent/)")
        elif missed:
            print(f"EMERGENCIES MISSED ({which}): {missed}")
    if spanish and project.spanish["emergency_missed"]:
        print(f"EMERGENCIES MISSED (Spanish held-out): {len(project.spanish['emergency_missed'])} (texts not shown)")

    if folds:
        errors = project.cv["errors"]
        print(f"\n## project: top {min(20, len(errors))} of {len(errors)} cross-validation errors "
              f"(gold -> predicted, confidence)\n")
        print(top_errors(errors))
    print(f"\nReports: {args.reports}/<system>/cv|heldout/ "
          "(intent_report.json, intent_errors.json, intent_confusion_matrix.png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
