import json
import sys
from pathlib import Path

import pytest

from scripts import evaluate_nlu
from scripts.evaluate_nlu import (
    Scores,
    entity_key,
    latency_summary,
    score_heldout,
    summarize_cross_validation,
    threshold_sweep,
    with_fallback_threshold,
)


def test_scores_intents_entities_and_confusions() -> None:
    examples = [
        {"text": "退款到了吗", "intent": "check_refund_status", "entities": []},
        {"text": "订单号八八零零零零二零零一", "intent": "inform",
         "entities": [{"entity": "order_id", "value": "八八零零零零二零零一"}]},
        {"text": "我要退款", "intent": "request_refund", "entities": []},
    ]
    parses = [
        {"intent": {"name": "check_refund_status"}, "entities": []},
        # spoken digits and the Arabic value are the same order number
        {"intent": {"name": "inform"}, "entities": [{"entity": "order_id", "value": "8800-0020 01"}]},
        {"intent": {"name": "check_refund_status"}, "entities": [{"entity": "order_id", "value": "123"}]},
    ]
    report = score_heldout(examples, parses)
    assert report.intents == {
        "check_refund_status": Scores(precision=0.5, recall=1.0, f1=0.6667, support=1),
        "inform": Scores(precision=1.0, recall=1.0, f1=1.0, support=1),
        "request_refund": Scores(precision=0.0, recall=0.0, f1=0.0, support=1),
    }
    assert report.intent_macro_f1 == round((0.6667 + 1.0 + 0.0) / 3, 4)
    assert report.intent_accuracy == round(2 / 3, 4)
    assert report.entities == {"order_id": Scores(precision=0.5, recall=1.0, f1=0.6667, support=1)}
    assert report.confusions == [("request_refund", "check_refund_status", 1)]
    assert [e["text"] for e in report.errors] == ["我要退款"]
    assert report.errors[0]["predicted_entities"] == [("order_id", "123")]


def test_the_same_mention_from_two_extractors_counts_once() -> None:
    examples = [{"text": "单号8800002001", "intent": "inform",
                 "entities": [{"entity": "order_id", "value": "8800002001"}]}]
    mention = {"entity": "order_id", "value": "8800002001", "start": 2, "end": 12}
    parses = [{"intent": {"name": "inform"}, "entities": [
        {**mention, "extractor": "DIETClassifier"}, {**mention, "extractor": "RegexEntityExtractor"},
    ]}]
    report = score_heldout(examples, parses)
    assert report.entities == {"order_id": Scores(precision=1.0, recall=1.0, f1=1.0, support=1)}
    assert report.errors == []


def test_a_second_mention_elsewhere_is_a_false_positive() -> None:
    examples = [{"text": "8800002001 8800002001", "intent": "inform",
                 "entities": [{"entity": "order_id", "value": "8800002001"}]}]
    parses = [{"intent": {"name": "inform"}, "entities": [
        {"entity": "order_id", "value": "8800002001", "start": 0, "end": 10},
        {"entity": "order_id", "value": "8800002001", "start": 11, "end": 21},
    ]}]
    report = score_heldout(examples, parses)
    assert report.entities == {"order_id": Scores(precision=0.5, recall=1.0, f1=0.6667, support=1)}


def test_entity_values_are_compared_normalised() -> None:
    assert entity_key({"entity": "phone_last4", "value": "六六八八"}) == ("phone_last4", "6688")
    assert entity_key({"entity": "phone_number", "value": "幺三八 零零幺三 八零零零"}) == (
        "phone_number", "13800138000")
    assert entity_key({"entity": "amount", "value": "一百五十九块"}) == ("amount", "159块")
    assert entity_key({"entity": "complaint_category", "value": "logistics"}) == (
        "complaint_category", "logistics")


def test_an_intent_missing_from_the_test_set_is_not_in_the_macro_average() -> None:
    examples = [{"text": "你好", "intent": "greet", "entities": []}]
    parses = [{"intent": {"name": "chitchat"}, "entities": []}]
    report = score_heldout(examples, parses)
    assert report.intents == {"greet": Scores(precision=0.0, recall=0.0, f1=0.0, support=1)}
    assert report.intent_macro_f1 == 0.0


def test_a_parse_without_intent_is_an_error() -> None:
    report = score_heldout([{"text": "x", "intent": "greet", "entities": []}], [{"entities": []}])
    assert report.confusions == [("greet", "none", 1)]


def _ranked(*ranking: tuple[str, float]) -> dict:
    names = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return {"intent": names[0], "intent_ranking": names, "entities": []}


def test_a_lower_threshold_keeps_what_the_fallback_had_replaced() -> None:
    # As the FallbackClassifier leaves it at 0.45: nlu_fallback in front of DIET's ranking.
    parse = _ranked(("nlu_fallback", 0.45), ("out_of_scope", 0.40), ("greet", 0.2))

    assert with_fallback_threshold(parse, 0.35, 0.08)["intent"] == {"name": "out_of_scope", "confidence": 0.40}
    assert with_fallback_threshold(parse, 0.45, 0.08)["intent"]["name"] == "nlu_fallback"


def test_two_close_intents_fall_back_at_the_ambiguity_threshold() -> None:
    parse = _ranked(("request_refund", 0.48), ("check_refund_status", 0.43))

    assert with_fallback_threshold(parse, 0.3, 0.08)["intent"]["name"] == "nlu_fallback"
    assert with_fallback_threshold(parse, 0.3, 0.04)["intent"]["name"] == "request_refund"


def test_threshold_sweep_scores_each_pair() -> None:
    examples = [{"text": "a", "intent": "out_of_scope", "entities": []},
                {"text": "b", "intent": "greet", "entities": []}]
    parses = [_ranked(("nlu_fallback", 0.45), ("out_of_scope", 0.40)),
              _ranked(("greet", 0.9), ("thank", 0.05))]

    rows = threshold_sweep(examples, parses, [0.3, 0.45], [0.0])

    assert rows == [(0.3, 0.0, 1.0, 0.0), (0.45, 0.0, 0.5, 0.5)]


def test_latency_summary() -> None:
    assert latency_summary([float(ms) for ms in range(1, 101)]) == {"p50": 50.5, "p95": 95.0, "max": 100.0}
    assert latency_summary([]) == {}


def test_summarize_cross_validation(tmp_path: Path) -> None:
    (tmp_path / "intent_report.json").write_text(json.dumps({
        "greet": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 3},
        "accuracy": 0.93456,
        "macro avg": {"precision": 0.9, "recall": 0.9, "f1-score": 0.912345, "support": 30},
    }))
    (tmp_path / "RegexEntityExtractor_report.json").write_text(json.dumps({
        "order_id": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 9},
        "accuracy": 0.99,
    }))
    assert summarize_cross_validation(tmp_path) == {
        "intent_macro_f1": 0.9123,
        "intent_accuracy": 0.9346,
        "RegexEntityExtractor_report": {"order_id": 1.0},
    }


def test_main_without_a_model_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.tar.gz"
    monkeypatch.setattr(sys, "argv", ["evaluate_nlu.py", "--skip-cv", "--model", str(missing),
                                      "--out", str(tmp_path)])
    assert evaluate_nlu.main() == 2
    assert capsys.readouterr().err == (
        f"evaluate_nlu: No trained model at {missing}: run scripts/train.py first\n"
    )
    assert not (tmp_path / "heldout.json").exists()
