"""NLU evaluation: the trained model on the held-out sets, and k-fold cross-validation.

Held-out (`tests/nlu/heldout.yml` and `tests/nlu/heldout_shoppers.yml`, never trained
on): every example is parsed by the trained model exactly as the bot parses a shopper's
message (`Agent.load` and `parse_message`: normaliser, extractors and offset restorer
included); intent and entity precision / recall / F1, intent macro-F1, the share of
messages that fell to `nlu_fallback`, the most frequent confusions and the parse latency
are printed, and the full report (with every error) is written to
results/nlu/<set>.json.

Cross-validation runs `rasa test nlu --cross-validation` on the training data (it trains
one model per fold: about half an hour for 5 folds on 2 cores; `--skip-cv` leaves it out).

Usage: python scripts/evaluate_nlu.py [--skip-cv] [--folds 5] [--model PATH] [--data PATH]
       [--threshold-sweep]  (macro-F1 and fallback at other FallbackClassifier thresholds)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bot` importable
    sys.path.insert(0, str(REPO_ROOT))

MODEL_PATH = REPO_ROOT / "bot" / "models" / "aftersales.tar.gz"
HELDOUT_PATH = REPO_ROOT / "tests" / "nlu" / "heldout.yml"
# The second held-out set: written before and apart from the training data of issue 9, in
# the ways real shoppers write (venting, pre-sale questions, order cards, transcripts).
SHOPPERS_HELDOUT_PATH = REPO_ROOT / "tests" / "nlu" / "heldout_shoppers.yml"
HELDOUT_SETS = (HELDOUT_PATH, SHOPPERS_HELDOUT_PATH)
# The intent the FallbackClassifier gives a message it did not understand.
FALLBACK_INTENT = "nlu_fallback"
TRAINING_DATA_PATH = REPO_ROOT / "bot" / "data" / "nlu"
CONFIG_PATH = REPO_ROOT / "config.yml"
RESULTS_DIR = REPO_ROOT / "results" / "nlu"
# Entities whose value is a digit string: compared without spaces or dashes.
DIGIT_ENTITIES = frozenset({"order_id", "phone_last4", "phone_number"})

EntityKey = tuple[str, str]
# Above this similarity to a training example, a held-out example is a paraphrase of it.
NEAR_DUPLICATE_RATIO = 0.9

# The grid `--threshold-sweep` re-scores (config.yml's FallbackClassifier is one point on it).
SWEEP_THRESHOLDS = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
SWEEP_AMBIGUITY_THRESHOLDS = [0.0, 0.04, 0.08, 0.12]


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one label; support is how often it was expected."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class HeldoutReport:
    """What the held-out evaluation found."""

    intents: dict[str, Scores]
    intent_macro_f1: float
    intent_accuracy: float
    entities: dict[str, Scores]
    confusions: list[tuple[str, str, int]]
    errors: list[dict[str, Any]] = field(default_factory=list)
    fallback_share: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    # The model's parse of each example, for re-scoring at other fallback thresholds.
    parses: list[dict[str, Any]] = field(default_factory=list)


def _scores(tp: int, fp: int, fn: int) -> Scores:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(round(precision, 4), round(recall, 4), round(f1, 4), tp + fn)


def entity_key(entity: dict[str, Any]) -> EntityKey:
    """What an entity is compared by: its type and its normalised value.

    Spoken digits, traditional characters and full-width digits are normalised the way
    the bot normalises a message, so "八八零零零零二零零一" and "8800-0020 01" are the same
    order number.
    """
    from bot.nlu.normalize import normalize

    value = normalize(str(entity.get("value", ""))).text
    if entity["entity"] in DIGIT_ENTITIES:
        value = "".join(ch for ch in value if ch.isdigit())
    return entity["entity"], value


def _found_entities(parse: dict[str, Any]) -> Counter[EntityKey]:
    """The entities of a parse, each mention once.

    Two extractors (DIET and the regex extractor) may report the same entity at the same
    span; the bot fills its slot once, so the duplicate is not a second finding.
    """
    mentions = {
        (*entity_key(e), e.get("start"), e.get("end")) for e in parse.get("entities") or []
    }
    return Counter((name, value) for name, value, _, _ in mentions)


def score_heldout(examples: list[dict[str, Any]], parses: list[dict[str, Any]]) -> HeldoutReport:
    """Scores parses against the annotated examples (pure: no model needed).

    Args:
        examples: `{"text", "intent", "entities": [{"entity", "value"}]}` as annotated.
        parses: The model's parse of each example's text, in the same order.

    Returns:
        Per-intent and per-entity scores, the intent macro-F1 over the intents of the
        test set, the confusions (most frequent first) and every example with an error.
    """
    intent_counts: dict[str, Counter[str]] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    entity_counts: dict[str, Counter[str]] = {}
    errors: list[dict[str, Any]] = []
    correct = 0
    fallbacks = 0
    for example, parse in zip(examples, parses, strict=True):
        expected = example["intent"]
        predicted = (parse.get("intent") or {}).get("name") or "none"
        fallbacks += predicted == FALLBACK_INTENT
        for name in (expected, predicted):
            intent_counts.setdefault(name, Counter())
        if predicted == expected:
            correct += 1
            intent_counts[expected]["tp"] += 1
        else:
            intent_counts[expected]["fn"] += 1
            intent_counts[predicted]["fp"] += 1
            confusions[(expected, predicted)] += 1
        wanted = Counter(entity_key(e) for e in example.get("entities") or [])
        found = _found_entities(parse)
        for key in wanted | found:
            counts = entity_counts.setdefault(key[0], Counter())
            counts["tp"] += min(wanted[key], found[key])
            counts["fn"] += max(0, wanted[key] - found[key])
            counts["fp"] += max(0, found[key] - wanted[key])
        if predicted != expected or wanted != found:
            errors.append({
                "text": example["text"], "intent": expected, "predicted": predicted,
                "entities": sorted(wanted.elements()), "predicted_entities": sorted(found.elements()),
            })
    intents = {
        name: _scores(c["tp"], c["fp"], c["fn"])
        for name, c in sorted(intent_counts.items())
        if c["tp"] + c["fn"] > 0  # intents that occur in the test set
    }
    macro_f1 = sum(s.f1 for s in intents.values()) / len(intents) if intents else 0.0
    return HeldoutReport(
        intents=intents,
        intent_macro_f1=round(macro_f1, 4),
        intent_accuracy=round(correct / len(examples), 4) if examples else 0.0,
        entities={n: _scores(c["tp"], c["fp"], c["fn"]) for n, c in sorted(entity_counts.items())},
        confusions=[(e, p, n) for (e, p), n in confusions.most_common()],
        errors=errors,
        fallback_share=round(fallbacks / len(examples), 4) if examples else 0.0,
    )


def with_fallback_threshold(
    parse: dict[str, Any], threshold: float, ambiguity_threshold: float
) -> dict[str, Any]:
    """The parse as the FallbackClassifier would have left it at other thresholds (pure).

    The classifier only puts `nlu_fallback` in front of DIET's ranking, so the ranking
    without it is what DIET said; the rule applied to it is Rasa's: the top intent's
    confidence below `threshold`, or the top two closer than `ambiguity_threshold`.
    """
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    if not ranking:
        return parse
    top = ranking[0]
    ambiguous = len(ranking) > 1 and top["confidence"] - ranking[1]["confidence"] < ambiguity_threshold
    if top["confidence"] < threshold or ambiguous:
        intent = {"name": FALLBACK_INTENT, "confidence": threshold}
    else:
        intent = top
    return {**parse, "intent": intent}


def threshold_sweep(
    examples: list[dict[str, Any]],
    parses: list[dict[str, Any]],
    thresholds: list[float],
    ambiguity_thresholds: list[float],
) -> list[tuple[float, float, float, float]]:
    """Macro-F1 and fallback share at each (threshold, ambiguity threshold) pair.

    Returns:
        `(threshold, ambiguity_threshold, macro_f1, fallback_share)` per pair, in order.
    """
    rows = []
    for threshold in thresholds:
        for ambiguity in ambiguity_thresholds:
            rescored = [with_fallback_threshold(p, threshold, ambiguity) for p in parses]
            report = score_heldout(examples, rescored)
            rows.append((threshold, ambiguity, report.intent_macro_f1, report.fallback_share))
    return rows


def comparable_text(text: str) -> str:
    """A message as compared for copies: normalised, lower case, no spaces, numbers as #
    ("订单号8800001002" and "订单号八八零零零零三零零二" are the same phrasing)."""
    from bot.nlu.normalize import normalize

    return re.sub(r"\d+", "#", normalize(text).text.lower().replace(" ", ""))


def is_near_copy(first: str, second: str) -> bool:
    """Whether two comparable texts are paraphrases (similarity at least NEAR_DUPLICATE_RATIO)."""
    matcher = SequenceMatcher(None, first, second)
    return matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO and matcher.ratio() >= NEAR_DUPLICATE_RATIO


def load_examples(path: Path = HELDOUT_PATH) -> list[dict[str, Any]]:
    """Rasa NLU examples as plain dicts, annotations on the text as written."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        {
            "text": m.get("text"),
            "intent": m.get("intent"),
            "entities": [{"entity": e["entity"], "value": e.get("value")} for e in m.get("entities") or []],
        }
        for m in data.intent_examples
    ]


async def parse_all(model_path: Path, texts: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    """Parses texts with the trained model, the way the Rasa server does.

    Returns:
        The parses, and the time each parse took in milliseconds.
    """
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    if not agent.is_ready():
        raise RuntimeError(f"No NLU model could be loaded from {model_path}")
    await agent.parse_message("你好")  # warm-up: the first parse builds the TF graph
    parses: list[dict[str, Any]] = []
    timings: list[float] = []
    for text in texts:
        started = time.perf_counter()
        parses.append(await agent.parse_message(text))
        timings.append((time.perf_counter() - started) * 1000)
    return parses, timings


def latency_summary(timings_ms: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of parse times, in milliseconds."""
    if not timings_ms:
        return {}
    ordered = sorted(timings_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
    }


def evaluate_heldout(model_path: Path = MODEL_PATH, data_path: Path = HELDOUT_PATH) -> HeldoutReport:
    """Parses the held-out set with the trained model and scores it.

    Raises:
        FileNotFoundError: If there is no trained model (train it: scripts/train.py).
    """
    if not model_path.exists():
        raise FileNotFoundError(f"No trained model at {model_path}: run scripts/train.py first")
    examples = load_examples(data_path)
    parses, timings = asyncio.run(parse_all(model_path, [e["text"] for e in examples]))
    report = score_heldout(examples, parses)
    report.latency_ms = latency_summary(timings)
    report.parses = parses
    return report


def print_heldout(report: HeldoutReport, name: str = "Held-out set") -> None:
    """Prints the scores table, the confusions and the latency."""
    print(
        f"{name}: intent macro-F1 {report.intent_macro_f1:.3f}, "
        f"accuracy {report.intent_accuracy:.3f}, fallback {report.fallback_share:.1%}"
    )
    print(f"{'intent':<24}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}")
    for name, s in report.intents.items():
        print(f"{name:<24}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.support:>5}")
    print(f"\n{'entity':<24}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}")
    for name, s in report.entities.items():
        print(f"{name:<24}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.support:>5}")
    if report.confusions:
        print("\nMost frequent confusions (expected -> predicted: count)")
        for expected, predicted, count in report.confusions[:15]:
            print(f"  {expected} -> {predicted}: {count}")
    if report.latency_ms:
        lat = report.latency_ms
        print(f"\nParse latency (ms, one at a time): p50 {lat['p50']}, p95 {lat['p95']}, max {lat['max']}")


def print_sweep(examples: list[dict[str, Any]], parses: list[dict[str, Any]]) -> None:
    """Prints macro-F1 and fallback share over a grid of FallbackClassifier thresholds."""
    rows = threshold_sweep(examples, parses, SWEEP_THRESHOLDS, SWEEP_AMBIGUITY_THRESHOLDS)
    print(f"{'threshold':>10}{'ambiguity':>10}{'macro-F1':>10}{'fallback':>10}")
    for threshold, ambiguity, macro_f1, fallback in rows:
        print(f"{threshold:>10.2f}{ambiguity:>10.2f}{macro_f1:>10.3f}{fallback:>10.1%}")
    print()


def write_heldout(report: HeldoutReport, path: Path) -> None:
    """Writes the report, with every error, as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "intent_macro_f1": report.intent_macro_f1,
        "intent_accuracy": report.intent_accuracy,
        "fallback_share": report.fallback_share,
        "intents": {k: asdict(v) for k, v in report.intents.items()},
        "entities": {k: asdict(v) for k, v in report.entities.items()},
        "confusions": report.confusions,
        "latency_ms": report.latency_ms,
        "errors": report.errors,
    }
    path.write_text(json.dumps(content, ensure_ascii=False, indent=1))


def summarize_cross_validation(out: Path) -> dict[str, Any]:
    """The macro averages of the reports `rasa test nlu --cross-validation` wrote to `out`."""
    intent_report = json.loads((out / "intent_report.json").read_text())
    summary: dict[str, Any] = {
        "intent_macro_f1": round(intent_report["macro avg"]["f1-score"], 4),
        "intent_accuracy": round(intent_report["accuracy"], 4),
    }
    for report_file in sorted(out.glob("*_report.json")):
        if report_file.name == "intent_report.json":
            continue
        entity_report = json.loads(report_file.read_text())
        summary[report_file.stem] = {
            name: round(values["f1-score"], 4)
            for name, values in entity_report.items()
            if isinstance(values, dict) and "f1-score" in values
        }
    return summary


def cross_validate(folds: int, out: Path = RESULTS_DIR / "cross-validation") -> dict[str, Any]:
    """Runs Rasa's k-fold cross-validation on the training data; returns its macro averages.

    Raises:
        subprocess.CalledProcessError: If `rasa test nlu` fails.
    """
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rasa", "test", "nlu", "--nlu", str(TRAINING_DATA_PATH),
         "--config", str(CONFIG_PATH), "--cross-validation", "--folds", str(folds),
         "--out", str(out), "--no-plot"],
        cwd=REPO_ROOT, check=True,
    )
    summary = summarize_cross_validation(out)
    summary["minutes"] = round((time.monotonic() - started) / 60, 1)
    return summary


def quiet_logs() -> None:
    """Rasa logs every parse at debug level; the report is what this script prints."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def main() -> int:
    """Runs the held-out evaluation and, unless skipped, the cross-validation."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-cv", action="store_true", help="only the held-out evaluation")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="trained model (.tar.gz)")
    parser.add_argument("--data", type=Path, action="append",
                        help="a held-out set (Rasa NLU YAML); both of the project's when not given")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the reports go")
    parser.add_argument("--threshold-sweep", action="store_true",
                        help="also macro-F1 and fallback at other FallbackClassifier thresholds")
    args = parser.parse_args()
    quiet_logs()
    for data in args.data or HELDOUT_SETS:
        try:
            report = evaluate_heldout(args.model, data)
        except FileNotFoundError as error:
            print(f"evaluate_nlu: {error}", file=sys.stderr)
            return 2
        print_heldout(report, f"Held-out set {data.name} ({sum(s.support for s in report.intents.values())})")
        write_heldout(report, args.out / f"{data.stem}.json")
        print(f"\nFull report and errors: {args.out / f'{data.stem}.json'}\n")
        if args.threshold_sweep:
            print_sweep(load_examples(data), report.parses)
    if not args.skip_cv:
        summary = cross_validate(args.folds, args.out / "cross-validation")
        print(f"\n{args.folds}-fold cross-validation on the training data:")
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
