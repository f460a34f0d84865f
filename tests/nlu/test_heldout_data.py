"""The held-out sets are fit to measure with: separate from training, complete, well annotated."""

from pathlib import Path

import pytest
import yaml

from bot.nlu.normalize import normalize
from scripts.evaluate_nlu import (
    HELDOUT_PATH,
    HELDOUT_SETS,
    SHOPPERS_HELDOUT_PATH,
    TRAINING_DATA_PATH,
    comparable_text,
    entity_key,
    is_near_copy,
    load_examples,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# Intents a shopper cannot type: Rasa's fallback.
NOT_TYPED = {"nlu_fallback"}
# Trivial intents (greetings and the like) need fewer examples than the business ones.
TRIVIAL = {"greet", "goodbye", "thank", "chitchat", "out_of_scope"}


@pytest.fixture(scope="module", params=HELDOUT_SETS, ids=lambda path: path.stem)
def heldout(request: pytest.FixtureRequest) -> list[dict]:
    return load_examples(request.param)


@pytest.fixture(scope="module")
def training_texts() -> dict[str, str]:
    examples = load_examples(TRAINING_DATA_PATH)
    return {comparable_text(e["text"]): e["text"] for e in examples}


def test_every_intent_of_the_domain_is_tested(heldout: list[dict]) -> None:
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]} - NOT_TYPED
    counts = {name: sum(e["intent"] == name for e in heldout) for name in intents}
    too_few = {name: n for name, n in counts.items() if n < (8 if name in TRIVIAL else 10)}
    assert too_few == {}
    assert {e["intent"] for e in heldout} <= intents


def test_no_heldout_example_is_a_training_example(heldout: list[dict], training_texts: dict[str, str]) -> None:
    repeated = [e["text"] for e in heldout if comparable_text(e["text"]) in training_texts]
    assert repeated == []


@pytest.mark.slow  # compares every pair of examples
def test_no_heldout_example_is_a_near_copy_of_a_training_example(
    heldout: list[dict], training_texts: dict[str, str]
) -> None:
    near = []
    for example in heldout:
        text = comparable_text(example["text"])
        for training in training_texts:
            if is_near_copy(text, training):
                near.append((example["text"], training_texts[training]))
    assert near == []


@pytest.mark.parametrize("path", HELDOUT_SETS, ids=lambda path: path.stem)
def test_heldout_is_not_in_the_training_data_directory(path: Path) -> None:
    assert TRAINING_DATA_PATH not in path.parents


def test_order_numbers_are_ten_digits_and_phone_suffixes_four(heldout: list[dict]) -> None:
    lengths = {"order_id": 10, "phone_last4": 4, "phone_number": 11}
    wrong = [
        (e["text"], entity["entity"], value)
        for e in heldout
        for entity in e["entities"]
        if entity["entity"] in lengths
        for _, value in [entity_key(entity)]
        if len(value) != lengths[entity["entity"]]
    ]
    assert wrong == []


def test_the_hard_cases_are_there() -> None:
    heldout = load_examples(HELDOUT_PATH)
    texts = [e["text"] for e in heldout]
    spoken_order_ids = [
        e for e in heldout for entity in e["entities"]
        if entity["entity"] == "order_id" and any(ch in entity["value"] for ch in "零幺八")
    ]
    assert len(spoken_order_ids) >= 5
    assert sum(normalize(t).text != t for t in texts) >= 60  # fillers, traditional, spoken digits...
    assert sum(any("a" <= ch.lower() <= "z" for ch in t) for t in texts) >= 15  # English mixed in
    assert all(any(typo in t for t in texts) for typo in ("退火", "大账", "换火", "退宽"))  # pinyin slips


def test_the_shoppers_set_is_written_the_way_real_shoppers_write() -> None:
    heldout = load_examples(SHOPPERS_HELDOUT_PATH)
    texts = [e["text"] for e in heldout]
    assert len(heldout) >= 600
    assert sum(len(t) > 30 for t in texts) >= 0.3 * len(texts)  # long, several clauses
    assert sum(e["intent"] == "out_of_scope" for e in heldout) >= 100  # pre-sale, product, account
    venting = [e for e in heldout if e["intent"] == "file_complaint" and "投诉" not in e["text"]]
    assert len(venting) >= 50  # complaints without the word
    assert sum("订单编号" in t or "订单号:" in t or "订单号：" in t for t in texts) >= 10  # pasted order cards
