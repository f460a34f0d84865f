"""A second intent classifier beside DIET: logistic regression on the same sparse features.

DIET alone misreads long and unusual messages more often than a linear model over the
same word and character n-grams does, and the two err on different messages: averaged,
they measured better on both held-out sets than either alone (README, "Understanding
Chinese"). `LinearIntentEnsemble` runs after DIET, trains its own multinomial logistic
regression on the featurizers' sentence vectors (each row scaled to unit length, so a long
message is not louder than a short one), and replaces the message's intent and ranking by
the weighted mean of DIET's ranking and its own probabilities. The FallbackClassifier then
sees the combined confidence.

The weights are kept as plain arrays (`numpy.savez`, no pickle) and applied here, so
loading a model runs no code from it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "linear_intent_weights.npz"


def sentence_vector(message: Message) -> scipy.sparse.csr_matrix | None:
    """The message's sparse and dense sentence features in one row, scaled to unit length;
    None when it has none (the featurizers did not run, or the text was empty)."""
    _, sparse = message.get_sparse_features(TEXT)
    _, dense = message.get_dense_features(TEXT)
    parts = [scipy.sparse.csr_matrix(f.features) for f in (sparse, dense) if f is not None]
    if not parts:
        return None
    row = scipy.sparse.hstack(parts).tocsr()
    norm = float(np.sqrt(row.multiply(row).sum()))
    return row / norm if norm else row


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def combine_rankings(
    first: dict[str, float], second: dict[str, float], first_weight: float, length: int
) -> list[dict[str, Any]]:
    """The weighted mean of two intent distributions, best first, at most `length` long."""
    names = set(first) | set(second)
    combined = {
        name: first_weight * first.get(name, 0.0) + (1.0 - first_weight) * second.get(name, 0.0)
        for name in names
    }
    ordered = sorted(combined.items(), key=lambda item: (-item[1], item[0]))[:length]
    return [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: float(value)} for name, value in ordered]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentEnsemble(GraphComponent):
    """Logistic regression over the sparse features, averaged with DIET's intent ranking."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """`diet_weight`: DIET's share of the mean; `C` and `max_iter`: the regression's."""
        return {"diet_weight": 0.5, "C": 1.0, "max_iter": 200, "ranking_length": LABEL_RANKING_LENGTH}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: np.ndarray | None = None,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classes = classes
        self.coef = coef
        self.intercept = intercept
        self._by_feature: np.ndarray | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentEnsemble:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the regression on every example with a text and an intent, and saves it."""
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        labels = sorted({m.get(INTENT) for m in examples})
        if len(labels) < 2:
            logger.debug("LinearIntentEnsemble: fewer than two intents, nothing to learn")
            return self._resource
        regression = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], class_weight="balanced", random_state=1
        )
        vectors = [(sentence_vector(m), m.get(INTENT)) for m in examples]
        usable = [(vector, intent) for vector, intent in vectors if vector is not None]
        regression.fit(scipy.sparse.vstack([v for v, _ in usable]), [intent for _, intent in usable])
        self.classes = np.array(regression.classes_, dtype=str)
        self.coef, self.intercept = regression.coef_, regression.intercept_
        self._by_feature = None
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, classes=self.classes, coef=self.coef, intercept=self.intercept)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentEnsemble:
        """The trained weights; without any (nothing was trained) DIET's ranking is kept."""
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as weights:
                    return cls(config, model_storage, resource,
                               weights["classes"], weights["coef"], weights["intercept"])
        except (ValueError, FileNotFoundError):
            return cls(config, model_storage, resource)

    def probabilities(self, message: Message) -> dict[str, float]:
        """The regression's distribution over intents; empty when it cannot judge."""
        vector = sentence_vector(message)
        if self.classes is None or self.coef is None or self.intercept is None or vector is None:
            return {}
        if vector.shape[1] != self.coef.shape[1]:
            return {}
        # Only the message's few non-zero features count: their rows of the weights, summed
        # (a sparse-by-dense product costs a copy of the whole weight matrix per message).
        by_feature = self._weights_by_feature()
        scores = vector.data @ by_feature[vector.indices] + self.intercept
        row = softmax(scores[np.newaxis, :])[0]
        return dict(zip(self.classes.tolist(), row.tolist(), strict=True))

    def _weights_by_feature(self) -> np.ndarray:
        """The weights as one row per feature (made once; `coef` has one row per intent)."""
        if self._by_feature is None:
            assert self.coef is not None
            self._by_feature = np.ascontiguousarray(self.coef.T)
        return self._by_feature

    def process(self, messages: list[Message]) -> list[Message]:
        """Replaces each message's intent and ranking by the mean of DIET's and its own."""
        for message in messages:
            linear = self.probabilities(message)
            if not linear:
                continue
            diet = {
                r[INTENT_NAME_KEY]: r[PREDICTED_CONFIDENCE_KEY]
                for r in message.get(INTENT_RANKING_KEY) or []
            }
            weight = self.config["diet_weight"] if diet else 0.0
            ranking = combine_rankings(diet, linear, weight, self.config["ranking_length"])
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
