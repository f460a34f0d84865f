"""Exports the reviewed unanswered questions as Rasa NLU training data.

An agent or the merchant gives each message the bot could not answer its right intent in
the agent workspace (or names it a new topic). This command reads the reviewed messages
from the record service's API and merges them into `bot/data/nlu/reviewed.yml`, which the
next `make train` picks up; that training prints the held-out figures before and after
(`scripts/train.py`). It skips, and says so: messages named a new topic (no intent exists
yet: a topic for the team to design), intents the domain does not know, texts already in
the training data, and near-copies of a held-out example (training on those would make
the held-out figures lie).

Usage: python scripts/export_review.py [--out bot/data/nlu/reviewed.yml]
       (RECORDS_URL and RECORDS_TOKEN from the environment, else from the stack's .stack/env)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bot` and `reporting` importable
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evaluate_nlu import (  # noqa: E402  (after the path set-up above)
    HELDOUT_SETS,
    TRAINING_DATA_PATH,
    comparable_text,
    is_near_copy,
    load_examples,
)

REVIEW_DATA_PATH = TRAINING_DATA_PATH / "reviewed.yml"
DOMAIN_PATH = REPO_ROOT / "domain.yml"
# Intents a person cannot give a message: Rasa's own fallback.
NOT_REVIEWABLE = frozenset({"nlu_fallback"})
HEADER = (
    "# Messages the bot could not answer, given their intent by a person in the agent\n"
    "# workspace and exported by `make export-review` (scripts/export_review.py). Edit with care:\n"
    "# the next export merges into this file.\n"
)


@dataclass
class Export:
    """What an export kept and why it left the rest out."""

    examples: dict[str, list[str]] = field(default_factory=dict)
    added: int = 0
    new_topics: list[tuple[str, str]] = field(default_factory=list)
    unknown_intent: list[tuple[str, str]] = field(default_factory=list)
    already_trained: list[str] = field(default_factory=list)
    near_heldout: list[str] = field(default_factory=list)


def domain_intents(path: Path = DOMAIN_PATH) -> frozenset[str]:
    """The intents of the domain a reviewed message can be given."""
    domain = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = {item if isinstance(item, str) else next(iter(item)) for item in domain["intents"]}
    return frozenset(names - NOT_REVIEWABLE)


def read_review_file(path: Path) -> dict[str, list[str]]:
    """The examples already in the review file, per intent, in file order."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: dict[str, list[str]] = {}
    for block in data.get("nlu") or []:
        lines = str(block.get("examples") or "").splitlines()
        texts = [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]
        examples.setdefault(str(block["intent"]), []).extend(texts)
    return examples


def merge_reviews(
    messages: Iterable[Mapping[str, Any]],
    existing: Mapping[str, list[str]],
    known_intents: frozenset[str],
    trained_texts: Iterable[str],
    heldout_texts: Iterable[str],
) -> Export:
    """Merges reviewed messages (as GET /api/unanswered serves them) into the existing examples.

    Pure: the caller reads the API and the files, and writes the result.
    """
    export = Export(examples={intent: list(texts) for intent, texts in existing.items()})
    seen = {comparable_text(text) for texts in existing.values() for text in texts}
    trained = {comparable_text(text) for text in trained_texts} - seen
    heldout = [comparable_text(text) for text in heldout_texts]
    for message in messages:
        review = message.get("review") or {}
        text = " ".join(str((message.get("details") or {}).get("text") or "").split())
        if not text:
            continue
        if review.get("new_topic"):
            export.new_topics.append((str(review["new_topic"]), text))
            continue
        intent = str(review.get("intent") or "")
        if intent not in known_intents:
            export.unknown_intent.append((intent, text))
            continue
        key = comparable_text(text)
        if key in seen:
            continue
        if key in trained:
            export.already_trained.append(text)
            continue
        if any(is_near_copy(key, other) for other in heldout):
            export.near_heldout.append(text)
            continue
        seen.add(key)
        export.examples.setdefault(intent, []).append(text)
        export.added += 1
    return export


def render_review_file(examples: Mapping[str, list[str]]) -> str:
    """The review file: Rasa 3 NLU YAML like the rest of `bot/data/nlu/`, intents in name
    order, examples as given (one line each: the export collapses whitespace)."""
    lines = [HEADER.rstrip("\n"), 'version: "3.1"', "nlu:"]
    for intent, texts in sorted(examples.items()):
        if texts:
            lines += [f"- intent: {intent}", "  examples: |", *(f"    - {text}" for text in texts)]
    return "\n".join(lines) + "\n"


def _print_summary(export: Export, out: Path) -> None:
    print(f"export-review: {export.added} new example(s) written to {out}")
    for topic, text in export.new_topics:
        print(f"  new topic {topic!r} (not exported, no intent yet): {text}")
    for intent, text in export.unknown_intent:
        print(f"  unknown intent {intent!r} (not exported): {text}")
    for text in export.already_trained:
        print(f"  already in the training data: {text}")
    for text in export.near_heldout:
        print(f"  a near-copy of a held-out example (not exported): {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=REVIEW_DATA_PATH)
    args = parser.parse_args(argv)
    from reporting.records_api import RecordsApi, RecordsApiError
    from reporting.settings import SettingsError, records_settings

    try:
        settings = records_settings(os.environ)
        with RecordsApi(settings.base_url, settings.token) as api:
            messages = api.reviewed_unanswered()
    except (SettingsError, RecordsApiError) as error:
        print(f"export-review: {error}", file=sys.stderr)
        return 2
    out: Path = args.out
    trained = [e["text"] for e in load_examples(TRAINING_DATA_PATH)]
    heldout = [e["text"] for path in HELDOUT_SETS for e in load_examples(path)]
    export = merge_reviews(messages, read_review_file(out), domain_intents(), trained, heldout)
    if export.examples:
        out.write_text(render_review_file(export.examples), encoding="utf-8")
    _print_summary(export, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
