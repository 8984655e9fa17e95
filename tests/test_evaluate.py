"""`make evaluate` (tools/evaluate.py): scoring, folds, the side-by-side table, and a whole small run.

The whole run trains a real (tiny, fast) Rasa pipeline in-process on a small
data set, so the trainers' report is proven end to end without the hour
that Rasa's default pipeline needs on the real data.
"""
from __future__ import annotations

import json

import pytest

from tools import evaluate
from tools.evaluate import (
    SystemResult,
    comparison_table,
    confusions,
    out_of_domain_table,
    score,
    score_heldout,
    score_out_of_domain,
    standings,
    stratified_folds,
    tfidf_lr_runner,
)

EXAMPLES = {
    "billing_question": ["question about my bill", "why was i charged twice", "do you take my insurance",
                         "how much is a copay", "can i set up a payment plan", "my bill is wrong",
                         "is my insurance accepted", "what do i owe"],
    "office_info": ["what are your hours", "where are you located", "is there parking",
                    "are you open saturday", "whats your fax number", "when do you close today",
                    "what is your address", "are you open on sundays"],
    "emergency": ["my chest hurts really bad", "i can't breathe", "face drooping and slurred speech",
                  "bleeding won't stop", "took too many pills", "severe chest pressure right now",
                  "my son is not breathing", "i want to end my life"],
}
HELDOUT = {
    "billing_question": ["how much do i owe you", "do you take aetna insurance"],
    "office_info": ["what time do you open tomorrow", "where do i park"],
    "emergency": ["crushing chest pain", "cant breath at all"],
}
HELDOUT_ES = {
    "billing_question": ["cuanto debo de la cuenta"],
    "office_info": ["a que hora abren mañana"],
    "emergency": ["me duele el pecho horrible", "i can't breathe, no puedo respirar"],
}


INDEPENDENT = {
    "billing_question": ["is a payment plan possible", "what is this charge"],
    "emergency": ["crushing chest pain", "cant breath at all"],
    "running_late": ["stuck in traffic, 10 min late"],  # an intent the training data does not have
}
OUT_OF_DOMAIN = {"bank": ["move 200 dollars to savings", "what is my balance"],
                 "speaker": ["turn the volume down", "play some jazz"]}


def _ood_yaml(categories: dict[str, list[str]]) -> str:
    return 'version: "3.1"\ncategories:\n' + "".join(
        f"  {name}:\n" + "".join(f"    - {text}\n" for text in texts) for name, texts in categories.items())


def _nlu_yaml(examples: dict[str, list[str]]) -> str:
    blocks = ['version: "3.1"', "nlu:"]
    for intent, texts in examples.items():
        blocks.append(f"- intent: {intent}\n  examples: |")
        blocks.extend(f"    - {text}" for text in texts)
    return "\n".join(blocks) + "\n"


def _examples() -> list[tuple[str, str]]:
    return [(text, intent) for intent, texts in EXAMPLES.items() for text in texts]


def test_folds_are_seeded_stratified_disjoint_and_cover_every_example():
    examples = _examples()
    folds = stratified_folds(examples, 2)
    assert folds == stratified_folds(examples, 2)  # same folds for every system, every run
    tested = sorted(i for _, test in folds for i in test)
    assert tested == list(range(len(examples)))
    for train, test in folds:
        assert not set(train) & set(test)
        assert {examples[i][1] for i in test} == set(EXAMPLES)  # every intent in every fold


def test_score_counts_a_fallback_as_wrong_and_reports_emergency_recall(tmp_path):
    examples = [("my bill", "billing_question"), ("hours?", "office_info"),
                ("chest pain", "emergency"), ("cant breathe", "emergency")]
    predictions = [("billing_question", 0.9), ("nlu_fallback", 0.1), ("emergency", 1.0), ("office_info", 0.4)]
    figures = score(examples, predictions, tmp_path, plots=True)

    assert figures["accuracy"] == pytest.approx(0.5)
    assert figures["fallback_rate"] == pytest.approx(0.25)
    assert figures["emergency_recall"] == pytest.approx(0.5)
    assert figures["emergency_missed"] == ["cant breathe"]
    assert (tmp_path / "intent_confusion_matrix.png").stat().st_size > 0
    errors = json.loads((tmp_path / "intent_errors.json").read_text())
    assert {e["text"] for e in errors} == {"hours?", "cant breathe"}


def test_out_of_domain_rates_count_what_would_act_and_the_net_apart_from_the_classifier():
    texts = [("move my dinner to 8", "restaurant"), ("stop the music", "speaker"),
             ("my phone is dying", "phone"), ("what's 2+2", "maths"),
             ("my chest hurts, says the movie", "trivia")]
    predictions = [("reschedule_appointment", 0.6), ("opt_out", 0.7), ("emergency", 0.4),
                   ("nlu_fallback", 0.1), ("emergency", 1.0)]
    before_net = ["reschedule_appointment", "opt_out", "emergency", "nlu_fallback", "out_of_scope"]
    figures = score_out_of_domain(texts, predictions, before_net)

    assert figures["n"] == 5
    assert figures["booking_changing"] == pytest.approx(0.2)
    assert figures["opt_out"] == pytest.approx(0.2)
    assert figures["classifier_emergency"] == pytest.approx(0.2)  # the net's "chest hurts" is not the classifier's
    assert figures["net_emergency"] == pytest.approx(0.2)
    assert figures["emergency_with_net"] == pytest.approx(0.4)
    assert figures["out_of_scope_or_fallback"] == pytest.approx(0.2)
    assert figures["by_category"]["restaurant"]["booking_changing"] == 1.0
    assert figures["by_category"]["maths"]["booking_changing"] == 0.0
    table = out_of_domain_table([SystemResult("project", out_of_domain=figures)])
    assert "| project | 20.0 (goal <= 3: short by 17.0) | 20.00 (goal <= 0.5: short by 19.50) |" in table
    near = score_out_of_domain(texts[:1] + [("what's 1+1", "maths")] * 199, predictions[3:4] * 199 + predictions[2:3],
                               ["nlu_fallback"] * 199 + ["emergency"])
    assert "0.50 (goal <= 0.5: met)" in out_of_domain_table([SystemResult("project", out_of_domain=near)])
    met = score_out_of_domain(texts[3:4], predictions[3:4], before_net[3:4])
    assert "| project | 0.0 (goal <= 3: met) | 0.00 (goal <= 0.5: met) |" in out_of_domain_table(
        [SystemResult("project", out_of_domain=met)])


def test_heldout_accuracy_is_also_given_on_the_intents_the_training_data_knows(tmp_path):
    heldout = [("my bill", "billing_question"), ("late, sorry", "running_late"), ("hours?", "office_info")]
    predictions = [("billing_question", 0.9), ("greet", 0.3), ("office_info", 0.8)]
    figures = score_heldout(_examples(), heldout, predictions, tmp_path)
    assert figures["accuracy"] == pytest.approx(2 / 3)
    assert figures["known_accuracy"] == 1.0 and figures["known_n"] == 2
    assert figures["unknown_intents"] == ["running_late"]


def test_confusions_of_a_graded_set_are_counted_without_its_texts():
    figures = {"errors": [{"text": "secret text one", "intent": "greet", "intent_prediction": {"name": "affirm"}},
                          {"text": "secret text two", "intent": "greet", "intent_prediction": {"name": "affirm"}},
                          {"text": "secret three", "intent": "deny", "intent_prediction": {"name": "nlu_fallback"}}]}
    said = confusions(figures)
    assert said == "greet -> affirm x2, deny -> nlu_fallback x1"
    assert "secret" not in said


def test_tfidf_baseline_learns_its_training_data():
    run = tfidf_lr_runner()(_examples(), ["why was i charged twice", "what are your hours"])
    assert [intent for intent, _ in run.predictions] == ["billing_question", "office_info"]


def _system(name: str, cv_acc: float, held_acc: float, recall: float) -> SystemResult:
    figures = {"accuracy": cv_acc, "fallback_rate": 0.0, "macro_f1": cv_acc, "weighted_f1": cv_acc,
               "emergency_recall": recall, "n": 100}
    held = {**figures, "accuracy": held_acc, "macro_f1": held_acc, "unseen_accuracy": held_acc, "unseen_n": 40}
    return SystemResult(name, cv=figures, heldout=held)


def test_standings_say_where_the_project_leads_is_level_and_trails():
    systems = [_system("project", 0.80, 0.95, 1.0), _system("tfidf_lr", 0.78, 0.96, 0.9),
               _system("default", 0.70, 0.90, 1.0)]
    text = standings(systems)
    assert "CV accuracy: project 80.0 > tfidf_lr 78.0 > default 70.0" in text
    assert "held-out accuracy: tfidf_lr 96.0 > project 95.0 > default 90.0" in text
    assert "CV emergency recall: project 100.0 = default 100.0 > tfidf_lr 90.0" in text
    verdict = text.splitlines()[-1]
    assert verdict.startswith("project is ahead of tfidf_lr, default on: CV accuracy, CV macro F1;")
    assert "level on: CV emergency recall, held-out emergency recall;" in verdict
    assert verdict.endswith("behind on: held-out accuracy, held-out macro F1.")
    table = comparison_table(systems, 3)
    assert table.count("\n| ") == 3 and "| project |   80.0 |" in table


def test_a_whole_run_prints_the_side_by_side_table_and_writes_the_reports(tmp_path, capsys):
    """Trains a tiny real Rasa pipeline per fold and on all data, and the TF-IDF baseline, then compares."""
    nlu, heldout = tmp_path / "nlu.yml", tmp_path / "heldout.yml"
    independent, ood = tmp_path / "independent.yml", tmp_path / "ood.yml"
    nlu.write_text(_nlu_yaml(EXAMPLES))
    heldout.write_text(_nlu_yaml(HELDOUT))
    independent.write_text(_nlu_yaml(INDEPENDENT))
    ood.write_text(_ood_yaml(OUT_OF_DOMAIN))
    heldout_es = tmp_path / "heldout_es.yml"
    heldout_es.write_text(_nlu_yaml(HELDOUT_ES))
    config = tmp_path / "config.yml"
    config.write_text("recipe: default.v1\nlanguage: en\nassistant_id: tiny\npipeline:\n"
                      "  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
                      "  - name: CountVectorsFeaturizer\n    analyzer: char_wb\n    min_ngram: 2\n    max_ngram: 4\n"
                      "  - name: LogisticRegressionClassifier\n"
                      "  - name: nlu.emergency_override.EmergencyOverride\n"
                      "policies: []\n")
    reports = tmp_path / "reports"

    assert evaluate.main(["--folds", "2", "--no-default", "--config", str(config), "--nlu", str(nlu),
                          "--heldout", str(heldout), "--independent", str(independent),
                          "--out-of-domain", str(ood), "--heldout-es", str(heldout_es),
                          "--reports", str(reports)]) == 0
    out = capsys.readouterr().out

    assert out.count("  training config.yml") == 3
    assert "| project |" in out and "| tfidf_lr |" in out
    assert "project is ahead of tfidf_lr on:" in out
    assert "held-out emergency recall: project 100.0" in out  # the safety net catches "cant breath"
    assert "independent emergency recall: project 100.0" in out
    assert "## The independent held-out set" in out and "(running_late)" in out
    assert "## Out of domain" in out and "booking-changing (confirm/cancel/reschedule/book)" in out
    assert out.count("(goal <= 0.1: ") == 2  # the opt-out goal, for the project and the baseline
    # The Spanish set is scored by the same models (no extra training), figures only, never its texts.
    both = out[out.index("## English and Spanish side by side"):out.index("## Spanish held-out set")]
    assert "| project |" in both and "| tfidf_lr |" in both and "CV split by language: n/a" in both  # one file
    spanish = out[out.index("## Spanish held-out set"):out.index("## F1 per intent, Spanish")]
    assert "| project |" in spanish and "| tfidf_lr |" in spanish and "4 texts of" in spanish
    assert "me duele el pecho" not in out
    assert not (reports / "project" / "heldout_es" / "intent_errors.json").exists()
    assert (reports / "project" / "heldout_es" / "intent_report.json").exists()
    for system in ("project", "tfidf_lr"):
        for which in ("cv", "heldout"):
            assert (reports / system / which / "intent_report.json").exists()
            assert (reports / system / which / "intent_confusion_matrix.png").stat().st_size > 0
        summary = json.loads((reports / system / "summary.json").read_text())
        assert summary["cv"]["n"] == 24 and summary["heldout"]["n"] == 6
        assert summary["independent"]["n"] == 5 and summary["independent"]["known_n"] == 4
        assert summary["out_of_domain"]["n"] == 4
    assert len(list((reports / ".cache").glob("*.tar.gz"))) == 3  # two folds and all the data

    # A second run retrains nothing: the cached models and predictions are reused.
    before = {p: p.stat().st_mtime for p in (reports / ".cache").glob("*.tar.gz")}
    assert evaluate.main(["--folds", "2", "--quick", "--no-plots", "--config", str(config), "--nlu", str(nlu),
                          "--heldout", str(heldout), "--heldout-es", str(heldout_es),
                          "--reports", str(reports)]) == 0
    assert "  training config.yml" not in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime for p in (reports / ".cache").glob("*.tar.gz")}

    # --folds 0: the held-out sets only, from the one model trained on all the data; --no-plots: no PNGs.
    for png in reports.rglob("*.png"):
        png.unlink()
    assert evaluate.main(["--folds", "0", "--no-default", "--no-plots", "--config", str(config), "--nlu", str(nlu),
                          "--heldout", str(heldout), "--independent", str(independent), "--out-of-domain", str(ood),
                          "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert not list(reports.rglob("*.png")) and (reports / "project" / "independent" / "intent_report.json").exists()
    assert "  training config.yml" not in out and "no CV (--folds 0)" in out
    assert "| project |    n/a |" in out and "## Out of domain" in out


SPANISH_EXAMPLES = {
    "billing_question": ["pregunta sobre mi factura", "cuanto debo", "aceptan mi seguro", "me cobraron doble"],
    "office_info": ["a que hora abren", "donde estan ubicados", "abren el sabado", "cual es su direccion"],
    "emergency": ["me duele mucho el pecho", "no puedo respirar", "mi hijo no respira", "sangra mucho y no para"],
}


def test_cv_is_also_split_by_language_and_shown_beside_both_held_out_sets(tmp_path):
    """The TF-IDF system (no training of Rasa): CV figures per language, from the same folds."""
    english = [(t, i) for i, texts in EXAMPLES.items() for t in texts]
    spanish = [(t, i) for i, texts in SPANISH_EXAMPLES.items() for t in texts]
    examples = english + spanish
    heldout = [(t, i) for i, texts in HELDOUT.items() for t in texts]
    result = evaluate.evaluate_system("tfidf_lr", examples, None, heldout, stratified_folds(examples, 2), None,
                                      tmp_path, plots=False, spanish_examples=frozenset(t for t, _ in spanish))
    by = result.cv_by_language
    assert (by["en"]["n"], by["es"]["n"]) == (24, 12)
    assert 0 <= by["es"]["accuracy"] <= 1 and by["es"]["emergency_recall"] is not None
    result.spanish = {"accuracy": 0.5, "emergency_recall": 1.0}
    table = evaluate.languages_table([result])
    assert "| tfidf_lr |" in table and "|   50.0 |  100.0 |" in table
    assert "CV: 24 English and 12 Spanish training texts" in table


def test_brief_figures_count_accuracy_and_emergency_recall_on_a_part():
    examples = [("a", "emergency"), ("b", "emergency"), ("c", "office_info"), ("d", "office_info")]
    predictions = [("emergency", 0.9), ("office_info", 0.8), ("office_info", 0.7), ("nlu_fallback", 0.2)]
    assert evaluate.brief_figures(examples, predictions) == {"n": 4, "accuracy": 0.5, "emergency_recall": 0.5}
    assert evaluate.brief_figures([], []) == {"n": 0, "accuracy": None, "emergency_recall": None}
