"""LinearIntentEnsemble: trained, saved and loaded through Rasa's own model storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.ensemble import LinearIntentEnsemble, combine_rankings, sentence_vector

# Three words of a vocabulary: "refund", "parcel", "hello".
VOCABULARY = 3


def message(text: str, counts: list[float] | None, intent: str | None = None) -> Message:
    """A message as the featurizers leave it: a sparse sentence vector of word counts."""
    data = {TEXT: text, **({INTENT: intent} if intent else {})}
    features = []
    if counts is not None:
        vector = scipy.sparse.coo_matrix(np.array([counts], dtype=float))
        features.append(Features(vector, FEATURE_TYPE_SENTENCE, TEXT, "CountVectorsFeaturizer"))
    return Message(data=data, features=features)


def with_diet_ranking(msg: Message, ranking: dict[str, float]) -> Message:
    ordered = [{"name": n, "confidence": c} for n, c in sorted(ranking.items(), key=lambda kv: -kv[1])]
    msg.set(INTENT, ordered[0])
    msg.set(INTENT_RANKING_KEY, ordered)
    return msg


TRAINING = TrainingData([
    message("退款", [2, 0, 0], "request_refund"), message("退款吧", [1, 0, 0], "request_refund"),
    message("快递", [0, 1, 0], "check_order_status"), message("快递呢", [0, 3, 0], "check_order_status"),
    message("你好", [0, 0, 1], "greet"), message("你好呀", [0, 0, 2], "greet"),
])


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def trained(storage: LocalModelStorage, config: dict | None = None) -> LinearIntentEnsemble:
    resource = Resource("ensemble")
    component = LinearIntentEnsemble.create({**LinearIntentEnsemble.get_default_config(), **(config or {})},
                                            storage, resource, context())
    component.train(TRAINING)
    return LinearIntentEnsemble.load(component.config, storage, resource, context())


def test_combine_rankings_is_the_weighted_mean_best_first() -> None:
    ranking = combine_rankings({"a": 0.6, "b": 0.4}, {"b": 0.8, "c": 0.2}, 0.5, 10)

    assert ranking == [{"name": "b", "confidence": pytest.approx(0.6)},
                       {"name": "a", "confidence": pytest.approx(0.3)},
                       {"name": "c", "confidence": pytest.approx(0.1)}]
    assert len(combine_rankings({"a": 0.6, "b": 0.4}, {"c": 1.0}, 0.5, 2)) == 2


def test_a_sentence_vector_has_unit_length_so_long_messages_are_not_louder() -> None:
    long, short = sentence_vector(message("x", [0, 9, 0])), sentence_vector(message("y", [0, 1, 0]))

    assert long is not None and short is not None
    assert (long != short).nnz == 0
    assert sentence_vector(message("", None)) is None


def test_after_loading_the_linear_vote_moves_an_unsure_diet(storage: LocalModelStorage) -> None:
    component = trained(storage)
    # DIET is unsure between refund and parcel; the words are all about the parcel.
    unsure = with_diet_ranking(message("我的快递", [0, 2, 0]), {"request_refund": 0.5, "check_order_status": 0.45})

    [result] = component.process([unsure])

    assert result.get(INTENT)["name"] == "check_order_status"
    ranking = result.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking][:2] == ["check_order_status", "request_refund"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(0.95 / 2 + 0.5)


def test_with_diet_weight_one_diet_s_ranking_stands(storage: LocalModelStorage) -> None:
    component = trained(storage, {"diet_weight": 1.0})
    unsure = with_diet_ranking(message("我的快递", [0, 2, 0]), {"request_refund": 0.5, "check_order_status": 0.45})

    [result] = component.process([unsure])

    assert result.get(INTENT) == {"name": "request_refund", "confidence": 0.5}


def test_a_message_without_features_keeps_diet_s_ranking(storage: LocalModelStorage) -> None:
    component = trained(storage)
    empty = with_diet_ranking(message("", None), {"greet": 0.9, "thank": 0.1})

    [result] = component.process([empty])

    assert result.get(INTENT) == {"name": "greet", "confidence": 0.9}


def test_without_diet_the_regression_decides_alone(storage: LocalModelStorage) -> None:
    component = trained(storage)

    [result] = component.process([message("你好", [0, 0, 1])])

    assert result.get(INTENT)["name"] == "greet"
    assert sum(r["confidence"] for r in result.get(INTENT_RANKING_KEY)) == pytest.approx(1.0)


def test_an_untrained_model_leaves_messages_as_diet_left_them(storage: LocalModelStorage) -> None:
    component = LinearIntentEnsemble.load({}, storage, Resource("never_trained"), context())
    msg = with_diet_ranking(message("你好", [0, 0, 1]), {"greet": 0.7, "thank": 0.3})

    [result] = component.process([msg])

    assert result.get(INTENT) == {"name": "greet", "confidence": 0.7}


def test_the_weights_are_saved_without_pickle(storage: LocalModelStorage) -> None:
    trained(storage)

    with storage.read_from(Resource("ensemble")) as directory:
        with np.load(directory / "linear_intent_weights.npz", allow_pickle=False) as weights:
            assert sorted(weights["classes"].tolist()) == ["check_order_status", "greet", "request_refund"]
            assert weights["coef"].shape == (3, VOCABULARY)
