"""Reviewed unanswered questions as training data (scripts/export_review.py, scripts/train.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts import train
from scripts.evaluate_nlu import load_examples
from scripts.export_review import (
    domain_intents,
    merge_reviews,
    read_review_file,
    render_review_file,
)
from tests.fixtures.servers import REPO_ROOT

INTENTS = frozenset({"out_of_scope", "request_return", "greet"})


def reviewed(text: str, intent: str | None = None, new_topic: str | None = None) -> dict[str, Any]:
    """A message as GET /api/unanswered?reviewed=true serves it."""
    return {
        "id": 1,
        "kind": "unanswered",
        "details": {"text": text, "channel": "widget"},
        "review": {"intent": intent, "new_topic": new_topic, "reviewed_by": "xiaowang", "reviewed_at": "x"},
    }


def test_reviewed_messages_become_examples_of_their_intent_and_the_rest_is_said() -> None:
    export = merge_reviews(
        [
            reviewed("这个杯子有没有粉色的", "out_of_scope"),
            reviewed("这个杯子  有没有粉色的", "out_of_scope"),  # the same message again
            reviewed("能开个直播间吗", new_topic="直播带货"),
            reviewed("帮我退了吧", "request_refund_now"),
            reviewed("我要退货", "request_return"),
            reviewed("在吗在吗亲在不在呀我有个问题", "greet"),
        ],
        existing={"greet": ["哈喽哈喽"]},
        known_intents=INTENTS,
        trained_texts=["我要退货"],
        heldout_texts=["在吗在吗亲在不在啊我有个问题"],
    )

    assert export.examples == {"greet": ["哈喽哈喽"], "out_of_scope": ["这个杯子有没有粉色的"]}
    assert export.added == 1
    assert export.new_topics == [("直播带货", "能开个直播间吗")]
    assert export.unknown_intent == [("request_refund_now", "帮我退了吧")]
    assert export.already_trained == ["我要退货"]
    assert export.near_heldout == ["在吗在吗亲在不在呀我有个问题"]


def test_the_review_file_is_rasa_training_data_and_merges_with_the_next_export(tmp_path: Path) -> None:
    path = tmp_path / "reviewed.yml"
    path.write_text(render_review_file({"out_of_scope": ["这个杯子有没有粉色的", "加个微信呗: 好吗"]}), encoding="utf-8")

    assert [(e["intent"], e["text"]) for e in load_examples(path)] == [
        ("out_of_scope", "这个杯子有没有粉色的"),
        ("out_of_scope", "加个微信呗: 好吗"),
    ]
    again = merge_reviews([reviewed("你们招不招客服", "out_of_scope")], read_review_file(path), INTENTS, [], [])
    assert again.examples == {"out_of_scope": ["这个杯子有没有粉色的", "加个微信呗: 好吗", "你们招不招客服"]}


def test_a_reviewed_message_can_be_given_any_intent_of_the_domain_but_rasa_s_fallback() -> None:
    intents = domain_intents()

    assert {"out_of_scope", "request_return", "chitchat"} <= intents
    assert "nlu_fallback" not in intents


def test_the_training_script_runs_as_a_script() -> None:
    # `make train` runs it by path: what it imports for the comparison must resolve then too.
    run = subprocess.run([sys.executable, "scripts/train.py", "--help"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=60)

    assert run.returncode == 0, run.stderr
    assert "--compare" in run.stdout


def test_training_compares_the_held_out_figures_when_the_reviewed_questions_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, review, seen = tmp_path / "model.tar.gz", tmp_path / "reviewed.yml", tmp_path / "reviewed-fingerprint"
    monkeypatch.setattr(train, "MODEL_PATH", model)
    monkeypatch.setattr(train, "REVIEW_DATA_PATH", review)
    monkeypatch.setattr(train, "REVIEW_FINGERPRINT_PATH", seen)

    assert train.review_fingerprint() == ""
    assert train.review_changed("") is False  # no model yet: nothing to compare with
    model.write_bytes(b"model")
    assert train.review_changed("") is False  # no reviewed questions, none before
    review.write_text("nlu: []\n", encoding="utf-8")
    current = train.review_fingerprint()
    assert train.review_changed(current) is True
    seen.write_text(current + "\n")
    assert train.review_changed(current) is False
