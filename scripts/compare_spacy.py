"""Measures a spaCy entity pipeline against the project's Rasa pipeline on the held-out set.

The candidate is what spaCy offers a Chinese bot without a downloadable model (spaCy's
zh models come from GitHub releases, which CI cannot reach): `spacy.blank("zh")` with
jieba segmentation and an `EntityRuler` for order numbers, phone numbers, phone suffixes,
amounts, dates and the product lookup table. Both run on the same normalised text
(`bot.nlu.normalize`) and are scored by the same function (`evaluate_nlu.score_heldout`);
the Rasa figures come from parsing the held-out set with the trained model in this run.

Prints entity precision / recall / F1 per type for both, and the extra cost of spaCy
(load time, per-message latency). The decision it supports is written in README.md
("Understanding Chinese").

Usage: python scripts/compare_spacy.py [--model PATH] [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bot` and `scripts` importable
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evaluate_nlu import (  # noqa: E402  (after the path set-up above)
    HELDOUT_PATH,
    MODEL_PATH,
    HeldoutReport,
    evaluate_heldout,
    latency_summary,
    load_examples,
    quiet_logs,
    score_heldout,
)

ENTITIES_PATH = REPO_ROOT / "bot" / "data" / "nlu" / "entities.yml"
PHONE_SUFFIX_CUES = ["尾号", "后四位", "后4位"]
AMOUNT_UNITS = ["元", "块", "块钱", "rmb", "RMB"]
RELATIVE_DAYS = ["今天", "昨天", "前天", "大前天", "上周", "上个月", "上星期", "这周", "本周"]


def product_names(path: Path = ENTITIES_PATH) -> list[str]:
    """The product lookup table of the Rasa training data."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path), language="zh")
    (table,) = [t for t in data.lookup_tables if t["name"] == "product"]
    return list(table["elements"])


def ruler_patterns(products: list[str]) -> list[dict[str, Any]]:
    """EntityRuler patterns over jieba tokens for the entities the project extracts."""
    digits = {"REGEX": r"^\d+$"}
    return [
        {"label": "order_id", "pattern": [{"TEXT": {"REGEX": r"^\d{10}$"}}]},
        {"label": "phone_number", "pattern": [{"TEXT": {"REGEX": r"^1[3-9]\d{9}$"}}]},
        # The suffix cue is part of the match: EntityRuler cannot leave context out.
        {"label": "phone_last4", "pattern": [{"TEXT": {"IN": PHONE_SUFFIX_CUES}}, {"TEXT": "是", "OP": "?"},
                                             {"TEXT": {"REGEX": r"^\d{4}$"}}]},
        {"label": "amount", "pattern": [{"TEXT": digits}, {"TEXT": {"IN": AMOUNT_UNITS}}]},
        {"label": "date", "pattern": [{"TEXT": {"IN": RELATIVE_DAYS}}]},
        {"label": "date", "pattern": [{"TEXT": digits}, {"TEXT": "月"}, {"TEXT": digits},
                                      {"TEXT": {"IN": ["号", "日"]}}]},
        *({"label": "product", "pattern": name} for name in products),
    ]


def build_spacy_pipeline(products: list[str]) -> Any:
    """A blank Chinese spaCy pipeline: jieba segmentation and an EntityRuler."""
    import spacy

    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(ruler_patterns(products))  # type: ignore[attr-defined]
    return nlp


def spacy_parses(nlp: Any, texts: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    """Entities found by spaCy in each (normalised) text, and the time each took in ms."""
    from bot.nlu.normalize import normalize

    parses, timings = [], []
    for text in texts:
        started = time.perf_counter()
        doc = nlp(normalize(text).text)
        entities = []
        for span in doc.ents:
            value = span.text
            if span.label_ == "phone_last4":
                value = span[-1].text
            entities.append({"entity": span.label_, "value": value,
                             "start": span.start_char, "end": span.end_char})
        timings.append((time.perf_counter() - started) * 1000)
        parses.append({"entities": entities})
    return parses, timings


def print_comparison(rasa: HeldoutReport, spacy_report: HeldoutReport) -> None:
    """Entity P/R/F1 per type, Rasa pipeline beside the spaCy pipeline."""
    print(f"{'entity':<20}{'Rasa P':>8}{'R':>7}{'F1':>7}   {'spaCy P':>8}{'R':>7}{'F1':>7}   n")
    for name in sorted(set(rasa.entities) | set(spacy_report.entities)):
        r, s = rasa.entities.get(name), spacy_report.entities.get(name)
        left = f"{r.precision:>8.3f}{r.recall:>7.3f}{r.f1:>7.3f}" if r else f"{'-':>8}{'-':>7}{'-':>7}"
        right = f"{s.precision:>8.3f}{s.recall:>7.3f}{s.f1:>7.3f}" if s else f"{'-':>8}{'-':>7}{'-':>7}"
        either = r or s
        support = either.support if either else 0
        print(f"{name:<20}{left}   {right}   {support}")


def main() -> int:
    """Runs both pipelines on the held-out set and prints the comparison."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="trained Rasa model (.tar.gz)")
    parser.add_argument("--data", type=Path, default=HELDOUT_PATH, help="held-out set (Rasa NLU YAML)")
    args = parser.parse_args()
    quiet_logs()
    examples = load_examples(args.data)
    started = time.perf_counter()
    nlp = build_spacy_pipeline(product_names())
    nlp("预热")  # jieba loads its dictionary on first use
    load_s = time.perf_counter() - started
    parses, timings = spacy_parses(nlp, [e["text"] for e in examples])
    # spaCy has no intents here: each parse gets the expected one, so only entities differ.
    for example, parse in zip(examples, parses, strict=True):
        parse["intent"] = {"name": example["intent"]}
    spacy_report = score_heldout(examples, parses)
    try:
        rasa_report = evaluate_heldout(args.model, args.data)
    except FileNotFoundError as error:
        print(f"compare_spacy: {error}", file=sys.stderr)
        return 2
    print(f"Held-out set: {len(examples)} messages, {args.data.relative_to(REPO_ROOT)}\n")
    print_comparison(rasa_report, spacy_report)
    spacy_latency = latency_summary(timings)
    print(f"\nspaCy pipeline: built and warmed in {load_s:.2f} s; per message (ms) {spacy_latency}")
    print(f"Rasa pipeline (whole NLU parse, intents included): per message (ms) {rasa_report.latency_ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
